import os
import subprocess
import sys

import pytest

from digitcnn import config
from digitcnn.errors import SettingsError
from digitcnn.jobs import CANCELLED, FAILED, FINISHED, RUNNING, JobBoard
from digitcnn.training import TrainingConfig

QUICK = TrainingConfig(architecture="article", epochs=1, batch_size=64, train_limit=200, fit_to_run=False)
LONG = TrainingConfig(architecture="article", epochs=100, batch_size=16)


def test_a_job_trains_in_the_background_and_reports_its_progress(small_dataset):
    board = JobBoard()
    job = board.start("alice", "quick", small_dataset, QUICK)
    assert board.running() in ([job], [])
    assert job.wait(120)
    snapshot = job.snapshot()
    assert snapshot.status == FINISHED and snapshot.done and snapshot.error is None
    assert snapshot.result.test_evaluation.confusion_matrix.sum() == 198
    assert len(snapshot.epochs) == 1 and snapshot.batches[-1].batch == 4  # ceil(200 / 64)
    assert board.running() == []  # the board lets go of ended jobs: their owners keep them


def test_two_users_may_train_models_of_the_same_name_without_touching_each_others(small_dataset):
    """The name matters only when a model is saved: each user's job is theirs alone."""
    board = JobBoard()
    alices = board.start("alice", "my-model", small_dataset, LONG)
    bobs = board.start("bob", "my-model", small_dataset, QUICK)
    try:
        assert bobs.wait(120) and bobs.snapshot().status == FINISHED
        assert alices.snapshot().status == RUNNING  # Bob's run neither replaced nor ended Alice's
    finally:
        alices.cancel()
    assert alices.wait(60) and alices.snapshot().status == CANCELLED
    assert bobs.snapshot().status == FINISHED and bobs.snapshot().result is not None  # Alice's cancel was hers


def test_one_user_trains_one_model_at_a_time(small_dataset):
    board = JobBoard()
    first = board.start("alice", "busy", small_dataset, LONG)
    try:
        with pytest.raises(SettingsError, match="already training 'busy'"):
            board.start("alice", "another", small_dataset, QUICK)
    finally:
        first.cancel()
    assert first.wait(60)
    again = board.start("alice", "busy", small_dataset, QUICK)  # free once the first ended
    assert again.wait(120) and again.snapshot().status == FINISHED


def test_bad_names_are_refused_before_any_thread_starts(small_dataset):
    board = JobBoard()
    with pytest.raises(SettingsError):
        board.start("alice", "../escape", small_dataset, QUICK)
    assert board.running() == []


def test_a_failure_is_reported_not_raised(small_dataset):
    board = JobBoard()
    no_own_test_set = TrainingConfig(architecture="article", epochs=1, test_set="own")
    job = board.start("alice", "failing", small_dataset, no_own_test_set)
    assert job.wait(60)
    snapshot = job.snapshot()
    assert snapshot.status == FAILED and "no test set of its own" in snapshot.error and snapshot.result is None


_EXIT_WHILE_TRAINING = """
import sys, time
from digitcnn.data import load_embedded
from digitcnn.jobs import JobBoard
from digitcnn.training import TrainingConfig

job = JobBoard().start("alice", "exiting", load_embedded(), TrainingConfig(epochs=50))
while job.snapshot().progress is None:
    time.sleep(0.05)
time.sleep(1)
print("exiting mid-training", flush=True)
sys.exit(0)
"""


def test_a_process_that_exits_mid_training_stops_the_training_and_exits_cleanly():
    """Without the exit hook, TensorFlow's threads were torn down mid-operation ("terminate called…")."""
    completed = subprocess.run([sys.executable, "-c", _EXIT_WHILE_TRAINING], cwd=config.PROJECT_ROOT,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(config.PROJECT_ROOT)},
                               capture_output=True, text=True, timeout=240)
    assert "exiting mid-training" in completed.stdout
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "terminate called" not in completed.stderr and "FATAL" not in completed.stderr
