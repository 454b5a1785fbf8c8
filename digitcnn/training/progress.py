"""A run as a person follows it: :class:`Progress` events after each batch and epoch, and as each named step before
the first batch and after the last begins (:data:`PREPARING`, :data:`STEPS_AFTER_LEARNING`, :data:`HANDING_OVER`),
with the fraction done and the time left of the whole run, steps included, as :class:`ProgressRelay` estimates
them. A fine-tune (:mod:`digitcnn.training.finetune`) reports through the same relay."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from digitcnn.reading.inference import PLAIN

# The steps of a run besides its batches, named as a person sees them: one before the first batch (the first batch
# also traces the network), those after the last, and the handing over of a run made in a worker process.
PREPARING = "Preparing the images and the network"
SETTLING = "Settling the network on its training images"
CALIBRATING = "Scoring and calibrating on the training images"
FITTING_REFUSAL = 'Fitting the "not a digit" rule'
SCORING_TEST = "Scoring the test images"
HANDING_OVER = "Handing the model over"
STEPS_AFTER_LEARNING = (SETTLING, CALIBRATING, FITTING_REFUSAL, SCORING_TEST)
# Reading an image after the learning costs about this share of a training step's time per image: what the estimate
# of the time left counts for the steps after the learning. Measured on the embedded sample's quick run in a warm
# process (2 busy cores): 11,700 images read in 4.1 s after batches of 64 at 0.035 s each.
READ_COST = 0.65
PACE_AFTER_BATCHES = 5  # the time left is estimated once this many batches have followed the first


@dataclass(frozen=True)
class Progress:
    """Where a run is: after each batch (``stage="batch"``), after each epoch (``stage="epoch"``, with the scores
    on the images held out to validate when they are measured), and as each step before the first batch or after
    the last begins (``stage="step"``, named in ``step``: "Scoring the test images", say, the ``step_number``-th of
    the ``steps`` after the learning; 0 of 0 for one before it). ``fraction_done`` and ``seconds_left`` are of the
    whole run, the steps after the learning included (see :class:`ProgressRelay`); ``seconds_left`` is None until
    the pace is known."""

    stage: str
    epoch: int  # 1-based
    epochs: int
    batch: int  # batches done in this epoch
    batches: int  # batches per epoch
    loss: float
    accuracy: float
    elapsed: float  # seconds since the run started
    validation_loss: float | None = None
    validation_accuracy: float | None = None
    fraction_done: float = 0.0
    seconds_left: float | None = None
    step: str | None = None
    step_number: int = 0
    steps: int = 0


def images_read_after_learning(train_sample: int, likeness_digits: int, test: int, reading: str) -> int:
    """How many images the steps after the learning read: the training sample twice (settling, scoring), the
    digit-likeness's digits and as many non-digits, and the test images; each read three times by three pens."""
    pens = 1 if reading == PLAIN else 3
    return train_sample * (1 + pens) + 2 * likeness_digits + test * pens


class ProgressRelay:
    """Turns a run into :class:`Progress` events: Keras's epoch starts, batch ends and epoch ends, and the named
    steps around the learning (:meth:`step`). The steps after the last batch, ``steps_after``, are estimated at
    ``after_units`` batches' worth of time, shared equally, so that the fraction done and the time left cover the
    whole run. The pace is measured from the end of the first batch, which also traces the network (1.2 s of a
    2-core quick run whose batches take 0.03 s): counted in, it once made the first estimate 412 s for a 20 s run;
    until :data:`PACE_AFTER_BATCHES` more batches are done the time left is not guessed."""

    def __init__(self, epochs: int, batches: int, on_progress: Callable[[Progress], None] | None,
                 steps_after: tuple[str, ...] = (), after_units: float = 0.0):
        self.epochs, self.batches, self.on_progress = epochs, batches, on_progress
        self.steps_after, self.after_units = steps_after, after_units
        self.epoch = 1
        self.started = time.perf_counter()
        self.paced_from: tuple[int, float] | None = None  # (units done, elapsed) at the end of the first batch
        self.pace: float | None = None  # seconds per batch, once measured
        self.last = (np.nan, np.nan)  # the last loss and accuracy reported

    def epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def batch_end(self, batch, logs=None):
        self._report("batch", batch + 1, logs or {})

    def epoch_end(self, epoch, logs=None):
        self._report("epoch", self.batches, logs or {})

    def step(self, name: str) -> None:
        """Say that the step ``name`` begins: one of ``steps_after`` once the learning is done, else one before it."""
        number = self.steps_after.index(name) + 1 if name in self.steps_after else 0
        units = self._learning_units + self.after_units * (number - 1) / len(self.steps_after) if number else 0.0
        self._send(Progress(stage="step", epoch=self.epoch, epochs=self.epochs, batch=self.batches if number else 0,
                            batches=self.batches, loss=self.last[0], accuracy=self.last[1], elapsed=self._elapsed(),
                            fraction_done=self._fraction(units), seconds_left=self._seconds_left(units), step=name,
                            step_number=number, steps=len(self.steps_after)))

    @property
    def _learning_units(self) -> int:
        return self.epochs * self.batches

    def _elapsed(self) -> float:
        return time.perf_counter() - self.started

    def _fraction(self, units: float) -> float:
        return min(1.0, units / (self._learning_units + self.after_units))

    def _seconds_left(self, units: float) -> float | None:
        return None if self.pace is None else self.pace * max(0.0, self._learning_units + self.after_units - units)

    def _report(self, stage: str, batch: int, logs: dict):
        elapsed = self._elapsed()
        units = (self.epoch - 1) * self.batches + batch
        if self.paced_from is None:
            self.paced_from = (units, elapsed)
        elif units - self.paced_from[0] >= PACE_AFTER_BATCHES:
            self.pace = (elapsed - self.paced_from[1]) / (units - self.paced_from[0])
        self.last = (float(logs.get("loss", np.nan)), float(logs.get("accuracy", np.nan)))
        self._send(Progress(stage=stage, epoch=self.epoch, epochs=self.epochs, batch=batch, batches=self.batches,
                            loss=self.last[0], accuracy=self.last[1], elapsed=elapsed,
                            validation_loss=_optional_float(logs.get("val_loss")),
                            validation_accuracy=_optional_float(logs.get("val_accuracy")),
                            fraction_done=self._fraction(units), seconds_left=self._seconds_left(units)))

    def _send(self, progress: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)


def first_step(name: str) -> Progress:
    """The event of a step that comes before a run's relay is made (a fine-tune's loading of its model, say)."""
    return Progress(stage="step", epoch=1, epochs=1, batch=0, batches=0, loss=np.nan, accuracy=np.nan, elapsed=0.0,
                    step=name)


def _optional_float(value) -> float | None:
    return None if value is None else float(value)
