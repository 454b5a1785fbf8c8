"""Which images a run learns from, validates on and is scored on: its training and test images (:func:`make_split`,
counted without making the split by :func:`train_size`), the training digits it holds out of the fit to validate
after each epoch (:func:`validation_split`), and the sample of its training digits that its training scores and
its temperature are measured on (:func:`train_score_sample`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from digitcnn.data import Dataset, split_dataset
from digitcnn.data.seen import TrainingRecord
from digitcnn.errors import DataError
from digitcnn.training.recipes import TrainingConfig

# The training accuracy and the temperature are measured on at most this many training digits, drawn with the
# run's seed: all 60,000 of full MNIST took 16 s of a 2-core quick run (a seventh of it). Measured on the shipped
# model's 60,000 training digits (99.43%, temperature 1.033): three samples of 5,000 gave 99.30–99.52% and
# 1.018–1.047, three of 10,000 99.36–99.50% and 0.996–1.050, for half the predictions (about 1.5 s of a quick run).
TRAIN_SCORE_SAMPLE = 5_000
# A run holds this share of its training digits out of the fit, at most MAX_VALIDATION_IMAGES, and scores them after
# each epoch: the validation curve beside the training curve, where overfitting shows (Keras's MNIST example holds
# out a tenth). Never its test images. Fewer than MIN_VALIDATION_IMAGES would draw a curve of noise: none then.
VALIDATION_SHARE = 0.1
MAX_VALIDATION_IMAGES = 5_000
MIN_VALIDATION_IMAGES = 20


@dataclass(frozen=True)
class Split:
    """The images a model learns from, the images it is scored on, and how they were chosen."""

    source: str  # the name of the dataset that was split
    train: Dataset
    test: Dataset
    method: str  # "holdout" or "own"

    def describe(self) -> str:
        """One line for people: sizes and how the test set was chosen."""
        how = "the source's own test set" if self.method == "own" else "held out at random"
        return f"{len(self.train):,} training images, {len(self.test):,} test images ({how})"


def make_split(dataset: Dataset, config: TrainingConfig) -> Split:
    """Choose training and test images as ``config`` says (see :class:`TrainingConfig`). A test image that is a
    copy of a training image (a CSV may hold a row twice) is left out of the test images: the model saw it."""
    dataset.image_digests  # noqa: B018 - computed once for the dataset; its parts take theirs from it
    if _uses_own_test_set(dataset, config):
        if dataset.test is None:
            raise DataError(f"{dataset.source}: has no test set of its own; hold out a fraction instead")
        train_set, test_set, method = dataset.subset(slice(None)), dataset.test, "own"
    else:
        train_set, test_set = split_dataset(dataset, config.test_fraction, config.seed, config.stratify)
        method = "holdout"
    if config.train_limit is not None and len(train_set) > config.train_limit:
        chosen = np.random.default_rng(config.seed).permutation(len(train_set))[: config.train_limit]
        train_set = train_set.subset(np.sort(chosen))
    copies = TrainingRecord.of(train_set).seen(test_set)
    if copies.all():
        raise DataError(f"{dataset.source}: each of its {len(test_set):,} test images is also one of its training "
                        f"images: none is left to test on")
    if copies.any():
        test_set = test_set.subset(np.flatnonzero(~copies))
    return Split(dataset.source, train_set, test_set, method)


def train_size(dataset: Dataset, config: TrainingConfig) -> int:
    """How many training digits :func:`make_split` chooses from ``dataset`` with ``config``, counted without
    choosing them: a split copies the images it keeps (on the train page that took 0.06 s for a quick run on full
    MNIST, and 0.6 s on the embedded sample where it first imported scikit-learn), and a warning needs the count."""
    if _uses_own_test_set(dataset, config):
        count = len(dataset)
    else:  # scikit-learn's train_test_split rounds the held-out part up
        count = len(dataset) - math.ceil(config.test_fraction * len(dataset))
    return count if config.train_limit is None else min(count, config.train_limit)


def _uses_own_test_set(dataset: Dataset, config: TrainingConfig) -> bool:
    return config.test_set == "own" or (config.test_set == "auto" and dataset.test is not None)


def validation_split(train_set: Dataset, config: TrainingConfig) -> tuple[Dataset, Dataset | None]:
    """The training digits a run learns from, and those it holds out to validate after each epoch (None when it
    does not: ``validate_each_epoch`` off, or too few digits): :data:`VALIDATION_SHARE` of them, at most
    :data:`MAX_VALIDATION_IMAGES`, chosen with the run's seed. Never test images: those score the model once, at
    the end."""
    count = min(MAX_VALIDATION_IMAGES, round(VALIDATION_SHARE * len(train_set)))
    if not config.validate_each_epoch or count < MIN_VALIDATION_IMAGES:
        return train_set, None
    held_out = np.zeros(len(train_set), dtype=bool)
    held_out[np.random.default_rng(config.seed).permutation(len(train_set))[:count]] = True
    return train_set.subset(np.flatnonzero(~held_out)), train_set.subset(np.flatnonzero(held_out))


def train_score_sample(train_set: Dataset, seed: int) -> Dataset:
    """The training digits a model's training scores are measured on: at most :data:`TRAIN_SCORE_SAMPLE`."""
    if len(train_set) <= TRAIN_SCORE_SAMPLE:
        return train_set
    chosen = np.random.default_rng(seed).choice(len(train_set), TRAIN_SCORE_SAMPLE, replace=False)
    return train_set.subset(np.sort(chosen))
