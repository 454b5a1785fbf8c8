"""Reading and writing the files users name, so that no path can stall a reader or leave a half-written file.

- :func:`open_regular` opens a file for reading only if it is a regular file. A named pipe given as a
  picture or a CSV would otherwise block its reader for ever (until something writes to it), and a
  device such as ``/dev/zero`` would be read without end.
- :func:`replaced_atomically` writes a file through a temporary of its own beside it, then renames it
  into place: readers see the old file or the new one, never part of one, and writers to the same path
  at once each write their own temporary (a fixed ``NAME.tmp`` was shared by them, and corrupted).

Both raise ``OSError`` (its ``strerror`` says why in words, without the path) for the caller to word
as its own error (:class:`~digitcnn.errors.DataError`, :class:`~digitcnn.errors.ImageError`, …);
:func:`reason` gives those words (a user of a shared server sees no server paths).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))


def kind(mode: int) -> str:
    """What a file that is not a regular one is, from its ``st_mode``, in words: "a named pipe", …"""
    return next((words for test, words in _KINDS if test(mode)), "a special file")


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """``path`` open for reading in binary, if it is a regular file (a symbolic link to one included).

    It is opened without blocking, then checked on the open file itself, so that a pipe cannot stall
    the open and a file swapped for a pipe between a look and the open is still caught. A missing file
    raises ``FileNotFoundError``; anything but a regular file, ``OSError`` "it is a named pipe, not a
    regular file"; any other failure to open, the system's ``OSError``.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except IsADirectoryError:
        raise OSError(errno.EISDIR, "it is a folder, not a regular file") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise OSError(errno.EINVAL, f"it is {kind(mode)}, not a regular file")
    os.set_blocking(descriptor, True)  # as a regular file reads anyway; some readers (hashlib) ask for it
    return os.fdopen(descriptor, "rb")


@contextmanager
def replaced_atomically(path: str | os.PathLike):
    """Yield a fresh temporary file's path beside ``path`` to write, then rename it onto ``path``.

    The temporary is unique (``tempfile.mkstemp`` in the target's folder, so the rename stays on one
    file system): several writers of one path at once each write their own, and the last rename wins
    whole. It gets the permissions a newly created file would (``0o666`` less the umask), not
    ``mkstemp``'s private ones. If the body or the rename fails, the temporary is removed and ``path``
    is left as it was. An existing ``path`` that is not a regular file — a folder, a symbolic link, a
    device, a named pipe — is refused with ``OSError`` before anything is written: the rename would
    replace it with a regular file (a link would stop pointing where it did, ``/dev/null`` would
    become a file). Refused rather than written through, because what it points to may not be the
    user's to change.
    """
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise OSError(errno.EEXIST, f"it is {kind(mode)}, which is not replaced by a file")
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        os.fchmod(descriptor, 0o644)  # not via the umask: os.umask is the whole process's, and the app has threads
        os.close(descriptor)
        descriptor = None
        yield temporary
        os.replace(temporary, path)
    finally:
        if descriptor is not None:
            os.close(descriptor)
        temporary.unlink(missing_ok=True)


def reason(error: Exception) -> str:
    """What went wrong, without the file's full path (which OSError's text includes)."""
    return (error.strerror if isinstance(error, OSError) else None) or str(error) or type(error).__name__
