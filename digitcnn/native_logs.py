"""The lines TensorFlow's and LiteRT's C++ code writes straight to the terminal as they start, kept off it.

``import tensorflow`` (2.21) prints absl's "All log messages before absl::InitializeLog() is called are written to
STDERR" and the oneDNN notice **twice**, whatever ``TF_CPP_MIN_LOG_LEVEL`` says: two libraries of TensorFlow's
wheel, ``libtensorflow_framework.so.2`` and ``python/profiler/internal/_pywrap_profiler_plugin.so``, each hold
their own copy of absl's logging and of the code that prints the notice when it is loaded, and absl's logging does
not read ``TF_CPP_MIN_LOG_LEVEL`` (tensorflow/tensorflow#100442). It is one process, not two. LiteRT's interpreter
adds "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." when it is made ready. The variable cannot reach
those lines, and Python's ``sys.stderr`` does not see them: :func:`start_up_lines_dropped` catches what is written
to the process's standard error (file descriptor 2) while such code starts, and writes it back less those of the
lines below ``TF_CPP_MIN_LOG_LEVEL``'s level (an error is never dropped unless the user asks, with 3).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import os
import re
import sys
import tempfile

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"  # TensorFlow's: 0 shows everything, 1 hides INFO, 2 WARNING, 3 ERROR
QUIET_LEVEL = "2"  # what a command line sets where the user set nothing: warnings and notices off, errors shown
# absl's lines ("I0000 00:00:1796554226.486458    1578 port.cc:153] …") and LiteRT's ("INFO: …"): their severity.
_ABSL_LINE = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] ")
_LITERT_LINE = re.compile(r"(INFO|WARNING|ERROR): ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 4, "INFO": 0, "WARNING": 1, "ERROR": 2}
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def quiet_tensorflow() -> None:
    """Keep TensorFlow's start-up lines off the terminal, from now on in this process: ``TF_CPP_MIN_LOG_LEVEL`` set
    to :data:`QUIET_LEVEL` unless the user set it (their value is honoured, 0 shows everything), and TensorFlow's
    import, whenever it comes, run under :func:`start_up_lines_dropped`. For a program's start (the command line),
    before anything imports TensorFlow; once it is imported, it only sets the variable."""
    os.environ.setdefault(LOG_LEVEL_VARIABLE, QUIET_LEVEL)
    if "tensorflow" not in sys.modules and not any(isinstance(finder, _QuietImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


@contextlib.contextmanager
def start_up_lines_dropped():
    """Run the block with what the process writes to its standard error (file descriptor 2) held back, then write
    it there, less TensorFlow's and LiteRT's log lines below ``TF_CPP_MIN_LOG_LEVEL``'s level and absl's notice
    about its own start (none dropped at level 0 or where no level is set). What Python writes meanwhile is held
    back too and comes out after the block, in its order."""
    level = _level()
    if level == 0:
        yield
        return
    sys.stderr.flush()
    original = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(original, 2)
            os.close(original)
            held.seek(0)
            kept = [line for line in held.read().splitlines(keepends=True) if not _dropped(line, level)]
            if kept:
                os.write(2, b"".join(kept))


def _level() -> int:
    """``TF_CPP_MIN_LOG_LEVEL`` as a number (0 where it is unset or not a number: TensorFlow's default)."""
    try:
        return int(os.environ.get(LOG_LEVEL_VARIABLE, "0"))
    except ValueError:
        return 0


def _dropped(line: bytes, level: int) -> bool:
    text = line.decode("utf-8", "replace")
    if text.rstrip("\n") == _ABSL_NOTICE:
        return level >= 1
    found = _ABSL_LINE.match(text) or _LITERT_LINE.match(text)
    return found is not None and _SEVERITY[found.group(1)] < level


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as Python would, and has it executed under :func:`start_up_lines_dropped`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the search below, and any later import, go the ordinary way
        from importlib.util import find_spec

        spec = find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """A module's own loader, its execution run under :func:`start_up_lines_dropped`; the module keeps its own."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        with start_up_lines_dropped():
            self.loader.exec_module(module)
