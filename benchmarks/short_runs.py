"""Short trial runs, as a new user starts them: test accuracy on the embedded sample (33% held out,
seed 42) over epochs {1, 2, 5} × training images {100, 300, 1,000, 1,500, 3,350}, for `compact` with its
recipe fitted to the run (the default), `compact` with its recipe as it is for full MNIST, and `article`; with the
fitted run's batch size, weight averaging and training steps, and whether the page warns that the run is too short
to learn much.

    python -m benchmarks.short_runs
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.common import machine
from digitcnn import data
from digitcnn.training import TrainingConfig, fitted_to_run, run_steps, short_run_warning, train, train_size

EPOCHS = (1, 2, 5)
IMAGES = (100, 300, 1000, 1500, 3350)
RUNS = {  # column → the settings of its runs
    "compact, fitted": dict(architecture="compact"),
    "compact, as for MNIST": dict(architecture="compact", fit_to_run=False),
    "article": dict(architecture="article"),
}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # no options; --help says what it does
    dataset = data.load_embedded()
    print(f"embedded sample, 33% held out (seed 42); test accuracy and training seconds; {machine()}")
    print(f"{'epochs':>6} {'images':>7}" + "".join(f"  {name:>26}" for name in RUNS)
          + "  fitted batch, averaging, steps (warned: too short)")
    for images in IMAGES:
        for epochs in EPOCHS:
            cells = []
            for settings in RUNS.values():
                config = TrainingConfig(epochs=epochs, train_limit=images, **settings)
                started = time.perf_counter()
                result = train(dataset, config)
                cells.append(f"{result.test_evaluation.accuracy:>8.2%} in {time.perf_counter() - started:5.1f} s")
            digits = train_size(dataset, TrainingConfig(train_limit=images))
            fitted = fitted_to_run(TrainingConfig(epochs=epochs), digits)
            warned = " (warned)" if short_run_warning(TrainingConfig(epochs=epochs), digits) else ""
            print(f"{epochs:>6} {images:>7,}" + "".join(f"  {cell:>26}" for cell in cells)
                  + f"  {fitted.batch_size:>5}, {fitted.ema_momentum:g}, {run_steps(fitted, digits)}{warned}",
                  flush=True)


if __name__ == "__main__":
    main()
