"""The :class:`Dataset` every source ends as, the limits every source checks against, and what is done
with a dataset once loaded: holding part of it out for testing, scaling it for the network.

A Dataset is uint8 images N×28×28 (0 = background, 255 = ink), int labels 0–9, the name of its source,
and the source's own test set when it has one; it validates itself when made, so no source can hand
on a malformed one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from digitcnn.errors import DataError, SettingsError

IMAGE_SIDE = 28
PIXEL_COUNT = IMAGE_SIDE * IMAGE_SIDE
NOT_A_DIGIT = -1  # the label of a picture that is no digit: a generated non-digit, a drawing kept as one

# The most values (pixels, or labels) any file may declare: about twice the full MNIST's 70,000 × 784 = 55 million.
# Headers are checked against it before data is read, so a small file cannot claim its way into gigabytes.
MAX_PIXELS = 100_000_000


@dataclass(frozen=True, eq=False)
class Dataset:
    """Digit images with their labels, from one named source.

    ``images`` is uint8 (N, 28, 28), 0 = background, 255 = ink; ``labels`` is int64 (N,) in
    0–9; ``test`` is the source's own held-out set (MNIST's 10,000) when it ships one.
    """

    images: np.ndarray
    labels: np.ndarray
    source: str
    test: Dataset | None = None

    def __post_init__(self):
        images, labels = self.images, self.labels
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise DataError(
                f"{self.source}: images must be uint8 of shape (N, 28, 28), got {images.dtype} {images.shape}"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(f"{self.source}: {len(images)} images but {labels.size} labels")
        if len(images) == 0:
            raise DataError(f"{self.source}: holds no images")
        outside = (labels < 0) | (labels > 9)
        if outside.any():
            index = int(np.argmax(outside))
            raise DataError(f"{self.source}: label {labels[index]} of image {index} is not a digit 0–9")
        object.__setattr__(self, "labels", labels.astype(np.int64, copy=False))
        for array in (self.images, self.labels):
            array.setflags(write=False)  # datasets are shared between users of an app: never changed

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices, source: str | None = None) -> Dataset:
        """The images at ``indices`` (without a test set), named ``source`` or after this one."""
        part = Dataset(self.images[indices], self.labels[indices], source or self.source)
        if "image_digests" in self.__dict__:  # computed already: the part's are a slice of them, not computed again
            part.__dict__["image_digests"] = self.image_digests[indices]
        return part

    @cached_property
    def image_digests(self) -> np.ndarray:
        """Each image's fingerprint (uint64; see :mod:`digitcnn.data.seen`), computed when first asked: what tells
        whether a model trained on an image."""
        from digitcnn.data.seen import image_digests

        digests = image_digests(self.images)
        digests.setflags(write=False)
        return digests

    @cached_property
    def fingerprint(self) -> str:
        """A short digest of the images and labels: equal datasets share it, others do not."""
        digest = hashlib.blake2b(digest_size=12)
        for array in (self.images, self.labels):
            digest.update(np.ascontiguousarray(array).data)
        return digest.hexdigest()

    def class_counts(self) -> np.ndarray:
        """How many images of each digit 0–9 there are."""
        return np.bincount(self.labels, minlength=10)


def split_dataset(dataset: Dataset, test_fraction: float, seed: int, stratify: bool = False) -> tuple[Dataset, Dataset]:
    """Hold out ``test_fraction`` of ``dataset`` for testing, as the tutorial does with scikit-learn's
    ``train_test_split`` (its settings, 33% and seed 42, are :class:`~digitcnn.training.TrainingConfig`'s defaults)."""
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise SettingsError(f"test fraction must be between 0 and 1, got {test_fraction}")
    indices = np.arange(len(dataset))
    try:
        train_indices, test_indices = train_test_split(
            indices,
            test_size=test_fraction,
            random_state=seed,
            stratify=dataset.labels if stratify else None,
        )
    except ValueError as error:
        raise DataError(f"{dataset.source}: cannot hold out {test_fraction:.0%} for testing ({error})") from None
    return (
        dataset.subset(train_indices, f"{dataset.source} (training part)"),
        dataset.subset(test_indices, f"{dataset.source} (held-out test part)"),
    )


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) as the network's input: float32 (N, 28, 28, 1) in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]
