"""What benchmarks (and the tests) share: the machine's name, the app's server, the browser that
drives it, and the check that the first pages open without TensorFlow."""

from __future__ import annotations

import ast
import contextlib
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("DIGITCNN_CHROMIUM", "/usr/bin/chromium")  # Debian's; Playwright's download is offline here
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def machine() -> str:
    """The CPU's model name and how many cores this process may use."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            name = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name}, {cores} cores"


def add_mnist_and_model_options(parser) -> None:
    """``--data`` (the MNIST folder, by default ``$DIGITCNN_MNIST_DIR``), ``--model`` (NAME[@FOLDER], see
    :func:`load_model_named`) and ``--seed``: what the benchmarks that read re-drawn digits take."""
    from digitcnn import config

    parser.add_argument("--data", default=os.environ.get(config.MNIST_DIR_VARIABLE),
                        help="a folder of the MNIST IDX files (default: $DIGITCNN_MNIST_DIR)")
    parser.add_argument("--model", default=config.DEFAULT_MODEL_NAME, metavar="NAME[@FOLDER]",
                        help="a saved model, or NAME@FOLDER for one in another models folder")
    parser.add_argument("--seed", type=int, default=0)


def reading_run(description: str, count_option: str, count_default: int, count_help: str | None = None):
    """The start of a script that reads pictures with a saved model as the app reads them: its command line
    (:func:`add_mnist_and_model_options` and ``count_option``, a whole number), parsed; MNIST's test digits (the
    embedded sample without ``--data``); the :class:`~digitcnn.reading.inference.Predictor` and card of ``--model``;
    and a generator seeded with ``--seed``."""
    import argparse

    import numpy as np

    from digitcnn import data
    from digitcnn.storage import registry

    parser = argparse.ArgumentParser(description=description)
    add_mnist_and_model_options(parser)
    parser.add_argument(count_option, type=int, default=count_default, help=count_help)
    arguments = parser.parse_args()
    digits = data.load_dataset(arguments.data).test if arguments.data else data.load_embedded()
    predictor, card = registry.load_predictor(*arguments.model.split("@", 1))
    return arguments, digits, predictor, card, np.random.default_rng(arguments.seed)


def load_model_named(choice: str):
    """The saved model and card of ``choice``: a model's name, or NAME@FOLDER for the model NAME saved in another
    models folder (a model being tried, beside the shipped one)."""
    from digitcnn.storage import registry

    return registry.load_model(*choice.split("@", 1))


@contextlib.contextmanager
def running_app(environment: dict | None = None, log_path: Path | None = None, start_timeout: float = 90.0):
    """``streamlit run streamlit_app.py`` on a free loopback port: yields ``(url, seconds until
    healthy, the server's process)``, and always stops the server on the way out."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_path = log_path or Path(tempfile.mkdtemp(prefix="digitcnn-app-")) / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless=true",
               f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
               "--server.fileWatcherType=none"]
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ, **(environment or {})},
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"streamlit exited with status {server.returncode}:\n{log_path.read_text()[-3000:]}")
            if time.perf_counter() - started > start_timeout:
                raise RuntimeError(
                    f"streamlit not healthy after {start_timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.05)
        yield url, time.perf_counter() - started, server
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def first_pages_in_a_fresh_process() -> tuple[bool, list[str]]:
    """Run the home page (with the sidebar) and the dataset browser in a fresh Python, as a first
    visit does: whether both ran without an exception, and which of TensorFlow and Keras got imported."""
    script = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        "test = AppTest.from_file('streamlit_app.py', default_timeout=60).run()\n"
        "clean = not test.exception\n"
        "test.switch_page('pages/dataset_browser.py').run()\n"
        "print(repr((clean and not test.exception, [m for m in ('tensorflow', 'keras') if m in sys.modules])))\n"
    )
    output = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120, check=True)
    return ast.literal_eval(output.stdout.strip().splitlines()[-1])
