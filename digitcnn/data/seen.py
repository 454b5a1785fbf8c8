"""Which images a model trained on, and which of a dataset's images none of some models ever saw.

A score on images a model trained on is not a test score. So every saved model keeps a
:class:`TrainingRecord` of the images it learned from, and any dataset is checked against it:

    dataset = load_dataset("embedded")
    part = overlap([("default", registry.load_training_record("default"))], dataset)
    part.describe()          # "seen in training: 5,000 of 5,000 — no unseen images to test on"
    part.unseen(dataset)     # the images to score it on (None when there are none)

An image's fingerprint is the first 8 bytes of the BLAKE2b digest of its 784 pixel bytes, as a
number. The label is left out on purpose: a model that learned a picture has seen it whatever label
another file gives it, so a relabelled copy must count as seen (its score would flatter the model).
Eight bytes make a false match (two different images with one fingerprint) a chance of n·m/2⁶⁴ for n
images checked against a record of m: 4×10⁻⁹ for the full MNIST against a million; they are exact for the
sources the app offers (MNIST's 70,000 images give 70,000 fingerprints; none of its test images is
a training image). A :class:`~digitcnn.data.Dataset` computes its fingerprints once, when first
asked (70,000 images: about 0.1 s on one core), never while reading a drawing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from digitcnn.errors import ModelFileError
from digitcnn.percentages import share_text

DIGEST_BYTES = 8
RECORD_MAGIC = b"DigitCNN-seen/1\n"  # a record file: these 16 bytes, then the sorted fingerprints, little-endian
_DIGEST_TYPE = np.dtype("<u8")


def image_digests(images: np.ndarray) -> np.ndarray:
    """The fingerprint of each uint8 image (N, 28, 28): uint64 (N,), see the module's description."""
    flat = np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), -1)
    blake2b = hashlib.blake2b
    joined = b"".join(blake2b(row, digest_size=DIGEST_BYTES).digest() for row in flat)
    return np.frombuffer(joined, dtype=_DIGEST_TYPE).astype(np.uint64)


def _digests_of(images) -> np.ndarray:
    """The fingerprints of a Dataset (its cached ones), a record, or an array of uint8 images."""
    if isinstance(images, TrainingRecord):
        return images.digests
    cached = getattr(images, "image_digests", None)
    return cached if cached is not None else image_digests(images)


@dataclass(frozen=True, eq=False)
class TrainingRecord:
    """The images one model trained on: their fingerprints, sorted and each once (uint64, read-only)."""

    digests: np.ndarray

    @classmethod
    def of(cls, *image_sets) -> TrainingRecord:
        """The record of a model trained on ``image_sets``: Datasets, arrays of uint8 images, or records."""
        parts = [_digests_of(images) for images in image_sets]
        digests = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.uint64)
        digests.setflags(write=False)
        return cls(digests)

    def union(self, *image_sets) -> TrainingRecord:
        """This record and ``image_sets`` (Datasets, image arrays or records): a fine-tuned model's."""
        return TrainingRecord.of(self, *image_sets)

    def __len__(self) -> int:
        return len(self.digests)

    def seen(self, images) -> np.ndarray:
        """Whether each of ``images`` (a Dataset or an image array) is one this record holds (booleans)."""
        digests = _digests_of(images)
        if not len(self.digests):
            return np.zeros(len(digests), bool)
        positions = np.minimum(np.searchsorted(self.digests, digests), len(self.digests) - 1)
        return self.digests[positions] == digests

    def to_bytes(self) -> bytes:
        """The record as its file holds it."""
        return RECORD_MAGIC + self.digests.astype(_DIGEST_TYPE).tobytes()

    @classmethod
    def from_bytes(cls, content: bytes, where: str) -> TrainingRecord:
        """The record in ``content`` (what :meth:`to_bytes` wrote); :class:`ModelFileError` starting with
        ``where`` for anything else."""
        body = content[len(RECORD_MAGIC):]
        if not content.startswith(RECORD_MAGIC) or len(body) % DIGEST_BYTES:
            raise ModelFileError(f"{where}: not a record of the images a model trained on")
        digests = np.frombuffer(body, dtype=_DIGEST_TYPE).astype(np.uint64)
        if len(digests) > 1 and not (digests[1:] > digests[:-1]).all():
            raise ModelFileError(f"{where}: its fingerprints are not sorted (changed by hand?)")
        digests.setflags(write=False)
        return cls(digests)


@dataclass(frozen=True, eq=False)
class Overlap:
    """How many of some images the models in question trained on. ``seen_mask`` says it for each image
    (True: at least one of the models trained on it); None when it is not known, because a model does not
    record what it trained on (``unknown`` names those)."""

    total: int
    seen_mask: np.ndarray | None
    unknown: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return self.seen_mask is not None

    @property
    def seen(self) -> int | None:
        """How many of the images were seen in training; None when not known."""
        return None if self.seen_mask is None else int(self.seen_mask.sum())

    @property
    def unseen_count(self) -> int | None:
        return None if self.seen_mask is None else self.total - self.seen

    def unseen(self, dataset):
        """The images of ``dataset`` (the one checked) that no model in question trained on, as a Dataset; None
        when there are none or it is not known."""
        if not self.unseen_count:
            return None
        if not self.seen:
            return dataset
        return dataset.subset(np.flatnonzero(~self.seen_mask), f"{dataset.source} (the part not seen in training)")

    def describe(self) -> str:
        """In words, e.g. "seen in training: 5,000 of 5,000 — no unseen images to test on"."""
        if not self.known:
            return (f"not known which images {_names(self.unknown)} trained on (imported, or saved before models "
                    f"recorded it): no score here is a test score")
        if not self.seen:
            return f"seen in training: none of the {self.total:,}"
        if self.seen == self.total:
            return f"seen in training: {self.seen:,} of {self.total:,} — no unseen images to test on"
        return (f"seen in training: {self.seen:,} of {self.total:,} — tested on the "
                f"{self.unseen_count:,} unseen ones alone")


def overlap(records: Iterable[tuple[str, TrainingRecord | None]], images) -> Overlap:
    """Which of ``images`` (a Dataset or an array of them) any of the named models trained on; ``records`` gives
    each model's name and record (None: it has none, and then whether they were seen is not known)."""
    records = list(records)
    total = len(_digests_of(images))
    unknown = tuple(name for name, record in records if record is None)
    if unknown:
        return Overlap(total, None, unknown)
    mask = np.zeros(total, bool)
    for _, record in records:
        mask |= record.seen(images)
    return Overlap(total, mask)


def card_score_text(card) -> str:
    """The accuracy a model card gives, in words that never call it a test score when the model trained on
    those images, e.g. "test accuracy 99.60% on 10,000 images of MNIST (IDX)" or "accuracy 99.64% on 1,650
    images of … (seen in training: 1,650 of 1,650 — not a test)"."""
    test = "test accuracy" if card.test_images_seen == 0 else "accuracy"
    return f"{test} {share_text(card.test_accuracy)} on {card.test_size:,} images of {card.data_source}{card_test_note(card)}"


def card_test_note(card) -> str:
    """What a model card's test scores are, when not test scores: "" for test scores, else e.g. " (seen in
    training: 1,650 of 1,650 — not a test)"."""
    seen = card.test_images_seen
    if seen == 0:
        return ""
    if seen is None:
        return " (not known whether it trained on them: not a test)"
    return f" (seen in training: {seen:,} of {card.test_size:,} — not a test)"


def dataset_text(card, record: TrainingRecord | None, dataset) -> str:
    """How many of ``dataset``'s images, and of its own test images, the model of ``card`` (whose record is
    ``record``) trained on, in words, e.g. "Seen in training by default: 5,000 of these 5,000 images — no unseen
    images to test on"; for a model without a record, what its card says it trained on."""
    name = card.name
    if card.imported is not None:
        return (f"{name} was imported: which images it trained on is not known (a tutorial's model learned MNIST's "
                f"training images, the embedded sample's included), so a score on these images may be no test.")
    if record is None:
        return (f"Which images {name} trained on is not recorded (its card says {card.train_size:,} images of "
                f"{card.data_source}): a score on these images may be no test.")
    seen = overlap([(name, record)], dataset)
    text = f"Seen in training by {name}: {_count(seen.seen)} of these {seen.total:,} images"
    if dataset.test is not None:
        tested = overlap([(name, record)], dataset.test)
        return f"{text}; {_count(tested.seen)} of the {tested.total:,} test images."
    return text + (" — no unseen images to test on." if seen.seen == seen.total else ".")


def _count(number: int) -> str:
    return f"{number:,}" if number else "none"


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1] if names else "the model"
