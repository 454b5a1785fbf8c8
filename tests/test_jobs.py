import pytest

from digitcnn.errors import SettingsError
from digitcnn.jobs import CANCELLED, FAILED, FINISHED, JobBoard
from digitcnn.training import TrainingConfig

QUICK = TrainingConfig(architecture="article", epochs=1, batch_size=64, train_limit=200)


def test_a_job_trains_in_the_background_and_reports_its_progress(small_dataset):
    board = JobBoard()
    job = board.start("quick", small_dataset, QUICK)
    assert board.get("quick") is job
    assert job.wait(120)
    snapshot = job.snapshot()
    assert snapshot.status == FINISHED and snapshot.done and snapshot.error is None
    assert snapshot.result.test_evaluation.confusion_matrix.sum() == 198
    assert len(snapshot.epochs) == 1 and snapshot.batches[-1].batch == 4  # ceil(200 / 64)
    assert board.running() == []
    board.forget("quick")
    assert board.get("quick") is None


def test_one_job_per_name_at_a_time_but_many_names_at_once(small_dataset):
    board = JobBoard()
    long_run = TrainingConfig(architecture="article", epochs=100, batch_size=16)
    first = board.start("busy", small_dataset, long_run)
    other = board.start("other", small_dataset, QUICK)
    try:
        with pytest.raises(SettingsError, match="already training"):
            board.start("busy", small_dataset, QUICK)
        board.forget("busy")  # a running job is never forgotten
        assert board.get("busy") is first
    finally:
        first.cancel()
    assert first.wait(60) and other.wait(120)
    assert first.snapshot().status == CANCELLED and other.snapshot().status == FINISHED
    again = board.start("busy", small_dataset, QUICK)  # the name is free once its job ended
    assert again.wait(120) and again.snapshot().status == FINISHED


def test_bad_names_are_refused_before_any_thread_starts(small_dataset):
    with pytest.raises(SettingsError):
        JobBoard().start("../escape", small_dataset, QUICK)


def test_a_failure_is_reported_not_raised(small_dataset):
    board = JobBoard()
    no_own_test_set = TrainingConfig(architecture="article", epochs=1, test_set="own")
    job = board.start("failing", small_dataset, no_own_test_set)
    assert job.wait(60)
    snapshot = job.snapshot()
    assert snapshot.status == FAILED and "no test set of its own" in snapshot.error and snapshot.result is None
