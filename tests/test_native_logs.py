"""TensorFlow's and LiteRT's start-up lines are kept off the terminal below the user's TF_CPP_MIN_LOG_LEVEL, and
nothing else is: each case runs in a fresh process, whose file descriptor 2 the code under test takes over."""

import os
import subprocess
import sys

import pytest

from digitcnn import config

# Lines as the C++ code writes them, straight to file descriptor 2, and a line of Python's between them.
_WRITES = """
import os, sys
from digitcnn.native_logs import start_up_lines_dropped

with start_up_lines_dropped():
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"I0000 00:00:1796554226.486458    1578 port.cc:153] oneDNN custom operations are on.\\n")
    print("a line of Python's", file=sys.stderr)
    os.write(2, b"W0000 00:00:1796554558.965100   15818 tf_tfl_flatbuffer_helpers.cc:364] Ignored output_format.\\n")
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
    os.write(2, b"E0000 00:00:1796554558.965100   15818 loader.cc:1] a real error\\n")
print("after", file=sys.stderr)
"""
_ALL = ["WARNING: All log messages", "I0000", "a line of Python's", "W0000", "INFO: Created", "E0000", "after"]


@pytest.mark.parametrize("level, shown", [
    (None, _ALL),  # TensorFlow's default, 0: every line
    ("0", _ALL),
    ("1", ["a line of Python's", "W0000", "E0000", "after"]),
    ("2", ["a line of Python's", "E0000", "after"]),
    ("3", ["a line of Python's", "after"]),
], ids=["unset", "0", "1", "2", "3"])
def test_only_log_lines_below_the_level_are_dropped_and_the_rest_keep_their_order(level, shown):
    environment = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:
        environment["TF_CPP_MIN_LOG_LEVEL"] = level
    completed = subprocess.run([sys.executable, "-c", _WRITES], capture_output=True, text=True, timeout=60,
                               cwd=config.PROJECT_ROOT, env={**environment, "PYTHONPATH": str(config.PROJECT_ROOT)})
    assert completed.returncode == 0, completed.stderr
    lines = completed.stderr.splitlines()
    assert [next(start for start in _ALL if line.startswith(start)) for line in lines] == shown, completed.stderr


def test_tensorflow_imported_after_quiet_tensorflow_prints_no_start_up_lines():
    """Without it, ``import keras`` printed absl's notice and oneDNN's twice (x86 TensorFlow 2.21), level 2 or not."""
    script = ("import sys\nfrom digitcnn import native_logs\nnative_logs.quiet_tensorflow()\nimport keras\n"
              "print(sys.modules['tensorflow'].__spec__.loader.__class__.__name__)\n")
    environment = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                               cwd=config.PROJECT_ROOT, env={**environment, "PYTHONPATH": str(config.PROJECT_ROOT)})
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip() == "SourceFileLoader"  # the module keeps its own loader
    assert not [line for line in ("absl::InitializeLog", "oneDNN", "port.cc") if line in completed.stderr], \
        completed.stderr[-3000:]
