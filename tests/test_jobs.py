import dataclasses
import gc
import os
import subprocess
import sys
import time
import weakref

import pytest

from digitcnn import config, training
from digitcnn.jobs import ray_training
from digitcnn.errors import SettingsError
from digitcnn.jobs.board import (CANCELLED, FAILED, FINISHED, IMPORTING, LEARNING, RUNNING, SHOWING, STARTING, TRAINING,
                                 WAITING, WAITING_IN_LINE, JobBoard)
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
    assert len(snapshot.epochs) == 1 and snapshot.batches[-1].batch == 3  # ceil(180 / 64): 20 held out to validate
    assert board.running() == []  # the board lets go of ended jobs: their owners keep them


def test_a_jobs_time_runs_from_its_start_to_its_results_shown_stage_by_stage(small_dataset):
    board = JobBoard()
    job = board.start("alice", "timed", small_dataset, QUICK)
    job.results_shown()  # not yet: it has not ended
    assert job.wait(120)
    time.sleep(0.1)  # the page shows the results a moment after the end
    job.results_shown()
    job.results_shown()  # a later rerun of the page changes nothing
    snapshot = job.snapshot()
    stages = [name for name, _ in snapshot.stages]  # every stage, however short (a fast machine scores in no time)
    first = stages.index(training.PREPARING)
    assert set(stages[:first]) <= {WAITING_IN_LINE, STARTING} and stages[first + 1] == LEARNING
    assert stages[-len(training.STEPS_AFTER_LEARNING):] == list(training.STEPS_AFTER_LEARNING)
    assert snapshot.stage_seconds()[-1][0] == SHOWING  # at least the 0.1 s slept: shown
    assert snapshot.seconds == pytest.approx(snapshot.shown - snapshot.started)
    assert snapshot.shown - snapshot.ended >= 0.1
    # Every moment from the start to the results shown is in one stage (those under 0.05 s left out).
    assert sum(seconds for _, seconds in snapshot.stage_seconds()) == pytest.approx(snapshot.seconds, abs=0.5)
    described = snapshot.describe_time()
    assert described.startswith(f"{snapshot.seconds:.1f} s from the click to the results: ")
    assert "learning " in described and "showing the results " in described


def test_two_users_may_train_models_of_the_same_name_without_touching_each_others(small_dataset):
    """The name matters only when a model is saved: each user's job is theirs alone."""
    board = JobBoard(max_running=2)
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


def test_the_refusal_names_what_the_users_job_is_doing(small_dataset):
    """Once, a user importing a model who pressed Train in a second tab was told "you are already training"."""
    import threading

    release = threading.Event()

    def import_a_file(dataset, config, on_progress, cancel):
        release.wait(60)
        return "imported"

    board = JobBoard()
    job = board.start("alice", "my-import", small_dataset, None, work=import_a_file, activity=IMPORTING)
    try:
        assert job.snapshot().status == RUNNING and job.activity == IMPORTING
        with pytest.raises(SettingsError, match="you are already importing 'my-import': wait for it or cancel it"):
            board.start("alice", "another", small_dataset, QUICK)
    finally:
        release.set()
    assert job.wait(60) and job.snapshot().result == "imported"
    assert board.start("alice", "another", small_dataset, QUICK).activity == TRAINING  # a job trains by default


def test_bad_names_are_refused_before_any_thread_starts(small_dataset):
    board = JobBoard()
    with pytest.raises(SettingsError):
        board.start("alice", "../escape", small_dataset, QUICK)
    assert board.running() == []


def _line_of_three(dataset, second: TrainingConfig, third: TrainingConfig):
    """A board training one job at a time, a long one running and two more started behind it."""
    board = JobBoard(max_running=1)
    jobs = [board.start(owner, name, dataset, settings)
            for owner, name, settings in (("alice", "first", LONG), ("bob", "second", second), ("carol", "third", third))]
    return board, *jobs


def test_jobs_beyond_the_limit_wait_their_turn_first_come_and_know_their_place(small_dataset):
    board, first, second, third = _line_of_three(small_dataset, QUICK, QUICK)
    try:
        assert [job.snapshot().status for job in (first, second, third)] == [RUNNING, WAITING, WAITING]
        assert (second.snapshot().place, third.snapshot().place) == (1, 2)
        assert first.snapshot().place is None and not second.snapshot().done
        assert board.running() == [first] and board.waiting() == [second, third]
        with pytest.raises(SettingsError, match="already training 'second'"):  # a waiting job counts as one
            board.start("bob", "another", small_dataset, QUICK)
    finally:
        first.cancel()
    assert second.wait(120) and third.wait(120)  # each started when the one before it ended
    assert [job.snapshot().status for job in (first, second, third)] == [CANCELLED, FINISHED, FINISHED]
    assert second.snapshot().result.test_evaluation.accuracy > 0.3 and third.snapshot().result is not None
    assert board.running() == [] and board.waiting() == []


def test_a_waiting_job_can_leave_the_queue_and_those_behind_move_up(small_dataset):
    board, first, leaving, staying = _line_of_three(small_dataset, QUICK, LONG)
    try:
        leaving.cancel()
        assert leaving.wait(0) and leaving.snapshot().status == CANCELLED  # at once: it never trained
        assert leaving.snapshot().progress is None
        assert staying.snapshot().place == 1 and board.waiting() == [staying]
        first.cancel()
        assert first.wait(60) and first.snapshot().status == CANCELLED
        assert staying.snapshot().status in (RUNNING, CANCELLED) and staying.snapshot().place is None
    finally:
        assert board.stop_all(60)
    assert staying.snapshot().status == CANCELLED


def test_a_released_job_lets_go_of_its_model_and_if_dismissed_of_its_scores(small_dataset):
    board = JobBoard()
    job = board.start("alice", "quick", small_dataset, QUICK)
    assert job.wait(120)
    model = weakref.ref(job.snapshot().result.model)
    job.release(keep_scores=True)  # saved: the page still shows the scores
    gc.collect()
    assert model() is None
    kept = job.snapshot()
    assert kept.result.model is None and kept.result.test_evaluation.accuracy > 0 and kept.epochs
    scores = weakref.ref(kept.result.test_evaluation)
    del kept
    job.release()  # dismissed
    gc.collect()
    assert scores() is None and job.snapshot().result is None and job.snapshot().batches == []
    assert job.snapshot().status == FINISHED and job.snapshot().source == small_dataset.source


def test_a_running_job_cannot_be_released(small_dataset):
    board = JobBoard()
    job = board.start("alice", "long", small_dataset, LONG)
    try:
        with pytest.raises(SettingsError, match="still (waiting|running)"):
            job.release()
    finally:
        job.cancel()
    assert job.wait(60)


def test_the_jobs_of_owners_gone_longer_than_the_grace_are_cancelled(small_dataset):
    board = JobBoard(max_running=1)
    staying = board.start("alice", "staying", small_dataset, LONG)
    leaving = board.start("bob", "leaving", small_dataset, LONG)  # waiting
    present = {"alice", "bob"}
    try:
        assert board.cancel_absent(present.__contains__, grace=0.2) == []
        present.discard("bob")  # Bob's tab closed
        assert board.cancel_absent(present.__contains__, grace=0.2) == []  # a dropped connection may come back
        present.discard("alice")
        time.sleep(0.3)
        present.add("alice")  # …as Alice's did
        assert board.cancel_absent(present.__contains__, grace=0.2) == [leaving]
        assert leaving.snapshot().status == CANCELLED and staying.snapshot().status == RUNNING
    finally:
        assert board.stop_all(60)


def test_an_owner_finds_their_latest_job_until_they_dismiss_it_or_are_gone(small_dataset):
    """What a reloaded page asks the board: the job of this browser, ended or not (once, a reload lost it)."""
    board = JobBoard()
    first = board.start("alice", "first", small_dataset, QUICK)
    assert board.latest("alice") is first and board.latest("bob") is None
    assert first.wait(120)
    assert board.latest("alice") is first  # ended, and still hers to see
    board.dismiss("alice", first)
    assert board.latest("alice") is None and first.snapshot().result is None
    second = board.start("alice", "second", small_dataset, QUICK)
    assert second.wait(120)
    assert board.cancel_absent(lambda owner: False, grace=0) == []  # nothing left to cancel…
    assert board.latest("alice") is second
    time.sleep(0.01)
    assert board.cancel_absent(lambda owner: False, grace=0) == []
    assert board.latest("alice") is None  # …but gone for longer than the grace, her result is forgotten


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
from digitcnn.jobs.board import JobBoard
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
    assert "Traceback" not in completed.stderr, completed.stderr[-2000:]  # the training stopped, it did not break


def test_the_apps_board_starts_one_worker_ahead_and_the_others_when_work_needs_them(monkeypatch, training_workers,
                                                                                     small_dataset):
    """Once every place's worker (a TensorFlow process of about 600 MB) started at the app's first visit: 4 GB idle
    for six places. One is started ahead, so that the first training finds TensorFlow imported."""
    from ui import training_jobs

    monkeypatch.setenv("DIGITCNN_MAX_TRAININGS", "3")
    monkeypatch.delenv(ray_training.RAY_ADDRESS_VARIABLE, raising=False)
    training_jobs.job_board.clear()
    board = training_jobs.job_board()
    try:
        assert len(training_workers()) == 1
        jobs = [board.start(owner, "quick", small_dataset, QUICK) for owner in ("alice", "bob")]
        assert all(job.wait(180) for job in jobs)
        assert [job.snapshot().status for job in jobs] == [FINISHED, FINISHED]
        assert len(training_workers()) == 2  # two trainings at once needed two; they stay for the next
    finally:
        training_jobs.job_board.clear()  # closes the board, and its workers
    assert training_workers() == []


def test_with_ray_the_apps_board_starts_no_training_worker(monkeypatch, training_workers):
    """Once a server set to train on Ray still started DIGITCNN_MAX_TRAININGS TensorFlow processes of its own."""
    from ui import training_jobs

    monkeypatch.setenv("DIGITCNN_MAX_TRAININGS", "3")
    monkeypatch.setenv(ray_training.RAY_ADDRESS_VARIABLE, "127.0.0.1:6379")
    training_jobs.job_board.clear()
    training_jobs.job_board()
    try:
        time.sleep(1)
        assert training_workers() == []
    finally:
        training_jobs.job_board.clear()


def test_a_jobs_progress_line_says_what_it_does_the_time_elapsed_and_about_how_long_is_left():
    from digitcnn.jobs.board import JobSnapshot
    from digitcnn.training import Progress

    now = time.time()
    snapshot = JobSnapshot("quick", RUNNING, QUICK, "embedded", None, [], [], None, None, started=now - 12, ended=now)
    assert snapshot.describe_progress() == "Starting… · 12 s elapsed"
    batch = Progress("batch", 2, 3, 5, 10, 0.5, 0.8, elapsed=6.0, fraction_done=0.5)
    assert (dataclasses.replace(snapshot, progress=batch).describe_progress()
            == "Epoch 2/3 · batch 5/10 · 12 s elapsed · estimating the time left")
    assert (dataclasses.replace(snapshot, progress=dataclasses.replace(batch, seconds_left=29.6)).describe_progress()
            == "Epoch 2/3 · batch 5/10 · 12 s elapsed · about 30 s left")
    # A step's estimate was made as it began: the seconds since then are taken off it (here 5 s, give or take a
    # slow machine's moment).
    step = Progress("step", 3, 3, 10, 10, 0.4, 0.9, elapsed=10.0, seconds_left=20.0, step="Scoring the test images",
                    step_number=2, steps=3)
    stepping = dataclasses.replace(snapshot, progress=step, stages=(("Scoring the test images", now - 5),))
    line = stepping.describe_progress()
    assert line.startswith("Scoring the test images (step 2 of 3 after the learning) · 12 s elapsed · about ")
    assert 13 <= int(line.split("about ")[1].split(" s left")[0]) <= 15
    before = dataclasses.replace(step, step_number=0, steps=0, step="Preparing the data")
    assert (dataclasses.replace(snapshot, progress=dataclasses.replace(before, seconds_left=None)).describe_progress()
            == "Preparing the data · 12 s elapsed · estimating the time left")
    assert dataclasses.replace(snapshot, progress=dataclasses.replace(before, seconds_left=0.2), stages=(
        ("Preparing the data", now),)).describe_progress().endswith("about 1 s left")  # never "0 s"
