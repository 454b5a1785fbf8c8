"""Where things live, and the ``DIGITCNN_*`` environment variables. Arguments win, then the variables,
then these defaults.

Every variable is declared here once (:data:`VARIABLES`): its name, what it sets, and what it accepts.
The app and the command line check them all when they start (:func:`check_environment`), so a bad value
is one line naming the variable and what it takes, instead of a failure wherever it is first read. The
numbers are checked again where they are read; the paths are not (see :func:`_resolve`).
"""

from __future__ import annotations

import os
import re
import reprlib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from digitcnn.errors import SettingsError
from digitcnn.settings import NUMBER, WHOLE, Setting

PROJECT_ROOT = Path(__file__).resolve().parent.parent

MODELS_DIR_VARIABLE = "DIGITCNN_MODELS_DIR"
DATA_DIR_VARIABLE = "DIGITCNN_DATA_DIR"
MNIST_DIR_VARIABLE = "DIGITCNN_MNIST_DIR"
MAX_CSV_MB_VARIABLE = "DIGITCNN_MAX_CSV_MB"
DRAWINGS_DB_VARIABLE = "DIGITCNN_DRAWINGS_DB"
THREADS_VARIABLE = "DIGITCNN_THREADS"
MAX_TRAININGS_VARIABLE = "DIGITCNN_MAX_TRAININGS"
RAY_ADDRESS_VARIABLE = "DIGITCNN_RAY_ADDRESS"
MNIST_URL_VARIABLE = "DIGITCNN_MNIST_URL"
DEFAULT_MAX_CSV_MB = 200  # the full MNIST training set as a CSV is about 110 MB
DEFAULT_MODEL_NAME = "default"
# The CVDF's mirror of Yann LeCun's MNIST files, the one TensorFlow Datasets downloads from (LeCun's own
# site, http://yann.lecun.com/exdb/mnist/, often refuses downloads now).
DEFAULT_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
MNIST_DOWNLOAD_FOLDER = "mnist"  # the folder of the data folder that the full MNIST is downloaded into
_URL_SCHEMES = ("http", "https", "file")
MAX_THREADS = 1024  # far above any CPU this runs on, far below what overflows TensorFlow's setting
_RAY_ADDRESS = re.compile(r"auto|(ray://)?(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>[0-9]{1,5})")


@dataclass(frozen=True)
class Variable:
    """One ``DIGITCNN_*`` variable: its ``name``, what it ``sets`` and what it ``accepts`` (in words), and
    ``parse``, which turns its text into its value, raising ``ValueError`` for a value it does not accept."""

    name: str
    sets: str
    accepts: str
    parse: Callable[[str], object]

    def value(self):
        """The variable's value; None when it is unset or empty. A value it does not accept raises
        :class:`SettingsError` naming the variable, the value and what it accepts, on one line."""
        text = os.environ.get(self.name)
        if not text:
            return None
        try:
            return self.parse(text)
        except (ValueError, OverflowError):
            raise SettingsError(f"{self.name}={reprlib.repr(text)} is not {self.accepts} ({self.sets})") from None


def _number(setting: Setting, parse: Callable[[str], float]) -> Callable[[str], float]:
    def parse_number(text: str) -> float:
        number = parse(text)
        if not setting.allows(number):
            raise ValueError(text)
        return number
    return parse_number


def _folder(must_exist: bool) -> Callable[[str], Path]:
    def parse_folder(text: str) -> Path:
        path = Path(text)
        if path.is_dir() or not (must_exist or path.exists()):
            return path
        raise ValueError(text)
    return parse_folder


def _file(text: str) -> Path:
    if Path(text).is_dir():
        raise ValueError(text)
    return Path(text)


def _url(text: str) -> str:
    address = urllib.parse.urlsplit(text)
    if address.scheme not in _URL_SCHEMES or address.scheme != "file" and not address.hostname:
        raise ValueError(text)
    return text


def _ray_address(text: str) -> str:
    address = _RAY_ADDRESS.fullmatch(text)
    if address is None or address["port"] is not None and not 1 <= int(address["port"]) <= 65535:
        raise ValueError(text)
    return text


COUNT = Setting("a count", WHOLE, low=1, high=MAX_THREADS)  # threads, trainings: the variables and arguments
_MEGABYTES = Setting("megabytes", NUMBER, low=0, above_low=True)
VARIABLES = {variable.name: variable for variable in (
    Variable(MODELS_DIR_VARIABLE, "where models are saved", "a folder (made when a model is first saved)",
             _folder(must_exist=False)),
    Variable(DATA_DIR_VARIABLE, "where the app looks for datasets", "a folder", _folder(must_exist=False)),
    Variable(MNIST_DIR_VARIABLE, "the folder of MNIST's IDX files", "an existing folder", _folder(must_exist=True)),
    Variable(MAX_CSV_MB_VARIABLE, "the largest CSV read", f"a size in megabytes, {_MEGABYTES.rule()}",
             _number(_MEGABYTES, float)),
    Variable(DRAWINGS_DB_VARIABLE, "the file of kept drawings", "a file, not a folder", _file),
    Variable(THREADS_VARIABLE, "the cap on TensorFlow's CPU threads", COUNT.rule(), _number(COUNT, int)),
    Variable(MAX_TRAININGS_VARIABLE, "how many trainings one server runs at once", COUNT.rule(),
             _number(COUNT, int)),
    Variable(RAY_ADDRESS_VARIABLE, "the Ray cluster trainings run on", "auto, HOST:PORT or ray://HOST:PORT",
             _ray_address),
    Variable(MNIST_URL_VARIABLE, "where the full MNIST is downloaded from",
             "an http://, https:// or file:// address of a folder", _url),
)}


def check_environment() -> None:
    """Read every ``DIGITCNN_*`` variable once, so that a bad value is found at the start: the first one
    not accepted raises :class:`SettingsError` (see :meth:`Variable.value`)."""
    for variable in VARIABLES.values():
        variable.value()


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


def mnist_download_dir(data_folder: str | os.PathLike | None = None) -> Path:
    """The folder the full MNIST is downloaded into: ``mnist/`` in the data folder (see :func:`data_dir`),
    where the app lists it among the sources."""
    return data_dir(data_folder) / MNIST_DOWNLOAD_FOLDER


def mnist_url(address: str | None = None) -> str:
    """The address of the folder the full MNIST is downloaded from: ``address``, else ``$DIGITCNN_MNIST_URL``,
    else :data:`DEFAULT_MNIST_URL`; a variable that is not such an address raises :class:`SettingsError`."""
    if address:
        variable = VARIABLES[MNIST_URL_VARIABLE]
        try:
            return variable.parse(address)
        except ValueError:
            raise SettingsError(f"{reprlib.repr(address)} is not {variable.accepts}") from None
    return VARIABLES[MNIST_URL_VARIABLE].value() or DEFAULT_MNIST_URL


def max_csv_bytes() -> int:
    """The largest CSV the loader reads: ``$DIGITCNN_MAX_CSV_MB`` megabytes, else 200 MB; a value that
    is not a positive number raises :class:`SettingsError`."""
    return int((VARIABLES[MAX_CSV_MB_VARIABLE].value() or DEFAULT_MAX_CSV_MB) * 1_000_000)


def keras_mnist_cache() -> Path:
    """Where ``keras.datasets.mnist.load_data()`` keeps ``mnist.npz`` (honours ``$KERAS_HOME``)."""
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(keras_home) / "datasets" / "mnist.npz"


def _resolve(path, variable: str, default: Path) -> Path:
    """``path``, else ``$variable``, else ``default``. The variable is not checked again here: a folder
    that is removed or replaced while the app runs is found where it is used (a save names it)."""
    if path is not None:
        return Path(path)
    value = os.environ.get(variable)
    return Path(value) if value else default
