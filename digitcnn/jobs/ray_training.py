"""Training on a Ray cluster: :func:`train_on_ray` is :func:`digitcnn.training.train` run as a Ray task.

When ``$DIGITCNN_RAY_ADDRESS`` is set (``auto``, ``host:6379``, ``ray://host:10001``), a job board's trainings
run on that cluster (:class:`RayTrainer`). The design:

- The process that drives the trainings connects to Ray once, lazily (:func:`connect`), shipping the
  ``digitcnn`` package to the workers (``py_modules``), so that they run this code whatever their working
  folder or installed copy.
- A server never drives them itself: Ray's core worker ends the process it lives in when its cluster goes
  ("The connection to the plasma store is failed. Terminate the process"), which took a Streamlit server
  and every user's page down with it. :class:`RayTrainer` drives each training from a small worker process
  of its own (:mod:`digitcnn.jobs.process_training`, without TensorFlow): a lost cluster costs that process, and
  the training fails with a message; the next training gets a fresh process and connects afresh.
- Each training is one Ray task (``max_retries=0``: a lost worker fails the run instead of retraining in
  silence) that calls ``train`` in the worker, and one small channel actor between the two. The worker
  sends its progress events to the channel (batch ends at most a few a second, every epoch end and step); the
  caller polls the channel and calls ``on_progress`` in order. Cancelling is the other way round: the
  caller marks the channel, the worker reads the mark in the channel's answers and stops after its current
  batch, and a worker that has not stopped within seconds is killed.
- The :class:`~digitcnn.training.TrainingResult` comes back pickled into bytes by the worker, its model a
  :class:`~digitcnn.networks.architectures.ModelArchive` (its ``.keras`` file's bytes), and is read only where it is wanted:
  nothing in between (a ``ray://`` address's client server, the driving process), nor the caller, needs Keras
  to pass it on, hold it or save it.
- A worker, node or channel lost on the way raises :class:`TrainingFailed` ("the Ray worker training this
  model was lost: …"); a :class:`~digitcnn.errors.DigitCNNError` raised in the worker comes back as itself.

Ray is an optional extra (``requirements-ray.txt``): this module imports it only when it is used.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pickle
import re
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Callable

from digitcnn.config import RAY_ADDRESS_VARIABLE
from digitcnn.data import Dataset
from digitcnn.errors import DigitCNNError, SettingsError, TrainingCancelled, TrainingFailed
from digitcnn.jobs.process_training import ProcessTrainer, WorkerLost
from digitcnn.training import Progress, TrainingConfig, TrainingResult, received

TASK_NAME = "digitcnn training"  # the Ray task's name: its worker's process title is "ray::digitcnn training"
CONNECT_TIMEOUT_SECONDS = 60.0  # ray.init retries an unreachable "host:port" for many minutes: give up sooner
POLL_SECONDS = 0.2  # how often the caller looks for new progress, for the end of the task and for a cancel
BATCH_EVENT_SECONDS = 0.25  # the worker sends at most one batch event per this long (epoch ends: every one)
CHANNEL_TIMEOUT_SECONDS = 60.0  # a channel that does not answer within this long (a few ms when well) is lost
CANCEL_GRACE_SECONDS = 5.0  # a cancelled worker gets this long to stop after its batch before it is killed
DRIVER_IMPORTS = ("ray", "digitcnn.jobs.ray_training")  # what a process driving trainings on Ray imports ahead
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the digitcnn package, shipped whole to the workers
_connect_lock = threading.Lock()
_connection: Future | None = None  # this process's latest ray.init: running, failed or done (see connect)


def ray_address() -> str | None:
    """The Ray cluster that trainings run on: ``$DIGITCNN_RAY_ADDRESS``, or None (unset or empty:
    trainings run in this process)."""
    return os.environ.get(RAY_ADDRESS_VARIABLE) or None


def connect(address: str | None = None, cancel: threading.Event | None = None, **init_options):
    """Connect this process to Ray unless it already is (whoever connected it), and return the ``ray``
    module. ``address`` (else :func:`ray_address`) goes to ``ray.init`` with ``init_options``; None
    starts a local Ray instance. Threads that call at once share one attempt; an attempt that fails, or
    gets no answer within :data:`CONNECT_TIMEOUT_SECONDS`, raises :class:`TrainingFailed`, and the next
    call tries again (or waits on for an attempt still running). Setting ``cancel`` meanwhile raises
    :class:`TrainingCancelled` at once.

    ``ray.init`` is given ``runtime_env={"py_modules": [digitcnn]}``: workers import this process's copy
    of the package, on any node. Where something else initialised Ray, it must make ``digitcnn``
    importable on the workers (a local ``ray.init`` run from the project's folder does).
    """
    global _connection
    ray = _import_ray()
    address = address or ray_address()
    with _connect_lock:
        if _connection is None or _connection.done():  # else an attempt is on its way: wait for it
            if ray.is_initialized():
                return ray
            _connection = Future()
            # On a thread of its own, so that a cluster that never answers cannot hang the caller (see
            # _initialise for the other reason).
            threading.Thread(target=_initialise, args=(ray, _connection, address, init_options),
                             name="ray.init", daemon=True).start()
        attempt = _connection
    where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
    deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
    while True:
        try:
            attempt.result(timeout=POLL_SECONDS)
            return ray
        except FutureTimeout:
            if cancel is not None and cancel.is_set():
                raise TrainingCancelled("training was cancelled; nothing was saved") from None
            if time.monotonic() > deadline:
                raise TrainingFailed(f"cannot connect to {where}: no answer within "
                                     f"{CONNECT_TIMEOUT_SECONDS:.0f} s") from None
        except Exception as error:  # ConnectionError, a malformed address, a version mismatch…
            raise TrainingFailed(f"cannot connect to {where}: {_first_line(error)}") from error


def train_on_ray(
    dataset: Dataset,
    config: TrainingConfig = TrainingConfig(),
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    address: str | None = None,
    num_cpus: float = 1,
) -> TrainingResult:
    """:func:`digitcnn.training.train` run as a Ray task on the cluster at ``address`` (else
    ``$DIGITCNN_RAY_ADDRESS``; see :func:`connect`), driven from this process, with the same contract:
    ``on_progress`` receives the :class:`Progress` events in order, in the calling thread (batch ends thinned
    to a few a second, every epoch end); setting ``cancel`` stops the run and raises :class:`TrainingCancelled`.
    The task asks Ray for ``num_cpus`` CPUs, and TensorFlow in the worker uses that many threads
    (``$DIGITCNN_THREADS`` where the worker's node sets it).

    A worker lost mid-run, or a cluster that stops answering, raises :class:`TrainingFailed`; a
    :class:`~digitcnn.errors.DigitCNNError` raised in the worker is raised again here. This process hosts
    Ray's core worker, which ends it should the cluster go: a server uses :class:`RayTrainer` instead.
    """
    return _read_result(train_on_ray_to_send(dataset, config, on_progress, cancel, address, num_cpus), dataset)


def train_on_ray_to_send(dataset: Dataset, config: TrainingConfig, on_progress=None, cancel=None,
                         address: str | None = None, num_cpus: float = 1) -> bytes:
    """:func:`train_on_ray`, its result left as the worker pickled it (without its split; see
    :func:`digitcnn.training.train_to_send`): what a driving process sends on unread."""
    ray = connect(address, cancel)
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training was cancelled; nothing was saved")

    channel = _channel_actor(ray).options(num_cpus=0).remote()  # a mailbox: it takes no CPU of the cluster's
    task = _training_task(ray).options(name=TASK_NAME, num_cpus=num_cpus).remote(
        ray.put(dataset), config, channel, max(1, round(num_cpus))
    )
    try:
        return _follow(ray, task, channel, on_progress, cancel, address or ray_address())
    except BaseException:
        # Cancelled, lost channel, an on_progress that raised, Ctrl-C: no training goes on unwatched.
        _quietly(ray, ray.cancel, task, force=True)
        raise
    finally:
        _quietly(ray, ray.kill, channel)


class RayTrainer:
    """Trains on the Ray cluster at ``address`` (else ``$DIGITCNN_RAY_ADDRESS``), each training driven from a
    worker process of its own (up to ``count`` at once, started when a training needs one, light: Ray without
    TensorFlow), so that a cluster lost on the way costs that process, never the caller's. Calling it trains,
    with the contract of :func:`train_on_ray`; a lost driving process raises :class:`TrainingFailed` saying
    that the cluster was lost."""

    def __init__(self, count: int, address: str | None = None):
        self.address = address or ray_address()
        self.processes = ProcessTrainer(count, imports=DRIVER_IMPORTS)

    def __call__(self, dataset, config, on_progress=None, cancel: threading.Event | None = None) -> TrainingResult:
        if importlib.util.find_spec("ray") is None:  # said here: the driving process would only die of it
            raise _ray_missing()
        drive = functools.partial(_drive, self.address)
        try:
            sent = self.processes.run(drive, dataset, config, on_progress, cancel)
        except WorkerLost:  # Ray ends the process that drives a training when it loses the cluster
            raise TrainingFailed(_cluster_lost(self.address)) from None
        return _read_result(sent, dataset)

    def close(self) -> None:
        """Stop the idle driving processes."""
        self.processes.close()


def _drive(address, dataset, config, on_progress, cancel) -> bytes:
    """A driving process's work: one training on the cluster at ``address``."""
    return train_on_ray_to_send(dataset, config, on_progress, cancel, address)


def _read_result(sent: bytes, dataset: Dataset) -> TrainingResult:
    """The result a worker pickled, read here, its split chosen again from ``dataset``."""
    return received(pickle.loads(sent), dataset)  # noqa: S301 - bytes from our own cluster's worker


def _follow(ray, task, channel, on_progress, cancel, address: str | None) -> bytes:
    """Relay the channel's events to ``on_progress`` until ``task`` ends; return its result. ``address`` names
    the cluster in the message should it be lost."""
    cancel_sent = None
    try:
        while True:
            finished, _ = ray.wait([task], timeout=POLL_SECONDS)
            # Taken after the task is seen to end, this holds the last events: the worker waits until the
            # channel has them all before it returns.
            for progress in ray.get(channel.take.remote(), timeout=CHANNEL_TIMEOUT_SECONDS):
                if on_progress is not None:
                    on_progress(progress)
            if finished:
                return ray.get(task)
            if cancel is not None and cancel.is_set():
                if cancel_sent is None:
                    channel.cancel.remote()
                    cancel_sent = time.monotonic()
                elif time.monotonic() - cancel_sent > CANCEL_GRACE_SECONDS:  # train_on_ray kills the task
                    raise TrainingCancelled("training was cancelled; nothing was saved")
    except ray.exceptions.RayTaskError as error:  # the task raised: a DigitCNNError, or a bug of the worker's
        if isinstance(error.cause, DigitCNNError):
            raise error.cause from None
        raise _failure(error, f"training failed on the Ray worker: {type(error.cause).__name__}: "
                              f"{_first_line(error.cause)}") from error
    except ray.exceptions.GetTimeoutError:
        raise TrainingFailed(f"the Ray worker training this model was lost: the Ray cluster did not answer "
                             f"within {CHANNEL_TIMEOUT_SECONDS:.0f} s") from None
    except (ray.exceptions.RayError, ConnectionError) as error:  # worker or node died, actor or object lost…
        if _is_cluster_gone(ray, error):  # Ray's words for it are a paragraph of RPC codes: say it plainly
            raise TrainingFailed(_cluster_lost(address)) from error
        raise _failure(error, f"the Ray worker training this model was lost: {_first_line(error)}") from error


def _is_cluster_gone(ray, error: Exception) -> bool:
    """Whether ``error`` says that the cluster itself stopped answering (its actors unreachable, the local raylet
    or the node gone), not only the worker that trained."""
    gone = (ray.exceptions.ActorUnavailableError, ray.exceptions.RpcError, ray.exceptions.LocalRayletDiedError,
            ray.exceptions.NodeDiedError)
    return isinstance(error, gone) or "failed to connect to all addresses" in str(error)


def _cluster_lost(address: str | None) -> str:
    where = f"the Ray cluster at {address!r}" if address else "the Ray cluster"
    return f"the connection to {where} was lost: check that the cluster is running, then train again"


def _failure(error: Exception, message: str) -> TrainingFailed:
    """``message`` as a :class:`TrainingFailed`, unless ``error`` is the workers' failing to import this
    package: the one failure of setting up that has a plain remedy (Ray's message buries it)."""
    if "No module named 'digitcnn'" in str(error):
        message = ("the Ray workers cannot import digitcnn: let digitcnn.jobs.ray_training.connect connect to Ray "
                   "(it ships the package to the workers), or start Ray from the project's folder")
    return TrainingFailed(message)


def _train_in_worker(dataset: Dataset, config: TrainingConfig, channel, threads: int) -> bytes:
    """The Ray task: train with ``threads`` TensorFlow threads, sending progress to ``channel`` and
    reading cancels from it; the result pickled (see the module's notes)."""
    from digitcnn.runtime import apply_thread_setting
    from digitcnn.training import train_to_send

    # TensorFlow would use every core of the node, not the CPUs Ray gave the task. It takes the setting only
    # before its first operation: a reused worker keeps its first training's (the same, unless num_cpus changes).
    apply_thread_setting(threads)
    cancel = threading.Event()
    relay = _Relay(channel, cancel)
    result = train_to_send(dataset, config, on_progress=relay, cancel=cancel)
    relay.flush()
    return pickle.dumps(result)


class _Relay:
    """The worker's ``on_progress``: sends every epoch end and step, and a batch end at most every
    :data:`BATCH_EVENT_SECONDS` to the channel, and sets ``cancel`` when a channel's answer says so."""

    def __init__(self, channel, cancel: threading.Event):
        self.channel, self.cancel = channel, cancel
        self.answers = []  # the channel's answers not read yet: True once the caller has cancelled
        self.last_sent = float("-inf")

    def __call__(self, progress: Progress) -> None:
        import ray

        if self.answers:  # read those that have come, without waiting (this runs after every batch)
            answered, self.answers = ray.wait(self.answers, num_returns=len(self.answers), timeout=0)
            if any(ray.get(answered)):
                self.cancel.set()
        now = time.monotonic()
        if progress.stage != "batch" or now - self.last_sent >= BATCH_EVENT_SECONDS:
            self.answers.append(self.channel.put.remote(progress))
            self.last_sent = now

    def flush(self) -> None:
        """Wait until the channel holds every event sent (it runs one sender's calls in order)."""
        import ray

        ray.get(self.answers)


class _Channel:
    """The Ray actor between a training task and its caller: progress events one way, a cancel the other."""

    def __init__(self):
        self.events: list[Progress] = []
        self.cancelled = False

    def put(self, progress: Progress) -> bool:
        """Keep an event for the caller; answer whether the caller has cancelled."""
        self.events.append(progress)
        return self.cancelled

    def take(self) -> list[Progress]:
        """The events kept since the last take, oldest first."""
        events, self.events = self.events, []
        return events

    def cancel(self) -> None:
        self.cancelled = True


@functools.cache
def _training_task(ray):
    # Workers are reused, TensorFlow already imported: a fresh worker per training (max_calls=1) was measured
    # to cost 8-12 s more a run on a two-core machine, against about 1 s for a reused one.
    return ray.remote(max_retries=0)(_train_in_worker)


@functools.cache
def _channel_actor(ray):
    return ray.remote(max_restarts=0)(_Channel)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise _ray_missing() from None
    return ray


def _ray_missing() -> SettingsError:
    wanted = f"{RAY_ADDRESS_VARIABLE} is set" if ray_address() else "training on Ray was asked for"
    return SettingsError(f"{wanted} but Ray is not installed: pip install -r requirements-ray.txt")


def _initialise(ray, attempt: Future, address: str | None, init_options: dict) -> None:
    try:
        _ask_whether_it_lets_us_in(ray, address)
        ray.init(address=address, runtime_env={"py_modules": [str(_PACKAGE_DIR)]}, **init_options)
    except BaseException as error:  # handed to the waiting callers, which raise TrainingFailed
        attempt.set_exception(error)
    else:
        attempt.set_result(None)
        # A local Ray instance's processes die with the thread that started them (Linux's parent-death
        # signal is per thread), and a job's thread ends with its training: this one lasts the process.
        threading.Event().wait()


def _ask_whether_it_lets_us_in(ray, address: str | None) -> None:
    """Raise ConnectionError saying why, in the cluster's own words, when the cluster at ``address`` ("host:port")
    refuses this process (it wants a token, say): ``ray.init`` would try for 20 s, then say only "Failed to
    connect", the reason left to its log. Anything else (no answer, say) is left to ``ray.init``."""
    if not address or not re.fullmatch(r"[\w.\-\[\]:]+:\d+", address):  # auto, ray://…: Ray resolves those
        return
    try:
        from ray._raylet import GcsClient  # Ray's own client of the cluster's control store

        GcsClient(address=address).internal_kv_get(b"digitcnn", None, timeout=5)
    except ray.exceptions.AuthenticationError as error:
        raise ConnectionError(f"it refused this process: {re.split(r'(?<=[.]) ', _first_line(error))[0]}") from None
    except Exception:  # noqa: BLE001 - not answering, say (or another Ray): ray.init tries on, and says so
        pass


def _quietly(ray, action, *args, **kwargs) -> None:
    """``action(*args, **kwargs)``, ignoring a cluster that is gone: it cleans up after a failure."""
    try:
        action(*args, **kwargs)
    except (ray.exceptions.RayError, ConnectionError):
        pass


def _first_line(error: BaseException) -> str:
    """The first line of an error's message (Ray's run to dozens of lines, coloured for a terminal), at most
    300 characters."""
    lines = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:300]
