"""What a dataset holds, in numbers and tables: for the dataset browser and reports."""

from __future__ import annotations

import numpy as np
import pandas as pd

from digitcnn.data.dataset import IMAGE_SIDE, PIXEL_COUNT, Dataset


def overview(dataset: Dataset) -> dict:
    """Headline figures: image counts, image shape, pixel range and how much of it is ink."""
    images = dataset.images
    return {
        "source": dataset.source,
        "images": len(dataset),
        "test images": 0 if dataset.test is None else len(dataset.test),
        "image shape": "×".join(map(str, images.shape[1:])),
        "pixel values": f"{int(images.min())}–{int(images.max())}",
        "mean pixel value": round(float(images.mean()), 1),
        "ink pixels (> 0)": f"{float((images > 0).mean()):.1%}",
    }


def first_rows(dataset: Dataset, count: int = 10) -> pd.DataFrame:
    """The first images as the tutorial's table: a ``Result`` column, then 784 pixel columns."""
    part = dataset.images[:count].reshape(-1, PIXEL_COUNT)
    table = pd.DataFrame(part, columns=[f"pixel{i}" for i in range(PIXEL_COUNT)])
    table.insert(0, "Result", dataset.labels[:count])
    return table


def image_statistics(dataset: Dataset) -> pd.DataFrame:
    """Descriptive statistics (count, mean, spread, quartiles) of each image's label, brightness,
    amount of ink and the size of its digit."""
    images = dataset.images
    ink = images > 0
    rows, columns = ink.any(axis=2), ink.any(axis=1)
    features = pd.DataFrame(
        {
            "label": dataset.labels,
            "mean pixel value": images.mean(axis=(1, 2)),
            "ink pixels": ink.sum(axis=(1, 2)),
            "digit height (px)": _extent(rows),
            "digit width (px)": _extent(columns),
        }
    )
    return features.describe()


def per_digit(dataset: Dataset) -> pd.DataFrame:
    """For each digit: how many images, their share, and their average brightness and ink."""
    counts = dataset.class_counts()
    ink = (dataset.images > 0).sum(axis=(1, 2))
    brightness = dataset.images.mean(axis=(1, 2))
    table = pd.DataFrame(
        {
            "images": counts,
            "share": counts / counts.sum(),
            "mean pixel value": [brightness[dataset.labels == d].mean() if counts[d] else np.nan for d in range(10)],
            "mean ink pixels": [ink[dataset.labels == d].mean() if counts[d] else np.nan for d in range(10)],
        }
    )
    table.index.name = "digit"
    return table


def mean_images(dataset: Dataset) -> np.ndarray:
    """What each digit looks like on average: (10, 28, 28) float in [0, 255] (zeros for an absent digit)."""
    means = np.zeros((10, IMAGE_SIDE, IMAGE_SIDE))
    for digit in range(10):
        chosen = dataset.images[dataset.labels == digit]
        if len(chosen):
            means[digit] = chosen.mean(axis=0)
    return means


def indices_of_digit(dataset: Dataset, digit: int, shuffle_seed: int | None = None) -> np.ndarray:
    """The positions of the images of ``digit``, in order or shuffled with ``shuffle_seed``."""
    indices = np.flatnonzero(dataset.labels == digit)
    if shuffle_seed is not None:
        indices = np.random.default_rng(shuffle_seed).permutation(indices)
    return indices


def _extent(any_ink: np.ndarray) -> np.ndarray:
    first = np.argmax(any_ink, axis=1)
    last = any_ink.shape[1] - np.argmax(any_ink[:, ::-1], axis=1)
    return np.where(any_ink.any(axis=1), last - first, 0)
