"""Training as a Ray task on a local two-CPU Ray instance: live progress, the model back, cancelling,
a worker killed mid-run, an error raised in the worker. Skipped where Ray is not installed."""

import functools
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from digitcnn import ray_training, registry  # noqa: E402
from digitcnn.errors import DataError, DigitCNNError, SettingsError, TrainingCancelled  # noqa: E402
from digitcnn.training import TrainingConfig, evaluate_model  # noqa: E402

LONG_RUN = TrainingConfig(architecture="article", epochs=50, train_limit=2000, validate_each_epoch=False)


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance of two CPUs, started as the app starts one (so workers get the package shipped)."""
    ray_training.connect("local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_without_ray_installed_the_setting_is_refused_plainly(monkeypatch, small_dataset):
    monkeypatch.setenv(ray_training.RAY_ADDRESS_VARIABLE, "auto")
    assert ray_training.ray_address() == "auto"
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where Ray is not installed
    with pytest.raises(SettingsError, match=r"DIGITCNN_RAY_ADDRESS is set but Ray is not installed: "
                                            r"pip install -r requirements-ray\.txt"):
        ray_training.train_on_ray(small_dataset, TrainingConfig(architecture="article", epochs=1))
    monkeypatch.setenv(ray_training.RAY_ADDRESS_VARIABLE, "")
    assert ray_training.ray_address() is None


@pytest.mark.timeout(240)
def test_a_model_trains_on_ray_with_live_progress_and_comes_back_whole(cluster, embedded, tmp_path):
    caller = threading.current_thread()
    events = []

    def on_progress(progress):
        assert threading.current_thread() is caller
        events.append(progress)

    settings = TrainingConfig(architecture="compact", epochs=2, train_limit=400, augment=False, non_digit_share=0.0,
                              test_fraction=0.1)
    result = ray_training.train_on_ray(embedded, settings, on_progress=on_progress)

    stages = [event.stage for event in events]
    assert stages[0] == "batch" and stages[-1] == "epoch" and stages.count("epoch") == 2
    assert 1 <= stages.count("batch") <= 2 * events[0].batches  # thinned in the worker, never invented
    fractions = [event.fraction_done for event in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # in order, to the end
    assert [event.epoch for event in events if event.stage == "epoch"] == [1, 2]
    assert events[-1].test_accuracy is not None

    # The model survived Ray's pickling, the project's own layer and calibration included: it scores here
    # exactly as it scored in the worker.
    assert "FusedBatchNormalization" in {type(layer).__name__ for layer in result.model.layers}
    assert result.temperature != 1.0
    np.testing.assert_allclose(evaluate_model(result.model, result.split.test).probabilities,
                               result.test_evaluation.probabilities, atol=1e-5)
    images = embedded.images[:5, ..., None] / 255.0
    predictions = result.model.predict(images, verbose=0)
    assert predictions.shape == (5, 10)
    assert len(result.split.train) == 400 and result.history["loss"][1] < result.history["loss"][0]
    assert result.test_evaluation.accuracy > 0.5  # two short epochs: far from perfect, far above chance

    registry.save_model(result.model, registry.ModelCard.from_training("ray-trained", result), tmp_path)
    loaded, card = registry.load_model("ray-trained", tmp_path)
    assert card.test_accuracy == result.test_evaluation.accuracy
    np.testing.assert_allclose(loaded.predict(images, verbose=0), predictions, atol=1e-5)


@pytest.mark.timeout(120)
def test_an_error_raised_in_the_worker_comes_back_as_itself(cluster, small_dataset):
    with pytest.raises(DataError, match="has no test set of its own"):
        ray_training.train_on_ray(small_dataset, TrainingConfig(architecture="article", epochs=1, test_set="own"))


@pytest.mark.timeout(180)
def test_cancelling_stops_the_ray_task_promptly(cluster, embedded, in_a_thread):
    training = in_a_thread(functools.partial(ray_training.train_on_ray, embedded, LONG_RUN))
    assert training.started.wait(120), "no progress from the Ray worker"

    training.cancel.set()
    assert training.ended_within(20), "train_on_ray did not return within 20 s of the cancel"
    assert isinstance(training.outcome.get("error"), TrainingCancelled)
    assert _wait_until(lambda: not _training_workers(), 10), "the Ray worker went on training"


@pytest.mark.timeout(180)
def test_a_worker_killed_mid_run_fails_the_training_and_never_hangs(cluster, embedded, in_a_thread):
    training = in_a_thread(functools.partial(ray_training.train_on_ray, embedded, LONG_RUN))
    assert training.started.wait(120), "no progress from the Ray worker"

    (worker,) = _training_workers()
    os.kill(worker, signal.SIGKILL)
    assert training.ended_within(60), "train_on_ray did not return within 60 s of losing its worker"
    error = training.outcome.get("error")
    assert isinstance(error, DigitCNNError), error
    assert str(error).startswith("the Ray worker training this model was lost: ")


def _training_workers() -> list[int]:
    """The process ids of this test run's Ray workers that are training (Ray titles them after the task)."""
    title = f"ray::{ray_training.TASK_NAME}".encode()
    workers = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(title):
                if _descends_from(int(entry.name), os.getpid()):  # never another session's Ray
                    workers.append(int(entry.name))
        except OSError:  # the process ended while we looked
            continue
    return workers


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the parent's id, after the command's name
    return False


def _wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.timeout(240)
def test_with_the_setting_the_job_board_trains_on_ray_not_in_this_process(cluster, monkeypatch, small_dataset):
    from digitcnn import training
    from digitcnn.jobs import FINISHED, JobBoard

    def no_training_here(*args, **kwargs):
        raise AssertionError("the app's process trained a model")

    monkeypatch.setattr(training, "train", no_training_here)  # the workers import their own copy
    monkeypatch.setenv(ray_training.RAY_ADDRESS_VARIABLE, "auto")
    job = JobBoard().start("alice", "on-ray", small_dataset, TrainingConfig(architecture="article", epochs=1))
    assert job.wait(180)
    snapshot = job.snapshot()
    assert snapshot.status == FINISHED, snapshot.error
    assert snapshot.epochs and snapshot.result.test_evaluation.confusion_matrix.sum() == 198
