"""Training on Ray through a real local cluster, started as `ray start --head` starts one: live progress, the
model back, cancelling (while training, and while connecting), a worker killed mid-run, an error raised in the
worker, a `ray://` address, and the whole cluster lost mid-run. The test process never connects to Ray itself:
trainings are driven from processes of their own (digitcnn.jobs.ray_training.RayTrainer), as the app drives them.
Skipped where Ray is not installed."""

import functools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from digitcnn import config  # noqa: E402
from digitcnn.jobs import ray_training
from digitcnn.storage import registry
from digitcnn.errors import DataError, DigitCNNError, SettingsError, TrainingCancelled  # noqa: E402
from digitcnn.networks.architectures import ModelArchive  # noqa: E402
from digitcnn.training import (HANDING_OVER, PREPARING, STEPS_AFTER_LEARNING, TrainingConfig,  # noqa: E402
                               evaluate_model)
from ray_cluster import LocalCluster, free_ports, wait_until  # noqa: E402

LONG_RUN = TrainingConfig(architecture="article", epochs=50, train_limit=2000, validate_each_epoch=False)
SHORT_RUN = TrainingConfig(architecture="compact", epochs=2, train_limit=400, augment=False, non_digit_share=0.0,
                           test_fraction=0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("ray"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def trainer(cluster):
    """Trains on the cluster as the app does, from a process of its own (kept from one test to the next)."""
    trainer = ray_training.RayTrainer(1, cluster.address)
    yield trainer
    trainer.close()


def test_without_ray_installed_the_setting_is_refused_plainly(monkeypatch, small_dataset):
    monkeypatch.setenv(ray_training.RAY_ADDRESS_VARIABLE, "auto")
    assert ray_training.ray_address() == "auto"
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where Ray is not installed
    with pytest.raises(SettingsError, match=r"DIGITCNN_RAY_ADDRESS is set but Ray is not installed: "
                                            r"pip install -r requirements-ray\.txt"):
        ray_training.train_on_ray(small_dataset, TrainingConfig(architecture="article", epochs=1))
    with pytest.raises(SettingsError, match="Ray is not installed"):  # the app's way: said before any process starts
        ray_training.RayTrainer(1)(small_dataset, TrainingConfig(architecture="article", epochs=1))
    monkeypatch.setenv(ray_training.RAY_ADDRESS_VARIABLE, "")
    assert ray_training.ray_address() is None


@pytest.mark.timeout(240)
def test_a_model_trains_on_ray_with_live_progress_and_comes_back_whole(trainer, embedded, tmp_path):
    caller = threading.current_thread()
    events = []

    def on_progress(progress):
        assert threading.current_thread() is caller
        events.append(progress)

    result = trainer(embedded, SHORT_RUN, on_progress=on_progress)

    stages = [event.stage for event in events]
    assert stages[0] == "step" and stages[-1] == "step" and stages.count("epoch") == 2
    assert 1 <= stages.count("batch") <= 2 * events[-1].batches  # thinned in the worker, never invented
    assert [event.step for event in events if event.stage == "step"] == [
        PREPARING, *STEPS_AFTER_LEARNING, HANDING_OVER]  # every step relayed
    fractions = [event.fraction_done for event in events]
    assert fractions == sorted(fractions)  # in order
    assert [event.epoch for event in events if event.stage == "epoch"] == [1, 2]
    assert [event for event in events if event.stage == "epoch"][-1].validation_accuracy is not None

    # The model came back through Ray as its file's bytes, calibration included: read, it scores here exactly as it
    # scored in the worker.
    assert isinstance(result.model, ModelArchive) and result.temperature != 1.0
    model = result.model.load()
    np.testing.assert_allclose(evaluate_model(model, result.split.test).probabilities,
                               result.test_evaluation.probabilities, atol=1e-5)
    images = embedded.images[:5, ..., None] / 255.0
    predictions = model.predict(images, verbose=0)
    assert predictions.shape == (5, 10)
    assert len(result.split.train) == 400 and result.history["loss"][1] < result.history["loss"][0]
    assert result.test_evaluation.accuracy > 0.5  # two short epochs: far from perfect, far above chance

    registry.save_model(result.model, registry.ModelCard.from_training("ray-trained", result), tmp_path)
    loaded, card = registry.load_model("ray-trained", tmp_path)
    assert card.test_accuracy == result.test_evaluation.accuracy
    np.testing.assert_allclose(loaded.predict(images, verbose=0), predictions, atol=1e-5)


@pytest.mark.timeout(120)
def test_an_error_raised_in_the_worker_comes_back_as_itself(trainer, small_dataset):
    with pytest.raises(DataError, match="has no test set of its own"):
        trainer(small_dataset, TrainingConfig(architecture="article", epochs=1, test_set="own"))


@pytest.mark.timeout(180)
def test_cancelling_stops_the_ray_task_promptly(cluster, trainer, embedded, in_a_thread):
    training = in_a_thread(functools.partial(trainer, embedded, LONG_RUN))
    assert training.started.wait(120), "no progress from the Ray worker"

    training.cancel.set()
    assert training.ended_within(20), "the training did not return within 20 s of the cancel"
    assert isinstance(training.outcome.get("error"), TrainingCancelled)
    assert wait_until(lambda: not cluster.training_workers(), 10), "the Ray worker went on training"


@pytest.mark.timeout(120)
def test_cancelling_while_connecting_ends_the_training_as_cancelled_at_once(monkeypatch, small_dataset):
    """Once, a cancel while Ray connected was ignored for the connection's whole minute, then reported as a failure."""
    from digitcnn.jobs.board import CANCELLED, JobBoard

    (nobody,) = free_ports(1)  # no cluster answers there: connecting goes on and on
    monkeypatch.setenv(ray_training.RAY_ADDRESS_VARIABLE, f"127.0.0.1:{nobody}")
    board = JobBoard(1)
    try:
        job = board.start("alice", "connecting", small_dataset, TrainingConfig(architecture="article", epochs=1))
        time.sleep(8)  # the driving process has imported Ray and is connecting
        assert not job.snapshot().done
        cancelled = time.monotonic()
        job.cancel()
        assert job.wait(30)
        assert job.snapshot().status == CANCELLED, job.snapshot().error
        assert time.monotonic() - cancelled < 5
    finally:
        board.close(10)


@pytest.mark.timeout(180)
def test_a_worker_killed_mid_run_fails_the_training_and_never_hangs(cluster, trainer, embedded, in_a_thread):
    training = in_a_thread(functools.partial(trainer, embedded, LONG_RUN))
    assert training.started.wait(120), "no progress from the Ray worker"

    (worker,) = cluster.training_workers()
    os.kill(worker, signal.SIGKILL)
    assert training.ended_within(60), "the training did not return within 60 s of losing its worker"
    error = training.outcome.get("error")
    assert isinstance(error, DigitCNNError), error
    assert str(error).startswith("the Ray worker training this model was lost: ")


@pytest.mark.timeout(240)
def test_with_the_setting_the_job_board_trains_on_ray_not_in_this_process(cluster, monkeypatch, small_dataset):
    from digitcnn import training
    from digitcnn.jobs.board import FINISHED, JobBoard

    def no_training_here(*args, **kwargs):
        raise AssertionError("the app's process trained a model")

    monkeypatch.setattr(training, "train", no_training_here)  # the workers import their own copy
    monkeypatch.setenv(ray_training.RAY_ADDRESS_VARIABLE, cluster.address)
    board = JobBoard()
    try:
        job = board.start("alice", "on-ray", small_dataset, TrainingConfig(architecture="article", epochs=1))
        assert job.wait(180)
    finally:
        board.close()
    snapshot = job.snapshot()
    assert snapshot.status == FINISHED, snapshot.error
    assert snapshot.epochs and snapshot.result.test_evaluation.confusion_matrix.sum() == 198


@pytest.mark.timeout(240)
def test_a_ray_client_address_trains_and_brings_the_model_back(cluster, monkeypatch, embedded):
    """A `ray://` address used to fail every training: Ray's client server could not unpickle the Keras model."""
    from digitcnn.jobs.board import FINISHED, JobBoard

    monkeypatch.setenv(ray_training.RAY_ADDRESS_VARIABLE, cluster.client_address)
    board = JobBoard(1)
    try:
        job = board.start("alice", "by-client", embedded, SHORT_RUN)
        assert job.wait(200)
    finally:
        board.close()
    assert job.snapshot().status == FINISHED, job.snapshot().error
    result = job.snapshot().result
    np.testing.assert_allclose(evaluate_model(result.model.load(), result.split.test).probabilities,
                               result.test_evaluation.probabilities, atol=1e-5)


@pytest.mark.timeout(180)
def test_a_cluster_that_refuses_this_process_says_why_in_the_message(tmp_path_factory, monkeypatch, small_dataset):
    """Once, a cluster wanting a token failed the training with "Failed to connect", the reason only in the log."""
    from digitcnn.jobs.board import FAILED, JobBoard

    guarded = LocalCluster(tmp_path_factory.mktemp("ray"), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=uuid.uuid4().hex)
    guarded.start()
    try:
        for variable in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv(ray_training.RAY_ADDRESS_VARIABLE, guarded.address)
        board = JobBoard(1)
        try:
            job = board.start("alice", "refused", small_dataset, TrainingConfig(architecture="article", epochs=1))
            assert job.wait(120)
        finally:
            board.close(10)
    finally:
        guarded.stop()
    assert job.snapshot().status == FAILED
    assert "Authentication token is missing or incorrect" in job.snapshot().error, job.snapshot().error


_LOSE_THE_CLUSTER = """
import sys
from digitcnn.data import load_embedded
from digitcnn.jobs.board import JobBoard
from digitcnn.training import TrainingConfig

board, dataset = JobBoard(1), load_embedded()
job = board.start("alice", "lost", dataset, TrainingConfig(architecture="article", epochs=50, train_limit=2000))
while job.snapshot().progress is None and not job.wait(0.1):
    pass
print("training", flush=True)
job.wait()
print("first:", job.snapshot().status, job.snapshot().error, flush=True)
sys.stdin.readline()  # the cluster is back
job = board.start("alice", "after", dataset, TrainingConfig(architecture="compact", epochs=1, train_limit=300))
job.wait()
print("second:", job.snapshot().status, job.snapshot().error, flush=True)
board.close()
"""


@pytest.mark.timeout(300)
def test_a_cluster_lost_mid_training_fails_that_training_and_never_the_process_that_asked(cluster, tmp_path):
    """Once, the training after a lost cluster made Ray end the app's server ("The connection to the plasma store
    is failed. Terminate the process"): every user lost the app. Here the cluster is killed mid-training; the
    asking process must report it, live on, and train again once the cluster is back. Last in the module: it
    restarts the cluster."""
    environment = {**os.environ, ray_training.RAY_ADDRESS_VARIABLE: cluster.address, "TF_CPP_MIN_LOG_LEVEL": "2",
                   "PYTHONPATH": str(config.PROJECT_ROOT)}
    log = tmp_path / "asking.log"
    with log.open("w") as errors:
        asking = subprocess.Popen([sys.executable, "-c", _LOSE_THE_CLUSTER], cwd=config.PROJECT_ROOT, env=environment,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        assert asking.stdout.readline() == "training\n", log.read_text()[-3000:]
        cluster.stop()
        first = asking.stdout.readline()
        assert first.startswith("first: failed "), (first, log.read_text()[-3000:])
        assert "Ray cluster" in first or "Ray worker" in first, first
        cluster.start()
        second = asking.communicate("go\n", timeout=200)[0]
    finally:
        if asking.poll() is None:
            asking.kill()
    assert asking.returncode == 0, log.read_text()[-3000:]
    assert second == "second: finished None\n", (second, log.read_text()[-3000:])
