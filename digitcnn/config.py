"""Where things live. Arguments win, then ``DIGITCNN_*`` environment variables, then these defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from digitcnn.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

MODELS_DIR_VARIABLE = "DIGITCNN_MODELS_DIR"
DATA_DIR_VARIABLE = "DIGITCNN_DATA_DIR"
MNIST_DIR_VARIABLE = "DIGITCNN_MNIST_DIR"
MAX_CSV_MB_VARIABLE = "DIGITCNN_MAX_CSV_MB"
DRAWINGS_DB_VARIABLE = "DIGITCNN_DRAWINGS_DB"
DEFAULT_MAX_CSV_MB = 200  # the full MNIST training set as a CSV is about 110 MB
DEFAULT_MODEL_NAME = "default"


def models_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder of saved models: ``path``, else ``$DIGITCNN_MODELS_DIR``, else ``models/``."""
    return _resolve(path, MODELS_DIR_VARIABLE, PROJECT_ROOT / "models")


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder users drop datasets into: ``path``, else ``$DIGITCNN_DATA_DIR``, else ``data/``."""
    return _resolve(path, DATA_DIR_VARIABLE, PROJECT_ROOT / "data")


def drawings_db(path: str | os.PathLike | None = None) -> Path:
    """The database of the drawings users keep with their labels: ``path``, else ``$DIGITCNN_DRAWINGS_DB``,
    else ``drawings.sqlite`` in the data folder (``data/``)."""
    return _resolve(path, DRAWINGS_DB_VARIABLE, data_dir() / "drawings.sqlite")


def mnist_dir() -> Path | None:
    """The folder of the canonical MNIST IDX files named by ``$DIGITCNN_MNIST_DIR``, if it exists."""
    value = os.environ.get(MNIST_DIR_VARIABLE)
    if value and Path(value).is_dir():
        return Path(value)
    return None


def max_csv_bytes() -> int:
    """The largest CSV the loader reads: ``$DIGITCNN_MAX_CSV_MB`` megabytes, else 200 MB; a value that
    is not a positive number raises :class:`SettingsError`."""
    megabytes = positive_number_setting(MAX_CSV_MB_VARIABLE, float, "a size in megabytes above 0")
    return int((megabytes or DEFAULT_MAX_CSV_MB) * 1_000_000)


def positive_number_setting(variable: str, parse: Callable[[str], float], expected: str,
                            maximum: float = float("inf")) -> float | None:
    """``$variable`` read by ``parse`` (``int`` or ``float``), or None when it is unset or empty.
    A value that does not parse, or is not a finite number above 0 and at most ``maximum``,
    raises :class:`SettingsError` saying it is not ``expected``."""
    value = os.environ.get(variable)
    if not value:
        return None
    try:
        number = parse(value)
    except ValueError:
        number = 0
    if not 0 < number < float("inf") or number > maximum:
        raise SettingsError(f"{variable}={value!r} is not {expected}")
    return number


def keras_mnist_cache() -> Path:
    """Where ``keras.datasets.mnist.load_data()`` keeps ``mnist.npz`` (honours ``$KERAS_HOME``)."""
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(keras_home) / "datasets" / "mnist.npz"


def _resolve(path, variable: str, default: Path) -> Path:
    if path is not None:
        return Path(path)
    value = os.environ.get(variable)
    return Path(value) if value else default
