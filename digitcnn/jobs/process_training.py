"""Trainings in worker processes of their own: :class:`ProcessTrainer` runs a training (or any job's work,
such as a fine-tuning) in one of a few warm worker processes and relays its progress, its cancel and its
result, with the contract of :func:`digitcnn.training.train`.

Why not a thread of the server: Keras keeps its state in module globals (the names it gives layers, the
training flag of the layers being traced, its seed generator) that ``keras.backend.clear_session()``
replaces for every thread at once, and Streamlit calls that function after every run of a page (once a
second while a training's progress refreshes). A model built or traced in a server thread meanwhile gets
layers of the same name, or batch normalization traced in inference mode. A process of its own is out of
its reach; it also keeps one user's training from seeding another's random numbers, and a training that
crashes TensorFlow takes only its worker down.

The design:

- A worker is a new Python started as :mod:`digitcnn.processes` starts every process of the library (neither a
  fork nor multiprocessing's spawn, which imports the caller's ``__main__`` again) that imports TensorFlow once (or
  the ``imports`` it is made with), then runs the tasks it is sent one after another. Workers start
  when work needs them, up to ``count``, and stay for the next task; :meth:`ProcessTrainer.prestart` starts
  some ahead (importing TensorFlow takes seconds, a worker of about 600 MB once it has).
- The order in a worker: the caller's ``sys.path`` first (its first message), then the imports, and only then the
  caller's other messages, read on a thread of their own (reading a task imports its work's modules, which beside
  the imports failed: see :func:`_serve`). Tasks sent meanwhile wait in the socket.
- Tasks, results and progress events (batch ends thinned to a few a second, every epoch end and step) travel
  pickled over a socket between the two; a trained model crosses as a :class:`~digitcnn.networks.architectures.ModelArchive`
  (its ``.keras`` file's bytes: see :func:`digitcnn.training.train_to_send`), so the caller need not import Keras.
- A cancel is a message too, which the worker passes to its training, stopped after its batch; a worker
  that has not stopped within :data:`CANCEL_GRACE_SECONDS` is killed. A worker that dies mid-task, or sends
  nothing (not even its heartbeat, every :data:`HEARTBEAT_SECONDS`) for :data:`SILENCE_SECONDS` (stopped by a
  signal, say), fails the training with :class:`WorkerLost`. After any
  :class:`~digitcnn.errors.TrainingFailed` the worker is stopped (its state is unknown): the next training
  gets a fresh one. A worker whose caller has gone ends at once, quietly.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
import traceback
from typing import Callable

from digitcnn import processes
from digitcnn.errors import DigitCNNError, TrainingCancelled, TrainingFailed

_log = logging.getLogger(__name__)
POLL_SECONDS = 0.1  # how often the caller looks for a cancel and for a worker that died without a word
BATCH_EVENT_SECONDS = 0.25  # a worker sends at most one batch event per this long (epoch ends: every one)
CANCEL_GRACE_SECONDS = 10.0  # a cancelled worker gets this long to stop after its batch before it is killed
HEARTBEAT_SECONDS = 2.0  # a worker says it is alive this often while it imports or runs a task
SILENCE_SECONDS = 60.0  # a worker that sends nothing this long is taken for stopped (and killed)
# A worker runs at a lower priority than its caller (this is added to its nice value): a training keeps every core
# busy, and the caller, the app's server, must still answer its pages, the progress of that training included,
# within a moment. The training takes what the server leaves, nearly all of it.
WORKER_NICENESS = 5
TRAINING_IMPORTS = ("keras", "sklearn.linear_model", "tensorflow", "digitcnn.training")  # a training worker's


class WorkerLost(TrainingFailed):
    """The worker process running a task died or stopped answering."""


class ProcessTrainer:
    """Runs jobs' work in up to ``count`` worker processes (one job at a time each; the caller, such as a
    :class:`~digitcnn.jobs.JobBoard`, keeps to ``count`` at once), each of which imports the modules
    ``imports`` before its first task (by default TensorFlow and what a training needs; ``"module:function"``
    also calls that function, :func:`digitcnn.training.warm_up` say). Calling it trains:
    ``trainer(dataset, config, on_progress=…, cancel=…)`` is :func:`digitcnn.training.train` in a worker."""

    def __init__(self, count: int, imports: tuple[str, ...] = TRAINING_IMPORTS):
        self.count = count
        self.imports = imports
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def __call__(self, dataset, config, on_progress=None, cancel: threading.Event | None = None):
        from digitcnn.training import received, train_to_send

        return received(self.run(train_to_send, dataset, config, on_progress, cancel), dataset)

    def prestart(self, workers: int | None = None, wait: float = 0.0) -> bool:
        """Have ``workers`` (default: ``count``) idle workers now, so that as many trainings find TensorFlow
        imported; wait up to ``wait`` seconds for them to be ready, and say whether they are."""
        with self._lock:
            self._idle = [worker for worker in self._idle if worker.alive()]
            wanted = self.count if workers is None else min(workers, self.count)
            self._idle += [_Worker(self.imports) for _ in range(wanted - len(self._idle))]
            workers = list(self._idle)
        deadline = time.monotonic() + wait
        return all(worker.wait_ready(max(0.0, deadline - time.monotonic())) for worker in workers)

    def run(self, work: Callable, dataset, config, on_progress=None, cancel: threading.Event | None = None):
        """``work(dataset, config, on_progress=…, cancel=…)`` in a worker: ``work`` must be picklable (a
        module-level function, or a ``functools.partial`` of one). ``on_progress`` is called here, in this
        thread, in order. Raises :class:`TrainingCancelled` once ``cancel`` is set and the worker stopped,
        a :class:`~digitcnn.errors.DigitCNNError` that ``work`` raised as itself, and :class:`WorkerLost` for a
        worker lost on the way."""
        worker = self._take()
        try:
            kind, value = worker.run(work, dataset, config, on_progress, cancel)
        except BaseException:
            worker.stop()  # lost, or left midway: its state is unknown, a fresh worker takes the next task
            raise
        if kind == "error" and isinstance(value, TrainingFailed):
            worker.stop()  # something broke in there (a Ray driver that lost its cluster, say): start afresh
        else:
            self._give_back(worker)  # the work ended, well or not (a cancel included): the worker is ready for more
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        """Stop the idle workers (a worker running a task stops when that task ends)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
        return _Worker(self.imports)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive() and len(self._idle) < self.count:
                self._idle.append(worker)
                return
        worker.stop()


class _Worker:
    """One worker process (its life: :func:`_serve`, started as :mod:`digitcnn.processes` says) and its end of the
    socket."""

    def __init__(self, imports: tuple[str, ...]):
        self.process, self.connection = processes.start(__name__, "_serve", *imports)
        self.connection.send(("path", sys.path))  # first: the child finds what this process finds (work, digitcnn)
        self.tasks = 0
        self.ready = False  # whether it has said that TensorFlow is imported

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the worker has imported TensorFlow, at most ``timeout`` seconds; whether it has."""
        deadline = time.monotonic() + timeout
        while not self.ready and self.connection.poll(max(0.0, deadline - time.monotonic())):
            self.ready = self.connection.recv()[0] == "ready"  # else its heartbeat while it imports
        return self.ready

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, work, dataset, config, on_progress, cancel) -> tuple[str, object]:
        """("result", what ``work`` returned) or ("error", what it raised), relaying its progress meanwhile."""
        self.tasks += 1
        cancel_sent = None
        try:
            self.connection.send(("task", self.tasks, work, dataset, config))
            heard = time.monotonic()
            while True:
                if self.connection.poll(POLL_SECONDS):
                    kind, value = self.connection.recv()
                    heard = time.monotonic()
                    if kind == "ready":
                        self.ready = True
                    elif kind == "progress":
                        if on_progress is not None:
                            on_progress(value)
                    elif kind != "alive":
                        return kind, value
                elif not self.alive():
                    raise EOFError
                elif time.monotonic() - heard > SILENCE_SECONDS:
                    raise WorkerLost(f"the process training this model has not answered for {SILENCE_SECONDS:.0f} s "
                                     f"(stopped, or the machine is overloaded); it was ended: try again")
                if cancel is not None and cancel.is_set():
                    if cancel_sent is None:
                        self.connection.send(("cancel", self.tasks))
                        cancel_sent = time.monotonic()
                    elif time.monotonic() - cancel_sent > CANCEL_GRACE_SECONDS:
                        raise TrainingCancelled("training was cancelled; nothing was saved")
        except (EOFError, OSError):
            try:
                code = self.process.wait(1.0)
            except subprocess.TimeoutExpired:
                code = None
            raise WorkerLost(f"the process training this model stopped unexpectedly (exit code {code}); "
                             f"try again") from None

    def stop(self) -> None:
        self.connection.close()  # an idle worker waiting for a task ends at once
        self.process.kill()
        self.process.wait()


def _unreadable(error, config, on_progress, cancel):
    """The work of a task the worker could not read: it fails, saying why."""
    raise TrainingFailed(f"the training process could not read the work it was sent: {type(error).__name__}: "
                         f"{error}")


def _serve(connection: processes.Parent, *imports: str) -> None:
    """A worker's life: import ``imports``, read the caller's messages on one thread, say it is alive on
    another, run tasks on this one, until the caller has gone (then it ends at once: see
    :class:`~digitcnn.processes.Parent`)."""
    os.nice(WORKER_NICENESS)
    # The caller's path first, before any import: an import may add to the path (``import ray`` puts its own psutil
    # first on it), and the caller's path set after it took that away; once, Ray's next import of psutil failed,
    # and with it a training on Ray.
    sys.path[:] = connection.recv()[1]
    tasks: queue.Queue = queue.Queue()
    current = {"task": None, "cancel": threading.Event()}  # the task running, and its cancel

    def read() -> None:
        while True:
            try:
                message = connection.recv()
            except Exception as error:  # noqa: BLE001 - a task that does not unpickle here (its work unknown)
                tasks.put((None, _unreadable, error, None))
                continue
            if message[0] == "cancel":
                if message[1] == current["task"]:  # a cancel that comes after its task ended cancels nothing
                    current["cancel"].set()
            else:
                tasks.put(message[1:])

    busy = threading.Event()  # importing or running a task: what the caller waits on (idle, it is not read)
    busy.set()

    def heartbeat() -> None:
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            if busy.is_set():
                connection.send(("alive", None))

    threading.Thread(target=heartbeat, name="heartbeat", daemon=True).start()
    # For a training worker, TensorFlow, Keras and scikit-learn's regression (the refusal rule's), seconds to import
    # (digitcnn's modules import them only when used), before the first task; "module:function" also calls it.
    for module in imports:
        name, _, function = module.partition(":")
        imported = importlib.import_module(name)
        if function:
            getattr(imported, function)()
    # The caller's messages are read from now on: reading a task imports the modules its work comes from, and
    # beside these imports (a task sent to a worker still starting) that once failed a training with "the training
    # process could not read the work it was sent: RuntimeError: dictionary changed size during iteration".
    threading.Thread(target=read, name="caller", daemon=True).start()
    connection.send(("ready", None))
    busy.clear()

    while True:
        number, work, dataset, config = tasks.get()
        busy.set()
        current["cancel"] = cancel = threading.Event()
        current["task"] = number
        try:
            result = work(dataset, config, on_progress=_Relay(connection), cancel=cancel)
        except Exception as error:  # noqa: BLE001 - every failure goes back to the caller, who reports it
            connection.send(("error", _sendable(error)))
        else:
            connection.send(("result", result))
        busy.clear()


class _Relay:
    """A worker's ``on_progress``: sends every epoch end and step, and a batch end at most every
    :data:`BATCH_EVENT_SECONDS`."""

    def __init__(self, connection):
        self.connection = connection
        self.last_sent = float("-inf")

    def __call__(self, progress) -> None:
        now = time.monotonic()
        if getattr(progress, "stage", "epoch") != "batch" or now - self.last_sent >= BATCH_EVENT_SECONDS:
            self.connection.send(("progress", progress))
            self.last_sent = now


def _sendable(error: Exception) -> Exception:
    """``error`` if it crosses the socket whole (a DigitCNNError does), else a TrainingFailed telling it, with
    its traceback logged here, in the worker (its stderr is the server's)."""
    if isinstance(error, DigitCNNError):
        try:
            pickle.dumps(error)
            return error
        except Exception:  # noqa: BLE001 - an error class with extra arguments: sent as its message below
            pass
    else:
        _log.error("training failed in its worker process:\n%s", traceback.format_exc())
    return TrainingFailed(f"training failed: {type(error).__name__}: {error}")
