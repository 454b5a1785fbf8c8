"""Training in a background thread, so an app stays usable while a model learns.

A :class:`JobBoard` runs at most one job per model name at a time; each :class:`TrainingJob`
records its progress as it goes, and anyone (a page refreshing every second, say) can read a
consistent :meth:`TrainingJob.snapshot` of it at any moment, or cancel it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from digitcnn.data import Dataset
from digitcnn.errors import DigitCNNError, SettingsError, TrainingCancelled
from digitcnn.registry import validate_model_name
from digitcnn.training import Progress, TrainingConfig, TrainingResult, train

_log = logging.getLogger(__name__)
RUNNING, FINISHED, FAILED, CANCELLED = "running", "finished", "failed", "cancelled"
_BATCH_CURVE_POINTS = 400  # at most this many batch-level points are kept for live curves


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
    """One training run in its own thread. Create it through :meth:`JobBoard.start`."""

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

    def _launch(self) -> None:
        self._thread.start()

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


class JobBoard:
    """The training jobs of one process, at most one running per model name."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: dict[str, TrainingJob] = {}

    def start(self, name: str, dataset: Dataset, config: TrainingConfig) -> TrainingJob:
        """Start training a model called ``name``; refused while another job of that name runs."""
        name = validate_model_name(name)
        with self._lock:
            current = self._jobs.get(name)
            if current is not None and current.snapshot().status == RUNNING:
                raise SettingsError(f"a model named {name!r} is already training; wait for it or pick another name")
            job = TrainingJob(name, dataset, config)
            self._jobs[name] = job
        job._launch()
        return job

    def get(self, name: str) -> TrainingJob | None:
        """The latest job of that name, running or ended."""
        with self._lock:
            return self._jobs.get(name)

    def running(self) -> list[str]:
        """The names of the jobs still running."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [job.name for job in jobs if job.snapshot().status == RUNNING]

    def forget(self, name: str) -> None:
        """Drop an ended job (and the model it holds) from memory."""
        with self._lock:
            job = self._jobs.get(name)
            if job is not None and job.snapshot().done:
                del self._jobs[name]
