"""Getting the full MNIST: its four canonical files (IDX, gzipped), from an address on the web into ``mnist/`` in
the data folder, where the app and the command line find it.

The address is a folder's (``config.mnist_url``: an argument, ``$DIGITCNN_MNIST_URL``, else the CVDF's mirror of
Yann LeCun's files); ``file://`` addresses work too. Nothing half done is ever seen: each file is written to a
temporary beside its place (``files.replaced_atomically``) and checked — its IDX header against its bytes, then the
MD5 of its content against MNIST's — and the four are renamed into place only once all four have passed, the
training images last, since the app lists the folder as soon as that file is there.

One download at a time per folder: within a server, everyone who asks for it joins the one under way
(:func:`shared`); between processes (the app and a command at once) a lock file makes the second wait, then find
the files there.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import math
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from digitcnn import config, files
from digitcnn.data.idx_files import read_idx
from digitcnn.errors import DataError, DigitCNNError, DownloadError

TIMEOUT_SECONDS = 30  # for the connection and for each read: a stalled download fails instead of hanging
_CHUNK_BYTES = 1 << 16
_LOCK_FILE = ".download.lock"
_SLACK_BYTES = 1 << 20


@dataclass(frozen=True)
class MnistFile:
    """One of MNIST's four files: its ``name``, the ``shape`` its header declares, the ``md5`` of its
    uncompressed content (as MNIST's own README gives it) and its ``size`` gzipped at the default address."""

    name: str
    shape: tuple[int, ...]
    md5: str
    size: int

    @property
    def max_size(self) -> int:
        """The most bytes taken for it: its content uncompressed, and some slack (a file served as it is, not
        gzipped, reads as well); an address that serves more is not serving this file."""
        return 4 + 4 * len(self.shape) + math.prod(self.shape) + _SLACK_BYTES


# The training images first: they are renamed into place last (see download_mnist).
FILES = (
    MnistFile("train-images-idx3-ubyte.gz", (60_000, 28, 28), "6bbc9ace898e44ae57da46a324031adb", 9_912_422),
    MnistFile("train-labels-idx1-ubyte.gz", (60_000,), "a25bea736e30d166cdddb491f175f624", 28_881),
    MnistFile("t10k-images-idx3-ubyte.gz", (10_000, 28, 28), "2646ac647ad5339dbf082846283269ea", 1_648_877),
    MnistFile("t10k-labels-idx1-ubyte.gz", (10_000,), "27ae3e4e09519cfbb04c329615203637", 4_542),
)
DOWNLOAD_BYTES = sum(mnist_file.size for mnist_file in FILES)  # 11.6 MB from the default address


@dataclass(frozen=True)
class Progress:
    """How far a download is: the ``file`` being fetched, the bytes ``received`` of all four so far, and the bytes
    ``expected`` of all four (the sizes the address declares, the default address's for files not yet asked)."""

    file: str
    received: int
    expected: int

    @property
    def fraction(self) -> float:
        return min(self.received / self.expected, 1.0)


def is_downloaded(data_folder: str | os.PathLike | None = None) -> bool:
    """Whether the four files are in the download folder (``mnist/`` in the data folder)."""
    folder = config.mnist_download_dir(data_folder)
    return all((folder / mnist_file.name).is_file() for mnist_file in FILES)


def full_mnist_at_hand(data_folder: str | os.PathLike | None = None) -> bool:
    """Whether the full MNIST is at hand, so that the app offers no download: downloaded already, named by
    ``$DIGITCNN_MNIST_DIR``, or in Keras's cache."""
    return is_downloaded(data_folder) or config.mnist_dir() is not None or config.keras_mnist_cache().is_file()


def download_mnist(address: str | None = None, data_folder: str | os.PathLike | None = None,
                   on_progress: Callable[[Progress], None] | None = None,
                   on_wait: Callable[[], None] | None = None) -> Path:
    """Download MNIST's four files from the folder at ``address`` (see ``config.mnist_url``) into ``mnist/`` in the
    data folder, and return that folder; when the four are there already, nothing is downloaded.

    ``on_progress`` gets a :class:`Progress` after every chunk; ``on_wait`` is called if another process is
    downloading into the same folder, which is then waited for. Raises :class:`DownloadError` saying what went
    wrong (no network, an address without the files, a download cut short, a file that is not MNIST's), leaving
    the folder as it was.
    """
    base = config.mnist_url(address)
    folder = config.mnist_download_dir(data_folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot make the folder {folder.name}/ for MNIST: {error.strerror}") from None
    with _only_download(folder, on_wait):
        if is_downloaded(data_folder):
            return folder
        for mnist_file in FILES:  # left by a download killed mid-way: none is written now, as the lock is held
            for stale in folder.glob(f".{mnist_file.name}.*.tmp"):
                stale.unlink(missing_ok=True)
        expected = {mnist_file.name: mnist_file.size for mnist_file in FILES}
        received = 0
        try:
            with contextlib.ExitStack() as placing:  # renamed into place at its end, last entered first
                for mnist_file in FILES:
                    temporary = placing.enter_context(files.replaced_atomically(folder / mnist_file.name))
                    received = _fetch(_file_url(base, mnist_file.name), mnist_file, temporary, expected, received,
                                      on_progress or (lambda progress: None))
                    _check(mnist_file, temporary, base)
        except OSError as error:  # the disk's, not the network's: those are DownloadErrors by now
            raise DownloadError(f"cannot write MNIST's files into {folder.name}/: {error.strerror}") from None
    return folder


def _file_url(base: str, name: str) -> str:
    return urllib.parse.urljoin(base if base.endswith("/") else base + "/", name)


@contextlib.contextmanager
def _only_download(folder: Path, on_wait: Callable[[], None] | None):
    """Hold the folder's download lock (a lock file in it), waiting for another holder after ``on_wait``."""
    with open(folder / _LOCK_FILE, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fetch(url: str, mnist_file: MnistFile, temporary: Path, expected: dict[str, int], received: int,
           on_progress: Callable[[Progress], None]) -> int:
    """Write the file at ``url`` into ``temporary``; returns ``received`` plus its size."""
    host = urllib.parse.urlsplit(url).hostname or "this machine"
    declared = None
    got = 0
    with open(temporary, "wb") as out:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
                declared = _declared_size(response, url, mnist_file)
                if declared is not None:
                    expected[mnist_file.name] = declared
                while chunk := response.read(_CHUNK_BYTES):
                    got += len(chunk)
                    if got > mnist_file.max_size:
                        raise DownloadError(f"{url} goes on past {mnist_file.max_size:,} bytes, far more than "
                                            f"MNIST's {mnist_file.name}: is this the address of MNIST's files?")
                    out.write(chunk)
                    on_progress(Progress(mnist_file.name, received + got, sum(expected.values())))
        except urllib.error.HTTPError as error:
            raise DownloadError(f"{host} has no {mnist_file.name} at {url} (HTTP {error.code} {error.reason}); "
                                f"set {config.MNIST_URL_VARIABLE} to the address of a folder that holds MNIST's four "
                                "files") from None
        except urllib.error.URLError as error:
            raise DownloadError(_unreachable(host, url, error.reason)) from None
        except (OSError, http.client.HTTPException) as error:  # a timeout, a reset, a full disk
            raise DownloadError(f"the download of {mnist_file.name} from {host} broke off after {got:,} bytes "
                                f"({_words(error)}); try again") from None
    if declared is not None and got < declared:
        raise DownloadError(f"the download of {mnist_file.name} from {host} stopped after {got:,} of its "
                            f"{declared:,} bytes; try again")
    return received + got


def _declared_size(response, url: str, mnist_file: MnistFile) -> int | None:
    """The size the response declares (its Content-Length), if it does; one too large for the file is refused."""
    length = response.headers.get("Content-Length")
    if length is None or not length.isdigit():
        return None
    if int(length) > mnist_file.max_size:
        raise DownloadError(f"{url} is {int(length):,} bytes, far more than MNIST's {mnist_file.name}: is this the "
                            "address of MNIST's files?")
    return int(length)


def _unreachable(host: str, url: str, reason) -> str:
    if isinstance(reason, OSError) and not isinstance(reason, FileNotFoundError):
        return (f"cannot reach {host} ({_words(reason)}): this machine has no network, or the address is wrong. "
                f"Without a network, put MNIST's four files in a folder and name it with {config.MNIST_DIR_VARIABLE}")
    return f"cannot get {url} ({_words(reason)})"


def _words(reason) -> str:
    """An error's reason in words: an OSError's ``strerror`` (without its number and path), else its text."""
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def _check(mnist_file: MnistFile, temporary: Path, base: str) -> None:
    """Raise :class:`DownloadError` unless ``temporary`` holds ``mnist_file``: an IDX file of its shape whose
    content has MNIST's MD5 (so another dataset in MNIST's format at the address is not taken for it)."""
    not_mnist = f"the {mnist_file.name} at {base} is not MNIST's"
    try:
        content = read_idx(temporary, dimensions=len(mnist_file.shape))
    except DataError as error:
        raise DownloadError(f"{not_mnist}: {str(error).removeprefix(temporary.name + ': ')}") from None
    if content.shape != mnist_file.shape:
        raise DownloadError(f"{not_mnist}: it holds shape {content.shape}, MNIST's is {mnist_file.shape}")
    header = bytes([0, 0, 8, len(content.shape)]) + b"".join(size.to_bytes(4, "big") for size in content.shape)
    digest = hashlib.md5(header, usedforsecurity=False)
    digest.update(content.tobytes())
    if digest.hexdigest() != mnist_file.md5:
        raise DownloadError(f"{not_mnist}: its content differs from MNIST's (another dataset, or damaged)")


@dataclass(frozen=True)
class Status:
    """A snapshot of a :class:`SharedDownload`: whether it is ``running``, its last ``progress``, and why the last
    try failed (``error``), if it did."""

    running: bool
    progress: Progress | None
    error: str | None


class SharedDownload:
    """The download of the full MNIST into one data folder that every user of a server shares: started once by
    whoever asks first, in a thread of its own; the others see its progress (:meth:`status`) instead of starting
    another. It owns its state and changes it under its lock."""

    def __init__(self, data_folder: Path):
        self.data_folder = data_folder
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._progress: Progress | None = None
        self._error: str | None = None

    def start(self, address: str | None = None) -> None:
        """Start downloading from ``address`` (see ``config.mnist_url``), unless a download is under way."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._progress, self._error = None, None
            self._thread = threading.Thread(target=self._run, args=(address,), name="MNIST download", daemon=True)
            self._thread.start()

    def status(self) -> Status:
        with self._lock:
            return Status(self._thread is not None and self._thread.is_alive(), self._progress, self._error)

    def wait(self, seconds: float | None = None) -> bool:
        """Wait up to ``seconds`` for the download under way, if any; whether none is under way now."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(seconds)
        return not self.status().running

    def _run(self, address: str | None) -> None:
        try:
            download_mnist(address, self.data_folder, on_progress=self._record)
        except DigitCNNError as error:
            with self._lock:
                self._error = str(error)

    def _record(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress


_shared: dict[Path, SharedDownload] = {}
_shared_lock = threading.Lock()


def shared(data_folder: str | os.PathLike | None = None) -> SharedDownload:
    """The process's one :class:`SharedDownload` into the data folder (``data/``, or ``$DIGITCNN_DATA_DIR``)."""
    folder = config.data_dir(data_folder).resolve()
    with _shared_lock:
        return _shared.setdefault(folder, SharedDownload(folder))
