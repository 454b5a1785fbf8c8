"""Reading an exported model where DigitCNN cannot be imported, as someone who took it away would: a Python started
isolated in a folder of its own (what the export tests and the import tests run the app's ten-line snippets in)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np


def run_outside(code: str, folder) -> subprocess.CompletedProcess:
    """``code`` run by this Python in ``folder``, isolated (-I: no PYTHONPATH, no current folder on the path), where
    DigitCNN cannot be imported."""
    return subprocess.run([sys.executable, "-I", "-c", code], cwd=folder, capture_output=True, text=True, timeout=300,
                          env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})


def snippet_probabilities(snippet: str, folder) -> np.ndarray:
    """What a snippet prints for ``folder``'s digit.npy: its answer, then the probabilities, as NumPy prints them."""
    finished = run_outside(snippet.replace("print(int(probabilities.argmax()), probabilities)",
                                           "import json; print(json.dumps([float(p) for p in probabilities]))"), folder)
    assert finished.returncode == 0, finished.stderr[-2000:]
    return np.array(json.loads(finished.stdout.strip().splitlines()[-1]))
