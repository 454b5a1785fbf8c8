"""Training in background threads, a few at a time, so an app stays usable while models learn.

A :class:`JobBoard` runs the training jobs of one process. Each job belongs to the owner that
started it (a user's browser in the app): only that owner sees it, cancels it and saves its
model, and an owner has one job on the board at a time. The model's name matters only when it
is saved. At most ``max_running`` jobs train at once (TensorFlow spreads one training over all
cores, so more at once only share them and each crawls); the others wait in a first-come queue,
each knowing its place, and can be cancelled while they wait.

Each :class:`TrainingJob` records its progress as it goes, and its owner (a page refreshing every
second, say) can read a consistent :meth:`TrainingJob.snapshot` of it at any moment. The board
keeps each owner's latest job, ended or not, until the owner starts another or dismisses it
(:meth:`JobBoard.dismiss`), or is found gone (:meth:`JobBoard.cancel_absent`): an owner who comes
back (a reloaded page) finds it with :meth:`JobBoard.latest`. :meth:`TrainingJob.release` lets go
of an ended job's model and scores. When the process exits, jobs are cancelled and waited for, so
no training thread is cut off inside TensorFlow.

Where a job trains is the board's ``trainer``: on a Ray cluster when ``$DIGITCNN_RAY_ADDRESS`` is set
(a :class:`~digitcnn.jobs.ray_training.RayTrainer`, which drives it from a process of its own), else the board's
``processes`` (a :class:`~digitcnn.jobs.process_training.ProcessTrainer`), worker processes of its own, which
also run the work a job is started with (a fine-tuning's): what an app that calls
``keras.backend.clear_session()`` between its runs, as Streamlit does, needs (see that module); else
:func:`digitcnn.training.train` in this process. :func:`server_board` makes the board a server wants.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field, replace
from typing import Callable, Hashable

from digitcnn.data import Dataset
from digitcnn.errors import DigitCNNError, SettingsError, TrainingCancelled
from digitcnn.jobs.process_training import TRAINING_IMPORTS, ProcessTrainer
from digitcnn.storage.registry import validate_model_name
from digitcnn.training import Progress, TrainingConfig, TrainingResult

_log = logging.getLogger(__name__)
WAITING, RUNNING, FINISHED, FAILED, CANCELLED = "waiting", "running", "finished", "failed", "cancelled"
ENDED = (FINISHED, FAILED, CANCELLED)
# What a job does, in words for people ("you are already importing 'x'", "Teaching x"): a job trains by default.
TRAINING, TEACHING, IMPORTING = "training", "teaching", "importing"
_BATCH_CURVE_POINTS = 400  # at most this many batch-level points are kept for live curves
# The stages of a job that its work does not name itself (its steps do: see digitcnn.training.Progress).
WAITING_IN_LINE = "Waiting in line"
STARTING = "Starting"
LEARNING = "Learning"
SHOWING = "Showing the results"
_STAGE_SHOWN_FROM = 0.05  # seconds: a stage shorter than this is left out of a job's timing
EXIT_WAIT_SECONDS = 20.0  # how long an exiting process waits for its cancelled trainings to stop

Trainer = Callable[..., TrainingResult]  # train(dataset, config, on_progress=…, cancel=…), or its stand-in


@dataclass(frozen=True)
class JobSnapshot:
    """What a job has done so far, frozen at one moment. ``place`` is its place in the queue
    (1: next to start) while it waits, else None."""

    name: str
    status: str
    config: TrainingConfig  # or a fine-tuning's FineTuneConfig
    source: str
    progress: Progress | None
    epochs: list[Progress]  # one per finished epoch
    batches: list[Progress]  # a thinned record of batch ends, for live curves
    result: TrainingResult | None  # or a fine-tuning's FineTuneResult
    error: str | None
    started: float  # time.time() when it was started (it may have waited since)
    place: int | None = None
    stages: tuple = ()  # (name, time.time() it began) of each stage so far, in order: see TrainingJob
    ended: float | None = None  # time.time() when it ended
    shown: float | None = None  # time.time() when its results were first shown (see TrainingJob.results_shown)

    @property
    def done(self) -> bool:
        return self.status in ENDED

    @property
    def seconds(self) -> float:
        """The seconds from its start (the click that made it) to its results shown, else its end, else now."""
        return (self.shown or self.ended or time.time()) - self.started

    def stage_seconds(self) -> list[tuple[str, float]]:
        """How long each of its stages took (the one under way: so far), in order, those that took a moment."""
        ends = [began for _, began in self.stages[1:]] + [self.ended or time.time()]
        timeline = [(name, end - began) for (name, began), end in zip(self.stages, ends)]
        if self.shown is not None and self.ended is not None:
            timeline.append((SHOWING, self.shown - self.ended))
        return [(name, seconds) for name, seconds in timeline if seconds >= _STAGE_SHOWN_FROM]

    def describe_time(self) -> str:
        """Its time in words for people: from the click to its results, and each stage's share of it."""
        stages = ", ".join(f"{name[0].lower() + name[1:]} {seconds:.1f} s" for name, seconds in self.stage_seconds())
        return f"{self.seconds:.1f} s from the click to the results: {stages}."

    def describe_progress(self) -> str:
        """What the job is doing, the seconds since the click and about how many are left, in a line for people.
        The time elapsed is on this process's clock, so that a page redrawing the line changes it every second,
        whatever the job is doing."""
        progress, elapsed = self.progress, f"{self.seconds:.0f} s elapsed"
        if progress is None:
            return f"Starting… · {elapsed}"
        if progress.stage != "step":
            doing = f"Epoch {progress.epoch}/{progress.epochs} · batch {progress.batch}/{progress.batches}"
        elif progress.step_number:
            doing = f"{progress.step} (step {progress.step_number} of {progress.steps} after the learning)"
        else:
            doing = progress.step
        left = progress.seconds_left
        if left is None:
            return f"{doing} · {elapsed} · estimating the time left"
        if progress.stage == "step":  # the estimate was made as the step began
            left -= time.time() - self.stages[-1][1]
        return f"{doing} · {elapsed} · about {max(left, 1):.0f} s left"


@dataclass(eq=False)
class TrainingJob:
    """One training run, owned by ``owner``: it waits for a free place, then trains in its own thread.
    Create it through :meth:`JobBoard.start`."""

    owner: Hashable
    name: str
    dataset: Dataset | None = field(repr=False)
    config: TrainingConfig  # or a fine-tuning's FineTuneConfig
    status: str = WAITING
    place: int | None = None
    progress: Progress | None = None
    epochs: list = field(default_factory=list)
    batches: list = field(default_factory=list)
    result: TrainingResult | None = field(default=None, repr=False)
    error: str | None = None
    started: float = field(default_factory=time.time)
    saved_as: str | None = None  # the name its model was saved under (see mark_saved)
    # Its stages as they begin, (name, time.time()): waiting in line, starting, then the work's own steps and
    # learning (see _record), each timed here, on the caller's clock, so that its time is the person's wait.
    stages: list = field(default_factory=list)
    ended: float | None = None
    shown: float | None = None
    activity: str = TRAINING  # what it does: TRAINING, TEACHING or IMPORTING

    def __post_init__(self):
        self.source = self.dataset.source
        self.stages.append((WAITING_IN_LINE, self.started))
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._ended = threading.Event()
        self._board: JobBoard | None = None
        self._work: Trainer | None = None

    def cancel(self) -> None:
        """Stop the job: a waiting one leaves the queue at once, a running one stops after its current batch."""
        self._cancel.set()
        if self._board is not None:
            self._board._withdraw(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or ``timeout`` seconds pass); True if it has ended."""
        return self._ended.wait(timeout)

    def release(self, keep_scores: bool = False) -> None:
        """Let go of what the ended job holds: its model (an import's result holds none: the import saved it), and
        unless ``keep_scores`` its scores, curves and data too (a full-MNIST run holds tens of megabytes). Called once
        its model is saved (the scores are still shown) or its result is dismissed."""
        with self._lock:
            if self.status not in ENDED:
                raise SettingsError(f"{self.name!r} is still {self.status}: cancel it first")
            self.dataset = None
            if keep_scores and getattr(self.result, "model", None) is not None:
                self.result = replace(self.result, model=None)
            elif not keep_scores:
                self.result, self.batches, self.epochs = None, [], []

    def mark_saved(self, name: str) -> None:
        """Record that the ended job's model was saved as ``name``, and let go of the model (it is on disk);
        its scores stay for the page. On the job, not the page's session, so a reload still shows it saved."""
        self.release(keep_scores=True)
        with self._lock:
            self.saved_as = name

    def snapshot(self) -> JobSnapshot:
        """A consistent copy of the job's state."""
        with self._lock:
            return JobSnapshot(
                name=self.name,
                status=self.status,
                config=self.config,
                source=self.source,
                progress=self.progress,
                epochs=list(self.epochs),
                batches=list(self.batches),
                result=self.result,
                error=self.error,
                started=self.started,
                place=self.place,
                stages=tuple(self.stages),
                ended=self.ended,
                shown=self.shown,
            )

    def results_shown(self) -> None:
        """Record, the first time only, that its results are being shown: the end of the person's wait."""
        with self._lock:
            if self.shown is None and self.status in ENDED:
                self.shown = time.time()

    def _set(self, **changes) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self, key, value)
            if changes.get("status") in ENDED:
                self.ended = time.time()
        if changes.get("status") in ENDED:
            self._ended.set()

    def _launch(self) -> None:
        with self._lock:
            self.stages.append((STARTING, time.time()))
        self._set(status=RUNNING, place=None)
        threading.Thread(target=self._run, name=f"training {self.name}", daemon=True).start()

    def _record(self, progress: Progress) -> None:
        stage = progress.step if progress.stage == "step" else LEARNING
        with self._lock:
            if self.stages[-1][0] != stage:
                self.stages.append((stage, time.time()))
            self.progress = progress
            if progress.stage == "epoch":
                self.epochs.append(progress)
            elif progress.stage == "batch":
                self.batches.append(progress)
                if len(self.batches) > _BATCH_CURVE_POINTS:
                    self.batches = self.batches[::2]

    def _run(self) -> None:
        try:
            if self._cancel.is_set():  # cancelled in the moment it was let in
                raise TrainingCancelled("cancelled before it started")
            result = self._work(self.dataset, self.config, on_progress=self._record, cancel=self._cancel)
            outcome = dict(status=FINISHED, result=result)
        except TrainingCancelled:
            outcome = dict(status=CANCELLED)
        except DigitCNNError as error:
            outcome = dict(status=FAILED, error=str(error))
        except Exception as error:  # a bug or an exhausted machine: report it, never kill the server
            _log.exception("training %s failed", self.name)
            outcome = dict(status=FAILED, error=f"training failed: {type(error).__name__}: {error}")
        self._set(**outcome)
        self._board._ended(self)


class JobBoard:
    """The training jobs of one process, each owned by whoever started it: at most ``max_running``
    train at once (default :func:`digitcnn.runtime.max_trainings`), the rest wait their turn.
    ``trainer`` trains one job (default: on Ray when ``$DIGITCNN_RAY_ADDRESS`` is set, else ``processes``
    when given, else here); ``processes`` also runs the work jobs are started with, which otherwise runs here."""

    def __init__(self, max_running: int | None = None, trainer: Trainer | None = None,
                 processes: ProcessTrainer | None = None):
        from digitcnn.runtime import max_trainings

        self.max_running = max_trainings(max_running)
        self._processes = processes
        self._trainer = trainer or _default_trainer(self.max_running, processes)
        self._lock = threading.Lock()
        self._running: set[TrainingJob] = set()
        self._waiting: collections.deque[TrainingJob] = collections.deque()
        self._latest: dict[Hashable, TrainingJob] = {}  # owner → the job they started last, ended or not
        self._last_present: dict[Hashable, float] = {}  # owner → when cancel_absent last found them present
        _boards.add(self)

    def start(self, owner: Hashable, name: str, dataset: Dataset, config, work: Trainer | None = None,
              activity: str = TRAINING) -> TrainingJob:
        """Queue a training of a model called ``name`` for ``owner`` (anything hashable that tells users
        apart: a session, say), which starts at once if a place is free; refused while that owner has
        another job waiting or running. The job runs ``work(dataset, config, on_progress=…, cancel=…)``:
        by default the board's trainer with a :class:`~digitcnn.training.TrainingConfig`; a fine-tuning
        (see :mod:`digitcnn.training.finetune`) or an import passes its own, and says so in ``activity``."""
        name = validate_model_name(name)
        with self._lock:
            busy = [job for job in (*self._running, *self._waiting) if job.owner == owner]
            if busy:
                raise SettingsError(f"you are already {busy[0].activity} {busy[0].name!r}: wait for it or cancel "
                                    f"it first")
            job = TrainingJob(owner, name, dataset, config, activity=activity)
            if work is not None and self._processes is not None:
                work = functools.partial(self._processes.run, work)
            job._board, job._work = self, work or self._trainer
            self._waiting.append(job)
            self._latest[owner] = job
            self._admit()
        return job

    def latest(self, owner: Hashable) -> TrainingJob | None:
        """The job ``owner`` started last, waiting, running or ended, unless they dismissed it."""
        with self._lock:
            return self._latest.get(owner)

    def dismiss(self, owner: Hashable, job: TrainingJob) -> None:
        """Forget ``owner``'s ended ``job`` (if it is still their latest) and let go of its model and scores."""
        job.release()
        with self._lock:
            if self._latest.get(owner) is job:
                del self._latest[owner]

    def running(self) -> list[TrainingJob]:
        """The jobs training now, of every owner."""
        with self._lock:
            return list(self._running)

    def waiting(self) -> list[TrainingJob]:
        """The jobs waiting for a place, first in line first."""
        with self._lock:
            return list(self._waiting)

    def cancel_absent(self, is_present: Callable[[Hashable], bool], grace: float) -> list[TrainingJob]:
        """Cancel the jobs of owners that ``is_present`` has found gone for more than ``grace`` seconds (a
        closed browser, say: nobody is left to see the result); returns the jobs cancelled. Their ended jobs
        are forgotten too. Called now and then; an owner back within ``grace`` (a dropped connection,
        reconnected) keeps its job."""
        now = time.monotonic()
        with self._lock:
            latest = dict(self._latest)
        gone = []
        for owner, job in latest.items():
            if is_present(owner):
                self._last_present[owner] = now
            elif now - self._last_present.setdefault(owner, now) > grace:
                if not job.snapshot().done:
                    job.cancel()
                    gone.append(job)
                with self._lock:
                    if self._latest.get(owner) is job:
                        del self._latest[owner]
        with self._lock:
            self._last_present = {owner: seen for owner, seen in self._last_present.items() if owner in self._latest}
        return gone

    def stop_all(self, timeout: float = EXIT_WAIT_SECONDS) -> bool:
        """Cancel every job, waiting or running, and wait up to ``timeout`` seconds in all for them to
        stop; True when none is left running."""
        jobs = self.waiting() + self.running()
        for job in jobs:
            job.cancel()
        deadline = time.monotonic() + timeout
        return all(job.wait(max(0.0, deadline - time.monotonic())) for job in jobs)

    def close(self, timeout: float = EXIT_WAIT_SECONDS) -> bool:
        """Stop every job (see :meth:`stop_all`) and the board's worker processes; True when none is left
        running."""
        stopped = self.stop_all(timeout)
        for workers in {self._processes, self._trainer}:
            if hasattr(workers, "close"):  # worker processes (the Ray trainer's included)
                workers.close()
        return stopped

    def _admit(self) -> None:
        """Start waiting jobs while places are free, and tell the rest their place. Holds the lock."""
        while self._waiting and len(self._running) < self.max_running:
            job = self._waiting.popleft()
            self._running.add(job)
            job._launch()
        for place, job in enumerate(self._waiting, start=1):
            job._set(place=place)

    def _withdraw(self, job: TrainingJob) -> None:
        with self._lock:
            if job not in self._waiting:
                return  # running (it stops after its batch) or ended
            self._waiting.remove(job)
            job._set(status=CANCELLED, place=None)
            self._admit()

    def _ended(self, job: TrainingJob) -> None:
        with self._lock:
            self._running.discard(job)
            self._admit()


def _default_trainer(count: int, processes: ProcessTrainer | None) -> Trainer:
    """Ray's when ``$DIGITCNN_RAY_ADDRESS`` names a cluster (driven from up to ``count`` processes of its own),
    else ``processes``, else this process's."""
    from digitcnn.jobs import ray_training
    from digitcnn.training import train

    if ray_training.ray_address():
        return ray_training.RayTrainer(count)
    return processes or train


def server_board(max_running: int | None = None) -> JobBoard:
    """The board of a server's trainings, of every user: trainings (unless on Ray) and fine-tunings run in worker
    processes (see :mod:`digitcnn.jobs.process_training` for why), started when work needs them. Unless trainings go
    to Ray, one is started now, so that the first training finds TensorFlow imported and warmed up (see
    :func:`digitcnn.training.warm_up`): without it, the first Train waits the seconds a worker takes to import it."""
    from digitcnn.jobs import ray_training
    from digitcnn.runtime import max_trainings

    processes = ProcessTrainer(max_trainings(max_running), (*TRAINING_IMPORTS, "digitcnn.training:warm_up"))
    board = JobBoard(processes.count, processes=processes)
    if not ray_training.ray_address():
        processes.prestart(1)
    return board


_boards: weakref.WeakSet[JobBoard] = weakref.WeakSet()


def _stop_trainings_at_exit() -> None:
    """A process that exits while a training thread runs inside TensorFlow dies with "terminate
    called … FATAL" when the interpreter tears the thread down: cancel and wait instead."""
    for board in list(_boards):
        if (board.running() or board.waiting()) and not board.stop_all():
            _log.warning("a training did not stop within %.0f s of the exit", EXIT_WAIT_SECONDS)


# Run when the interpreter starts to exit, before any atexit handler: TensorFlow and Keras, imported after this
# module, register handlers of their own that atexit runs first (last in, first out), and a training thread still
# building its network after those ran failed inside Keras ("Only input tensors may be passed as positional
# arguments") and the process died. threading's own hook is the one concurrent.futures uses for the same reason.
threading._register_atexit(_stop_trainings_at_exit)
