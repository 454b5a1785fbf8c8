"""The processes the library starts, and how each starts: a new Python (``python -m digitcnn.processes``) that
imports one of digitcnn's modules and runs a function of it, which talks with the process that started it, its
parent, over a socket it is handed.

Never multiprocessing's spawn (nor a ``ProcessPoolExecutor`` on it): a spawned child imports its parent's
``__main__`` again to find what it is sent. A user's script without ``if __name__ == "__main__":`` then ran again
in the child, up to its first training, where the child failed ("bootstrapping phase"); in a Streamlit server
``__main__`` is the page being run. A child started here imports only the module it runs and what its messages
name, so it starts the same from a script, a notebook (whose ``__main__`` is no file), a server or a Ray worker.
Never a fork either: TensorFlow's threads do not survive one. And not ``python -m`` of the module itself: a module
that its package's ``__init__`` imports (``digitcnn.jobs`` imports its workers') would be imported twice, once as
``__main__``, with a warning from runpy each time; this module is imported by no ``__init__``.

A child whose parent has gone (ended, killed, or closed its end of the socket) ends at once and quietly
(:class:`Parent`): nobody is left to want its work, and a traceback about a broken pipe would only alarm whoever
reads the log it shares with its parent.

The library's processes: :mod:`digitcnn.jobs.process_training`'s workers (trainings, fine-tunings, the driver of
trainings on Ray) and :mod:`digitcnn.data.nondigits_process` (non-digits drawn beside a training).
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import NoReturn

from digitcnn.config import PROJECT_ROOT


def start(module: str, function: str, *arguments: str) -> tuple[subprocess.Popen, Connection]:
    """Start a process that imports ``module`` and calls its ``function`` with its end of a socket to this process
    (a :class:`Parent`) and ``arguments``, and return the process and this end. The child finds this copy of digitcnn
    first on its path, whatever folder this process was started from; its standard streams are this process's."""
    parent_end, child_end = socket.socketpair()
    with child_end:
        command = [sys.executable, "-m", __name__, module, function, str(child_end.fileno()), *arguments]
        process = subprocess.Popen(command, pass_fds=[child_end.fileno()], env=_environment())
    return process, Connection(parent_end.detach())


class Parent:
    """A child's end of the socket to its parent, which its threads share (a message waits for another thread's to
    be sent whole). Once the parent has gone (a message cannot be sent, or the socket closes while the child waits
    for one), the child ends at once, quietly, whatever its threads were doing."""

    def __init__(self, connection: Connection):
        self._connection = connection
        self._lock = threading.Lock()

    def recv(self):
        """The parent's next message (one this process cannot unpickle raises here, as ``Connection.recv``)."""
        try:
            return self._connection.recv()
        except (EOFError, OSError):
            _leave()

    def send(self, message) -> None:
        with self._lock:
            try:
                self._connection.send(message)
            except OSError:  # BrokenPipeError, ConnectionResetError: nobody is reading
                _leave()


def _leave() -> NoReturn:
    # os._exit, not sys.exit: from any thread, without waiting for the others, and without the interpreter's
    # shutdown, which would print what the threads still running raise as their modules are torn down.
    os._exit(0)


def _environment() -> dict[str, str]:
    """This process's environment, with the folder that holds this copy of digitcnn first on the child's path."""
    path = [str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


def _run(module: str, function: str, fd: str, *arguments: str) -> None:
    """A child's life: ``module``'s ``function`` called with its :class:`Parent` and ``arguments``."""
    getattr(importlib.import_module(module), function)(Parent(Connection(int(fd))), *arguments)


if __name__ == "__main__":
    _run(*sys.argv[1:])
