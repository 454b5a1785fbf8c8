"""``.npz`` archives in the layout of Keras's ``mnist.npz`` (x_train, y_train, x_test, y_test), read with every
array's declared size checked against :data:`~digitcnn.data.dataset.MAX_PIXELS` before its data is."""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from digitcnn import files
from digitcnn.data.dataset import IMAGE_SIDE, MAX_PIXELS, PIXEL_COUNT, Dataset
from digitcnn.errors import DataError

_NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def load_npz(path: str | os.PathLike, source: str | None = None) -> Dataset:
    """An ``.npz`` in the layout of Keras's ``mnist.npz`` (x_train, y_train, x_test, y_test).

    Images are (N, 28, 28) whole numbers 0–255: uint8, or any integer type whose values fit.
    Labels are whole numbers 0–9 of any integer type, or floats that are whole (converted);
    labels shaped (N, 1), as some exports write them, are flattened. Each array's header is read
    and its shape checked against :data:`MAX_PIXELS` before its data is, so a small archive
    cannot declare its way into gigabytes (a zip bomb).
    """
    path = Path(path)
    source = source or f"MNIST from {path.name}"
    try:
        opened = files.open_regular(path)
    except OSError as error:
        raise DataError(f"{path.name}: cannot be read ({files.reason(error)})") from None
    with opened:
        try:
            archive = zipfile.ZipFile(opened)
        except zipfile.BadZipFile:
            raise DataError(f"{path.name}: {_not_npz_reason(opened)}") from None
        with archive:
            members = {info.filename: info for info in archive.infolist()}
            for key in _NPZ_ARRAYS:
                if f"{key}.npy" not in members:
                    raise DataError(f"{path.name}: missing array {key!r}; expected {', '.join(_NPZ_ARRAYS)}")
            arrays = {key: _npz_array(archive, members[f"{key}.npy"], path.name, key) for key in _NPZ_ARRAYS}
    test = _npz_dataset(arrays, "x_test", "y_test", path.name, f"MNIST test set from {path.name}")
    train = _npz_dataset(arrays, "x_train", "y_train", path.name, source)
    return Dataset(train.images, train.labels, train.source, test)


def _not_npz_reason(opened) -> str:
    """Why the open file ``opened``, which is no zip, is not an .npz: a lone .npy array is the usual mix-up."""
    try:
        opened.seek(0)
        start = opened.read(6)
    except OSError as error:
        return f"cannot be read ({files.reason(error)})"
    if start == b"\x93NUMPY":
        return "a single .npy array, not an .npz archive (np.savez writes x_train, y_train, x_test, y_test into one)"
    return "not an .npz archive (the zip of .npy arrays that np.savez writes)"


def _npz_array(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, key: str) -> np.ndarray:
    """One array of the archive, its declared sizes checked before its data is read: the zip's
    unpacked size, then the shape and type in NumPy's header. Images come back uint8, labels int64 (N,)."""
    images = key.startswith("x_")
    widest = MAX_PIXELS * 8 + 65_536  # the most values, 8 bytes each, and a header
    if member.file_size > widest:
        raise DataError(f"{name}, {key}: unpacks to {member.file_size:,} bytes, more than the {widest:,} allowed")
    try:
        with archive.open(member) as stream:
            shape, dtype, order = _npy_header(stream, name, key)
            count = math.prod(shape)
            _check_npz_shape(shape, dtype, name, key, images)
            content = stream.read(count * dtype.itemsize)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError) as error:
        raise DataError(f"{name}, {key}: cannot be read ({files.reason(error)})") from None
    if len(content) < count * dtype.itemsize:
        raise DataError(f"{name}, {key}: truncated (its header declares shape {shape})")
    array = np.frombuffer(content, dtype=dtype).reshape(shape, order=order)
    return _npz_images(array, name, key) if images else _npz_labels(array.reshape(-1), name, key)


def _npy_header(stream, name: str, key: str) -> tuple[tuple[int, ...], np.dtype, str]:
    """The shape, type and memory order NumPy's header declares (read by NumPy's own reader; data untouched)."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        version = np.lib.format.read_magic(stream)
        if version not in readers:
            raise ValueError(f"format version {version} is not supported")
        shape, fortran_order, dtype = readers[version](stream)
    except ValueError as error:
        raise DataError(f"{name}, {key}: not a NumPy array ({error})") from None
    return shape, dtype, "F" if fortran_order else "C"


def _check_npz_shape(shape: tuple[int, ...], dtype: np.dtype, name: str, key: str, images: bool) -> None:
    if images:
        if len(shape) != 3 or shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise DataError(f"{name}, {key}: shape {shape}, expected (N, 28, 28) images")
        if dtype.kind not in "ui":
            raise DataError(f"{name}, {key}: images must be whole numbers 0–255 (uint8), got {_dtype_words(dtype)}")
    else:
        if len(shape) != 1 and (len(shape) != 2 or shape[1] != 1):
            raise DataError(f"{name}, {key}: shape {shape}, expected (N,) labels")
        if dtype.kind not in "uif":
            raise DataError(f"{name}, {key}: labels must be whole numbers 0–9, got {_dtype_words(dtype)}")
    limit = MAX_PIXELS // PIXEL_COUNT
    if shape[0] > limit:
        what = "images" if images else "labels"
        raise DataError(
            f"{name}, {key}: declares {shape[0]:,} {what}: more than {limit:,} (about twice the full MNIST); "
            "refused before reading"
        )


def _npz_images(array: np.ndarray, name: str, key: str) -> np.ndarray:
    if array.dtype != np.uint8:
        outside = (array < 0) | (array > 255)
        if outside.any():
            value = array.flat[int(np.argmax(outside))]
            raise DataError(f"{name}, {key}: images must be whole numbers 0–255, got pixel values such as {value}")
    return array.astype(np.uint8, copy=False)


def _npz_labels(labels: np.ndarray, name: str, key: str) -> np.ndarray:
    if labels.dtype.kind == "f":
        fractional = ~np.isfinite(labels) | (labels != np.round(labels))
        if fractional.any():
            value = labels[int(np.argmax(fractional))]
            raise DataError(f"{name}, {key}: labels must be whole numbers 0–9, got float values such as {value:g}")
    outside = (labels < 0) | (labels > 9)
    if outside.any():
        index = int(np.argmax(outside))
        raise DataError(f"{name}, {key}: label {int(labels[index])} of image {index} is not a digit 0–9")
    return labels.astype(np.int64)


def _npz_dataset(arrays: dict, images_key: str, labels_key: str, name: str, source: str) -> Dataset:
    images, labels = arrays[images_key], arrays[labels_key]
    if len(images) != len(labels):
        raise DataError(f"{name}: {images_key} holds {len(images):,} images but {labels_key} {len(labels):,} labels")
    return Dataset(images, labels, source)


def _dtype_words(dtype: np.dtype) -> str:
    words = {"b": "true/false values", "c": "complex numbers", "f": "float values", "U": "text", "S": "bytes",
             "O": "Python objects", "V": "records", "M": "dates", "m": "time spans"}
    return f"{words.get(dtype.kind, 'values')} ({dtype})"
