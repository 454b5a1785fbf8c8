"""A first model: how long the train page's quick run takes and what it scores, on the embedded sample (the page's
default settings: compact, 33% held out with seed 42) and on full MNIST (its own 10,000 test digits), next to the
full recipe on the embedded sample. Seconds are the whole of a training as the page runs it, in a warm worker
process (see digitcnn.process_training): sending the data, split, build, fit, calibration, scoring, the refusal
rule, and the model and scores back.

    python -m benchmarks.first_model [--data PATH/TO/mnist] [--recipe] [--repeat N]

Without --data or $DIGITCNN_MNIST_DIR, the full-MNIST row is skipped. --recipe adds the full recipe on full MNIST
(about a quarter of an hour on 2 cores). --repeat runs each training N times, one after the other, and prints the
first run's time (the one after the worker started), the median, and the ranges of times and accuracies: a small
cloud machine's speed varies by a fifth from one run to the next.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.common import machine
from digitcnn import config, data
from digitcnn.process_training import ProcessTrainer
from digitcnn.training import TrainingConfig, make_split, quick_settings


def timed_runs(trainer: ProcessTrainer, dataset, label: str, quick: bool, repeat: int) -> None:
    settings = TrainingConfig()  # the page's defaults
    if quick:
        settings = TrainingConfig(**quick_settings(settings.architecture, len(make_split(dataset, settings).train)))
    seconds, accuracies = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        result = trainer(dataset, settings)
        seconds.append(time.perf_counter() - started)
        accuracies.append(result.test_evaluation.accuracy)
    times = f"{min(seconds):.1f}–{max(seconds):.1f}" if repeat > 1 else ""
    scores = f"{min(accuracies):.2%}–{max(accuracies):.2%}" if repeat > 1 else f"{accuracies[0]:.2%}"
    print(f"{label:34} {len(result.split.train):>7,} {result.config.epochs:>6} {result.config.batch_size:>6} "
          f"{'on' if result.config.augment else 'off':>8} {seconds[0]:>7.1f} {statistics.median(seconds):>8.1f} "
          f"{times:>11} {scores:>15}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get(config.MNIST_DIR_VARIABLE),
                        help="the folder of MNIST's IDX files (default: $DIGITCNN_MNIST_DIR)")
    parser.add_argument("--recipe", action="store_true", help="also the full recipe on full MNIST")
    parser.add_argument("--repeat", type=int, default=1, choices=range(1, 21), metavar="N",
                        help="run each training N times (1 to 20; default 1): the median time, and the ranges")
    arguments = parser.parse_args()

    print(f"compact, the train page's defaults; {machine()}")
    print(f"{'run':34} {'images':>7} {'epochs':>6} {'batch':>6} {'augment':>8} {'first s':>7} {'median s':>8} "
          f"{'range s':>11} {'test acc':>15}")
    # As in the app's server, TensorFlow is in use before the first training: the result's model is unpickled
    # here, and a first import of TensorFlow would otherwise be timed with it.
    import keras  # noqa: F401

    trainer = ProcessTrainer(1)
    trainer.prestart(wait=120)  # as the app's, started before its first training
    embedded = data.load_embedded()
    timed_runs(trainer, embedded, "embedded sample, quick (default)", True, arguments.repeat)
    timed_runs(trainer, embedded, "embedded sample, full recipe", False, arguments.repeat)
    if arguments.data:
        mnist = data.load_dataset(arguments.data)
        timed_runs(trainer, mnist, "full MNIST, quick", True, arguments.repeat)
        if arguments.recipe:
            timed_runs(trainer, mnist, "full MNIST, full recipe", False, arguments.repeat)
    trainer.close()


if __name__ == "__main__":
    main()
