"""Pictures of digits for people: enlarged without blur, laid out in grids, and shown a page at a time."""

from __future__ import annotations

import numpy as np


def as_uint8(image: np.ndarray) -> np.ndarray:
    """An image as uint8 0–255; float images are taken to be in [0, 1]."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


def enlarge(image: np.ndarray, scale: int = 4) -> np.ndarray:
    """Each pixel as a ``scale``×``scale`` square, so a browser shows crisp pixels, not a blur."""
    return np.kron(as_uint8(image), np.ones((scale, scale), dtype=np.uint8))


def montage(images: np.ndarray, columns: int = 10, scale: int = 2, gap: int = 2, gap_value: int = 64) -> np.ndarray:
    """Images side by side in rows of ``columns``, enlarged, with thin gray gaps between them."""
    images = [enlarge(image, scale) for image in images]
    if not images:
        return np.zeros((0, 0), dtype=np.uint8)
    height, width = images[0].shape
    rows = -(-len(images) // columns)
    sheet = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), gap_value, dtype=np.uint8)
    for index, image in enumerate(images):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        sheet[top : top + height, left : left + width] = image
    return sheet


def page_count(count: int, per_page: int) -> int:
    """How many pages ``count`` images fill at ``per_page`` a page: at least one, an empty one for none."""
    return max(1, -(-count // per_page))


def page_of(indices: np.ndarray, page: int, per_page: int) -> np.ndarray:
    """The ``indices`` on page ``page`` (counted from 1, as people do) at ``per_page`` a page."""
    return indices[(page - 1) * per_page : page * per_page]
