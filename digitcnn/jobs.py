"""Training in a background thread, so an app stays usable while a model learns.

A :class:`JobBoard` starts the training jobs of one process. Each job belongs to the owner that
started it (a user's session in the app): only that owner sees it, cancels it and saves its
model, and an owner trains one model at a time. The model's name matters only when it is
saved. Each :class:`TrainingJob` records its progress as it goes, and its owner (a page
refreshing every second, say) can read a consistent :meth:`TrainingJob.snapshot` of it at any
moment. The board keeps only the jobs still running, so a finished job lives as long as its
owner keeps it; when the process exits, running jobs are cancelled and waited for, so no
training thread is cut off inside TensorFlow.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field

from digitcnn.data import Dataset
from digitcnn.errors import DigitCNNError, SettingsError, TrainingCancelled
from digitcnn.registry import validate_model_name
from digitcnn.training import Progress, TrainingConfig, TrainingResult, train

_log = logging.getLogger(__name__)
RUNNING, FINISHED, FAILED, CANCELLED = "running", "finished", "failed", "cancelled"
_BATCH_CURVE_POINTS = 400  # at most this many batch-level points are kept for live curves
EXIT_WAIT_SECONDS = 20.0  # how long an exiting process waits for its cancelled trainings to stop


@dataclass(frozen=True)
class JobSnapshot:
    """What a job has done so far, frozen at one moment."""

    name: str
    status: str
    config: TrainingConfig
    source: str
    progress: Progress | None
    epochs: list[Progress]  # one per finished epoch
    batches: list[Progress]  # a thinned record of batch ends, for live curves
    result: TrainingResult | None
    error: str | None
    started: float  # time.time() at the start

    @property
    def done(self) -> bool:
        return self.status != RUNNING


@dataclass(eq=False)
class TrainingJob:
    """One training run in its own thread, owned by ``owner``. Create it through :meth:`JobBoard.start`."""

    owner: str
    name: str
    dataset: Dataset = field(repr=False)
    config: TrainingConfig
    status: str = RUNNING
    progress: Progress | None = None
    epochs: list = field(default_factory=list)
    batches: list = field(default_factory=list)
    result: TrainingResult | None = field(default=None, repr=False)
    error: str | None = None
    started: float = field(default_factory=time.time)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"training {self.name}", daemon=True)
        self._on_end = None

    def cancel(self) -> None:
        """Ask the job to stop after its current batch."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or ``timeout`` seconds pass); True if it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def snapshot(self) -> JobSnapshot:
        """A consistent copy of the job's state."""
        with self._lock:
            return JobSnapshot(
                name=self.name,
                status=self.status,
                config=self.config,
                source=self.dataset.source,
                progress=self.progress,
                epochs=list(self.epochs),
                batches=list(self.batches),
                result=self.result,
                error=self.error,
                started=self.started,
            )

    def _launch(self, on_end) -> None:
        self._on_end = on_end
        self._thread.start()

    def _record(self, progress: Progress) -> None:
        with self._lock:
            self.progress = progress
            if progress.stage == "epoch":
                self.epochs.append(progress)
            else:
                self.batches.append(progress)
                if len(self.batches) > _BATCH_CURVE_POINTS:
                    self.batches = self.batches[::2]

    def _run(self) -> None:
        try:
            result = train(self.dataset, self.config, on_progress=self._record, cancel=self._cancel)
            outcome = dict(status=FINISHED, result=result)
        except TrainingCancelled:
            outcome = dict(status=CANCELLED)
        except DigitCNNError as error:
            outcome = dict(status=FAILED, error=str(error))
        except Exception as error:  # a bug or an exhausted machine: report it, never kill the server
            _log.exception("training %s failed", self.name)
            outcome = dict(status=FAILED, error=f"training failed: {type(error).__name__}: {error}")
        with self._lock:
            for key, value in outcome.items():
                setattr(self, key, value)
        self._on_end(self)


class JobBoard:
    """The training jobs running in one process, each owned by whoever started it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: set[TrainingJob] = set()
        _boards.add(self)

    def start(self, owner: str, name: str, dataset: Dataset, config: TrainingConfig) -> TrainingJob:
        """Start training a model called ``name`` for ``owner``; refused while that owner trains another."""
        name = validate_model_name(name)
        with self._lock:
            busy = [job.name for job in self._running if job.owner == owner]
            if busy:
                raise SettingsError(f"you are already training {busy[0]!r}: wait for it or cancel it first")
            job = TrainingJob(owner, name, dataset, config)
            self._running.add(job)
        job._launch(on_end=self._ended)
        return job

    def running(self) -> list[TrainingJob]:
        """The jobs still running, of every owner."""
        with self._lock:
            return list(self._running)

    def stop_all(self, timeout: float = EXIT_WAIT_SECONDS) -> bool:
        """Cancel every running job and wait up to ``timeout`` seconds in all for them to stop;
        True when none is left running."""
        jobs = self.running()
        for job in jobs:
            job.cancel()
        deadline = time.monotonic() + timeout
        return all(job.wait(max(0.0, deadline - time.monotonic())) for job in jobs)

    def _ended(self, job: TrainingJob) -> None:
        with self._lock:
            self._running.discard(job)


_boards: weakref.WeakSet[JobBoard] = weakref.WeakSet()


@atexit.register
def _stop_trainings_at_exit() -> None:
    """A process that exits while a training thread runs inside TensorFlow dies with "terminate
    called … FATAL" when the interpreter tears the thread down: cancel and wait instead."""
    for board in list(_boards):
        if board.running() and not board.stop_all():
            _log.warning("a training did not stop within %.0f s of the exit", EXIT_WAIT_SECONDS)
