"""MNIST's canonical IDX files: a folder of the four (gzipped or not) as a :class:`Dataset` with its test set,
and one IDX file read into an array (also what :mod:`digitcnn.data.download` checks a fetched file with).
Each header is checked against :data:`~digitcnn.data.dataset.MAX_PIXELS` before its data is read."""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from digitcnn import files
from digitcnn.data.dataset import IMAGE_SIDE, MAX_PIXELS, Dataset
from digitcnn.errors import DataError

IDX_FILES = {  # MNIST's names for its four files; a folder holding the first is a source (see find_idx_file)
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_UBYTE_TYPE = 0x08
_IDX_MAX_DIMENSIONS = 3


def load_idx_folder(folder: str | os.PathLike) -> Dataset:
    """MNIST's canonical IDX files (gzipped or not) in ``folder``: the training set, and the
    10,000-image test set as ``test`` when its files are there."""
    folder = Path(folder)
    found = {key: find_idx_file(folder, name) for key, name in IDX_FILES.items()}
    for key in ("train_images", "train_labels"):
        if found[key] is None:
            raise DataError(f"{folder.name}/: no {IDX_FILES[key]} (or .gz) file; is this an MNIST IDX folder?")
    test = None
    if found["test_images"] and found["test_labels"]:
        test = _idx_pair(found["test_images"], found["test_labels"], "MNIST (IDX) test set")
    # Named for what it is, not where: the name goes into model cards, which travel to other machines.
    train = _idx_pair(found["train_images"], found["train_labels"], "MNIST (IDX)")
    return Dataset(train.images, train.labels, train.source, test)


def read_idx(path: str | os.PathLike, dimensions: int | None = None) -> np.ndarray:
    """Read one IDX file of unsigned bytes (gzipped or not) into an array of its shape.

    The header comes first: its shape must have ``dimensions`` dimensions (1 to 3 when not
    given) and at most :data:`MAX_PIXELS` values. Then exactly that many bytes are read, plus one
    to catch trailing data, so a gzip bomb is never unpacked beyond what its header declares.
    """
    path = Path(path)
    try:
        with files.open_regular(path) as opened:
            gzipped = opened.read(2) == b"\x1f\x8b"
            opened.seek(0)
            with gzip.GzipFile(fileobj=opened) if gzipped else contextlib.nullcontext(opened) as handle:
                shape, header_size = _idx_header(handle, path.name, dimensions)
                count = math.prod(shape)
                content = handle.read(count + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path.name}: cannot be read ({files.reason(error)})") from None
    if len(content) < count:
        raise DataError(
            f"{path.name}: {header_size + len(content):,} bytes, expected {header_size + count:,} "
            f"for shape {shape} (truncated?)"
        )
    if len(content) > count:
        raise DataError(f"{path.name}: more bytes than its shape {shape} holds (trailing data?)")
    return np.frombuffer(content, dtype=np.uint8).reshape(shape)


def find_idx_file(folder: Path, name: str) -> Path | None:
    """The IDX file ``name`` in ``folder`` under any name MNIST's mirrors give it (``.gz``, ``.idx`` for ``-idx``)."""
    for candidate in (name, name + ".gz", name.replace("-idx", ".idx"), name.replace("-idx", ".idx") + ".gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _idx_pair(images_path: Path, labels_path: Path, source: str) -> Dataset:
    images, labels = read_idx(images_path, dimensions=3), read_idx(labels_path, dimensions=1)
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"{images_path.name}: images of shape {images.shape[1:]}, expected 28×28")
    if len(labels) != len(images):
        raise DataError(f"{labels_path.name}: {labels.size} labels for {len(images)} images in {images_path.name}")
    return Dataset(images, labels.astype(np.int64), source)


def _idx_header(handle, name: str, dimensions: int | None) -> tuple[tuple[int, ...], int]:
    """The shape an IDX header declares, and the header's size; checked before any data is read.
    The size is a Python int: dimensions of 2³¹ cannot wrap around as NumPy's int64 would."""
    magic = handle.read(4)
    if len(magic) < 4 or magic[0:2] != b"\x00\x00" or magic[2] != _IDX_UBYTE_TYPE:
        raise DataError(f"{name}: not an IDX file of unsigned bytes (bad magic number)")
    count = magic[3]
    if count not in ((dimensions,) if dimensions else range(1, _IDX_MAX_DIMENSIONS + 1)):
        raise DataError(f"{name}: {count} dimensions, expected {dimensions or f'1 to {_IDX_MAX_DIMENSIONS}'}")
    sizes = handle.read(4 * count)
    if len(sizes) < 4 * count:
        raise DataError(f"{name}: truncated header")
    shape = tuple(int.from_bytes(sizes[i : i + 4], "big") for i in range(0, len(sizes), 4))
    if math.prod(shape) > MAX_PIXELS:
        raise DataError(
            f"{name}: shape {shape} declares {math.prod(shape):,} values, more than the {MAX_PIXELS:,} "
            "a dataset may hold (about twice the full MNIST)"
        )
    return shape, 4 + 4 * count
