"""A class at once: simulated users start trainings at the same moment on one server, while another user keeps
drawing. The trainings go through a job board (digitcnn.jobs.board.JobBoard) as in the app's server; each user then
saves their model and the file is loaded back and checked. Side by side in one run: the board as the app sets it (a
few at a time in warm worker processes, the rest queued), the same in this process's threads (as the app trained
before its worker processes), and every training at once in threads (the behaviour before the line).

Printed for each: when the last training ended, each user's wait and training time, how many saved files load
and score what their cards say, the peak resident memory during the run (this process and its worker processes), and the time to read a drawing meanwhile (canvas →
answer through Predictor.read with the shipped model), next to the same reading on an idle server.

    python -m benchmarks.class_at_once [--users 12] [--epochs 2] [--images 1000] [--at-once 1,12] [--ray 2]

--ray N adds a row where the board sends the trainings to a local Ray instance of N CPUs (digitcnn.jobs.ray_training),
N at once: this process then trains nothing and only relays progress.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
logging.getLogger("tensorflow").setLevel(logging.ERROR)  # each user's model traces its own predict step: no news

import numpy as np

from benchmarks.common import machine
from benchmarks.latency import drawn_canvases
from digitcnn import data
from digitcnn.data import preprocess
from digitcnn.storage import registry
from digitcnn.reading.inference import Predictor
from digitcnn.jobs.board import FINISHED, WAITING, JobBoard
from digitcnn.jobs.process_training import ProcessTrainer
from digitcnn.runtime import max_trainings
from digitcnn.training import TrainingConfig, evaluate_model, train

READ_EVERY = 0.05  # seconds between two readings of the drawing user: a pen stroke's pace


class DrawingUser:
    """Reads a drawing every :data:`READ_EVERY` seconds in a thread of its own, timing each reading."""

    def __init__(self, predictor: Predictor):
        self.predictor = predictor
        self.canvases = drawn_canvases(50)
        self.seconds: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._draw, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _draw(self):
        index = 0
        while not self._stop.wait(READ_EVERY):
            canvas = self.canvases[index % len(self.canvases)]
            started = time.perf_counter()
            self.predictor.read(preprocess.canvas_to_mnist(canvas))
            self.seconds.append(time.perf_counter() - started)
            index += 1


def reading_times(predictor: Predictor, seconds: float) -> list[float]:
    """Readings on an otherwise idle server, for ``seconds``."""
    with DrawingUser(predictor) as user:
        time.sleep(seconds)
    return user.seconds


def class_at_once(dataset, predictor: Predictor, users: int, settings: TrainingConfig, models_folder: str,
                  board: JobBoard) -> dict:
    started = time.perf_counter()
    begun, finished, peak = {}, {}, 0
    with DrawingUser(predictor) as drawing:
        jobs = [board.start(f"user-{user}", f"user-{user}", dataset, settings) for user in range(users)]
        while len(finished) < len(jobs):  # note when each starts and ends training, to tell waiting apart
            for job in jobs:
                if job not in begun and job.snapshot().status != WAITING:
                    begun[job] = time.perf_counter()
                if job not in finished and job.wait(0):
                    finished[job] = time.perf_counter()
            peak = max(peak, resident_megabytes())
            time.sleep(0.05)
    ended = time.perf_counter() - started
    sound = 0
    for job in jobs:
        snapshot = job.snapshot()
        if snapshot.status != FINISHED:
            continue
        registry.save_model(snapshot.result.model, registry.ModelCard.from_training(job.name, snapshot.result),
                            models_folder, trained_on=snapshot.result.trained_on)
        model, card = registry.load_model(job.name, models_folder)
        sound += abs(evaluate_model(model, snapshot.result.split.test).accuracy - card.test_accuracy) < 1e-9
    return dict(ended=ended, waits=[begun[job] - started for job in jobs],
                trains=[finished[job] - begun[job] for job in jobs], sound=sound, peak=peak, reads=drawing.seconds)


def warm_processes(count: int) -> ProcessTrainer:
    """``count`` worker processes, started and with TensorFlow imported, as the app has them before its first
    training."""
    processes = ProcessTrainer(count)
    processes.prestart(wait=120)
    return processes


def resident_megabytes() -> float:
    """The memory in use now (resident set), in MB, of this process and its worker processes (not Ray's, which
    belong to Ray's own processes)."""
    processes = [str(os.getpid())] + [entry.name for entry in Path("/proc").iterdir() if _parent(entry) == os.getpid()]
    pages = 0
    for process in processes:
        try:
            pages += int(Path(f"/proc/{process}/statm").read_text().split()[1])
        except OSError:  # it ended meanwhile
            pass
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _parent(entry: Path) -> int | None:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) if entry.name.isdigit() else None
    except OSError:
        return None


def milliseconds(seconds: list[float]) -> str:
    p50, p95, worst = np.percentile(np.asarray(seconds) * 1000, [50, 95, 100])
    return f"{p50:6.1f} {p95:6.1f} {worst:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--images", type=int, default=1000, help="training images per user (embedded sample)")
    parser.add_argument("--at-once", default=f"{max_trainings()},12",
                        help="trainings at once, one run for each (default: the app's setting here, then all)")
    parser.add_argument("--ray", type=int, metavar="CPUS", help="also train on a local Ray instance of CPUS CPUs")
    arguments = parser.parse_args()

    dataset = data.load_embedded()
    model, card = registry.load_model("default")
    predictor = Predictor(model, card.refusal_rule, card.reading)
    settings = TrainingConfig(epochs=arguments.epochs, train_limit=arguments.images)
    predictor.read(preprocess.canvas_to_mnist(drawn_canvases(1)[0]))  # warm
    idle = reading_times(predictor, 10)
    print(f"{arguments.users} users each train compact for {arguments.epochs} epochs on {arguments.images:,} embedded "
          f"digits, all started at once, while one user draws (a reading every {READ_EVERY * 1000:.0f} ms); "
          f"{machine()}")
    print(f"{'at once':>7} {'all done':>9} {'wait p50/max':>13} {'train p50':>9} {'files ok':>9} {'peak RSS':>9}"
          f"  reading ms: {'p50':>6} {'p95':>6} {'max':>7}")
    print(f"{'idle':>7} {'':>9} {'':>13} {'':>9} {'':>9} {'':>9}  {'':12}{milliseconds(idle)}")
    app_setting, *others = map(int, arguments.at_once.split(","))
    rows = [(f"{app_setting} proc", lambda: JobBoard(app_setting, processes=warm_processes(app_setting)))]
    rows += [(str(at_once), functools.partial(JobBoard, at_once, train)) for at_once in (app_setting, *others)]
    if arguments.ray:
        from digitcnn.jobs import ray_training

        ray_training.connect(None, num_cpus=arguments.ray, include_dashboard=False, log_to_driver=False)
        rows.append((f"Ray {arguments.ray}", functools.partial(JobBoard, arguments.ray, ray_training.train_on_ray)))
    for label, board in rows:
        with tempfile.TemporaryDirectory() as folder:
            run = class_at_once(dataset, predictor, arguments.users, settings, folder, board())
        print(f"{label:>7} {run['ended']:>8.0f}s {np.median(run['waits']):>6.0f}/{max(run['waits']):>4.0f} s "
              f"{np.median(run['trains']):>8.0f}s {run['sound']:>4}/{arguments.users:<4} {run['peak']:>7.0f}MB  {'':12}"
              f"{milliseconds(run['reads'])}", flush=True)


if __name__ == "__main__":
    main()
