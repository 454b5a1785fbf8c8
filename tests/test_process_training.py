"""Trainings in worker processes: live progress, the model back whole, a cancel, a worker killed mid-run, an
error raised in the worker, and Keras's clear_session() in this process (as Streamlit calls it after every
run of a page) leaving a training alone."""

import contextlib
import functools
import os
import signal
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest

from digitcnn.jobs import process_training
from digitcnn.errors import DataError, TrainingCancelled, TrainingFailed
from digitcnn.networks.architectures import ModelArchive
from digitcnn.jobs.process_training import ProcessTrainer
from digitcnn.training import HANDING_OVER, PREPARING, STEPS_AFTER_LEARNING, TrainingConfig, evaluate_model

LONG_RUN = TrainingConfig(architecture="article", epochs=50, train_limit=2000, validate_each_epoch=False)
SHORT_RUN = TrainingConfig(architecture="compact", epochs=2, train_limit=400, augment=False, non_digit_share=0.0,
                           test_fraction=0.1)


@pytest.fixture(scope="module")
def trainer():
    trainer = ProcessTrainer(1)
    assert trainer.prestart(wait=120)  # TensorFlow imported in the worker before any work is sent
    yield trainer
    trainer.close()


def worker_process_id(dataset, config, on_progress, cancel):
    """Work that tells which process ran it."""
    return os.getpid()


def quiet(dataset, config, on_progress, cancel):
    """Work that says nothing for five seconds (as a long evaluation does)."""
    time.sleep(5)
    return "done"


def refuse(dataset, config, on_progress, cancel):
    raise DataError("digits.csv, line 3: not a digit")


@pytest.mark.timeout(240)
def test_a_model_trains_in_a_worker_with_live_progress_and_comes_back_whole_as_its_file(trainer, embedded):
    caller = threading.current_thread()
    events = []

    def on_progress(progress):
        assert threading.current_thread() is caller
        events.append(progress)

    result = trainer(embedded, SHORT_RUN, on_progress=on_progress)

    stages = [event.stage for event in events]
    assert stages[0] == "step" and stages.count("epoch") == 2
    assert 1 <= stages.count("batch") <= 2 * events[-1].batches  # thinned in the worker, never invented
    # Every step is relayed, none thinned: the one before the first batch, those after the last, the handing over.
    assert [event.step for event in events if event.stage == "step"] == [
        PREPARING, *STEPS_AFTER_LEARNING, HANDING_OVER]
    fractions = [event.fraction_done for event in events]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0
    # The model crossed the pipe as its .keras file's bytes, calibration included, and was not read here (this
    # process, an app's server, need not import Keras for it); read, it scores exactly as it scored in the worker.
    assert isinstance(result.model, ModelArchive)
    model = result.model.load()
    assert model.count_params() == result.model.count_params()
    np.testing.assert_allclose(evaluate_model(model, result.split.test).probabilities,
                               result.test_evaluation.probabilities, atol=1e-5)
    assert len(result.split.train) == 400 and result.test_evaluation.accuracy > 0.5


@pytest.mark.timeout(120)
def test_work_runs_in_another_process_which_stays_for_the_next(trainer, small_dataset):
    first = trainer.run(worker_process_id, small_dataset, None)
    assert first != os.getpid()
    assert trainer.run(worker_process_id, small_dataset, None) == first  # warm: TensorFlow imported once


class _FirstMessageLate:
    """A caller's end of a worker's socket that sends its first message ``seconds`` late."""

    def __init__(self, connection, seconds: float):
        self._connection, self._seconds = connection, seconds

    def send(self, message) -> None:
        time.sleep(self._seconds)
        self._seconds = 0.0
        self._connection.send(message)

    def __getattr__(self, name):
        return getattr(self._connection, name)


def search_path(dataset, config, on_progress, cancel):
    """Work that tells where its process finds modules."""
    return list(sys.path)


@pytest.mark.timeout(120)
def test_a_worker_finds_what_its_caller_finds_and_keeps_what_its_imports_add_to_the_path(tmp_path, monkeypatch):
    """``import ray`` puts Ray's own psutil first on the path. Once, a worker driving trainings on Ray took its
    caller's path after that import and lost it: Ray's next import of psutil failed, and a training with it."""
    (tmp_path / "adds_to_the_path.py").write_text("import sys\nsys.path.insert(0, '/added-by-an-import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    start = process_training.processes.start

    def start_then_send_the_path_late(*arguments):  # as on a busy machine: the import may well run first
        process, connection = start(*arguments)
        return process, _FirstMessageLate(connection, seconds=3.0)

    monkeypatch.setattr(process_training.processes, "start", start_then_send_the_path_late)
    trainer = ProcessTrainer(1, imports=("adds_to_the_path",))
    try:
        path = trainer.run(search_path, None, None)
    finally:
        trainer.close()
    assert path[0] == "/added-by-an-import"
    assert str(tmp_path) in path  # the caller's, which the worker was not started with


SLOW_TO_IMPORT = """
import time
time.sleep(1.5)  # as TensorFlow's import takes seconds
finished = True
"""
SENT_AT_ONCE = """
import sys
# Imported as its work is read: whether the worker's own imports were still under way then.
IMPORTED_DURING_THE_WORKERS_IMPORTS = not getattr(sys.modules.get("slow_to_import"), "finished", False)


def work(dataset, config, on_progress, cancel):
    return IMPORTED_DURING_THE_WORKERS_IMPORTS
"""


@pytest.mark.timeout(120)
def test_work_sent_to_a_worker_still_importing_is_read_once_its_imports_are_done(tmp_path, monkeypatch):
    """Reading a task imports the modules its work comes from. A training sent to a worker still importing
    TensorFlow was once read beside those imports, and failed: "the training process could not read the work it was
    sent: RuntimeError: dictionary changed size during iteration" (CI, test_sessions)."""
    (tmp_path / "slow_to_import.py").write_text(SLOW_TO_IMPORT)
    (tmp_path / "sent_at_once.py").write_text(SENT_AT_ONCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import sent_at_once

    trainer = ProcessTrainer(1, imports=("slow_to_import",))
    try:
        assert trainer.run(sent_at_once.work, None, None) is False  # sent as the worker started: read after
    finally:
        trainer.close()


@pytest.mark.timeout(120)
def test_an_error_raised_in_the_worker_comes_back_as_itself(trainer, small_dataset):
    with pytest.raises(DataError, match="line 3: not a digit"):
        trainer.run(refuse, small_dataset, None)
    with pytest.raises(DataError, match="has no test set of its own"):
        trainer(small_dataset, TrainingConfig(architecture="article", epochs=1, test_set="own"))


@pytest.mark.timeout(120)
def test_work_the_worker_cannot_import_fails_plainly_and_the_worker_serves_on(trainer, small_dataset, monkeypatch):
    """Work defined where the worker cannot find it (here, a module that exists only in this process; in a
    script, its ``__main__``) fails the run with a message instead of hanging it."""
    only_here = types.ModuleType("only_here")
    exec("def work(dataset, config, on_progress, cancel):\n    return 1", only_here.__dict__)
    monkeypatch.setitem(sys.modules, "only_here", only_here)
    with pytest.raises(TrainingFailed, match="could not read the work it was sent: ModuleNotFoundError"):
        trainer.run(only_here.work, small_dataset, None)
    assert trainer.run(worker_process_id, small_dataset, None) != os.getpid()


@pytest.mark.timeout(240)
def test_cancelling_stops_the_training_promptly_and_the_worker_serves_on(trainer, embedded, small_dataset,
                                                                         in_a_thread):
    training = in_a_thread(functools.partial(trainer, embedded, LONG_RUN))
    assert training.started.wait(120), "no progress from the worker"
    training.cancel.set()
    assert training.ended_within(20), "the training did not return within 20 s of the cancel"
    assert isinstance(training.outcome.get("error"), TrainingCancelled)
    assert trainer.run(worker_process_id, small_dataset, None) != os.getpid()


@pytest.mark.timeout(240)
def test_a_worker_killed_mid_run_fails_the_training_and_a_fresh_one_takes_the_next(trainer, embedded, small_dataset,
                                                                                     in_a_thread):
    killed = trainer.run(worker_process_id, small_dataset, None)  # the worker the next training gets
    training = in_a_thread(functools.partial(trainer, embedded, LONG_RUN))
    assert training.started.wait(120), "no progress from the worker"
    os.kill(killed, signal.SIGKILL)
    assert training.ended_within(30), "the training did not return within 30 s of losing its worker"
    error = training.outcome.get("error")
    assert isinstance(error, TrainingFailed) and "stopped unexpectedly" in str(error), error
    assert trainer.run(worker_process_id, small_dataset, None) not in (killed, os.getpid())


@pytest.mark.timeout(240)
def test_keras_clear_session_here_leaves_a_training_in_a_worker_alone(trainer, embedded):
    """What Streamlit does after every run of a page: while a model is built, traced and fitted in the worker,
    this process clears Keras's state again and again."""
    import keras

    done = threading.Event()

    def clear_again_and_again():
        while not done.is_set():
            keras.backend.clear_session(free_memory=False)
            time.sleep(0.01)

    clearing = threading.Thread(target=clear_again_and_again)
    clearing.start()
    try:
        result = trainer(embedded, SHORT_RUN)
    finally:
        done.set()
        clearing.join()
    assert result.test_evaluation.accuracy > 0.5
    names = [layer.name for layer in result.model.load().layers]
    assert len(names) == len(set(names))


@pytest.mark.timeout(240)
def test_a_stopped_worker_is_noticed_and_fails_the_training_and_a_quiet_one_is_not(trainer, embedded, small_dataset,
                                                                                   in_a_thread, monkeypatch):
    """Once, a worker stopped by SIGSTOP froze its training's progress bar for ever. A worker says it is alive every
    few seconds, busy or not: silent for the limit, it is ended and the training fails, saying so."""
    monkeypatch.setattr(process_training, "SILENCE_SECONDS", 4.0, raising=False)
    assert trainer.run(quiet, small_dataset, None) == "done"  # five seconds without progress, heartbeats only
    stopped = trainer.run(worker_process_id, small_dataset, None)  # the worker the next training gets
    training = in_a_thread(functools.partial(trainer, embedded, LONG_RUN))
    assert training.started.wait(120), "no progress from the worker"
    os.kill(stopped, signal.SIGSTOP)
    ended = training.ended_within(20)
    if not ended:
        os.kill(stopped, signal.SIGKILL)  # so that the training ends, and the test run with it
    assert ended, "the training did not return within 20 s of its worker's stopping"
    error = training.outcome.get("error")
    assert isinstance(error, TrainingFailed) and "has not answered for 4 s" in str(error), error
    assert trainer.run(worker_process_id, small_dataset, None) not in (stopped, os.getpid())


WORKER_SIDE = '''
import os, time

def wait_a_moment():
    """A worker's import that takes a while (TensorFlow's, for a training worker)."""
    open("worker.pid", "w").write(str(os.getpid()))
    time.sleep(2)

def chatter(dataset, config, on_progress, cancel):
    """Work that sends progress until it is cancelled."""
    open("worker.pid", "w").write(str(os.getpid()))
    while not cancel.is_set():
        on_progress(os.getpid())
        time.sleep(0.05)
'''
CALLER = '''
import os, sys, threading, time
from digitcnn.jobs.process_training import ProcessTrainer
import worker_side

if sys.argv[1] == "importing":
    trainer = ProcessTrainer(1, imports=("worker_side:wait_a_moment",))
    trainer.prestart()
    deadline = time.monotonic() + 60
    while not os.path.exists("worker.pid") and time.monotonic() < deadline:  # the worker is importing
        time.sleep(0.01)
else:
    heard = threading.Event()
    trainer = ProcessTrainer(1, imports=())
    threading.Thread(target=trainer.run, args=(worker_side.chatter, None, None),
                     kwargs=dict(on_progress=lambda _: heard.set()), daemon=True).start()
    heard.wait(60)
os._exit(0)  # gone at once, as a server killed or a test process ending without closing its trainers
'''


@pytest.mark.timeout(120)
@pytest.mark.parametrize("when", ["importing", "running"])
def test_a_worker_whose_caller_has_gone_ends_quietly(tmp_path, when):
    """Under AppTest, a worker whose caller had gone printed a BrokenPipeError's traceback (or two, one logged):
    it ends, saying nothing, whether it was still importing or running a task (nor does it warn, as it started, of
    its module imported twice)."""
    (tmp_path / "worker_side.py").write_text(WORKER_SIDE)
    (tmp_path / "caller.py").write_text(CALLER)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([root, str(tmp_path)])}
    caller = subprocess.Popen([sys.executable, "caller.py", when], cwd=tmp_path, env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, errors = caller.communicate(timeout=60)  # the worker shares the caller's streams: both have closed them
    finally:
        caller.kill()
        if (tmp_path / "worker.pid").exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int((tmp_path / "worker.pid").read_text()), signal.SIGKILL)
    assert (tmp_path / "worker.pid").exists()  # the worker had started its import or its task
    assert errors == ""
