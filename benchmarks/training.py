"""Training, side by side in one run, on the full MNIST (60,000 training, the canonical 10,000
test digits): the tutorial's `article` network (its recipe: 10 epochs), the default
architecture (its recipe), and a classical scikit-learn baseline on raw pixels. Prints test
accuracy, training wall time, training images per second, the rate of batch prediction over the
test set, and the parameter count of each.

    python -m benchmarks.training [--data PATH/TO/mnist] [--only article,compact,baseline] [--epochs N]

`--data` defaults to $DIGITCNN_MNIST_DIR. Each network is trained through digitcnn.training,
exactly as the app and the command line train it.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from digitcnn import config, data, training
from digitcnn.networks import architectures
from digitcnn.reading.inference import predict_probabilities

from benchmarks.common import machine


def train_network(dataset: data.Dataset, architecture: str, epochs: int | None) -> dict:
    epoch_seconds = []

    def on_progress(progress: training.Progress) -> None:
        if progress.stage == "epoch":
            epoch_seconds.append(progress.elapsed - sum(epoch_seconds))
            print(f"  {architecture} epoch {progress.epoch}/{progress.epochs}: {epoch_seconds[-1]:.1f} s, "
                  f"running accuracy {progress.accuracy:.2%}", flush=True)

    settings = training.TrainingConfig(architecture=architecture, epochs=epochs, test_set="own",
                                       validate_each_epoch=False)
    started = time.perf_counter()
    result = training.train(dataset, settings, on_progress=on_progress)
    wall = time.perf_counter() - started
    predicted = time.perf_counter()
    predict_probabilities(result.model, dataset.test.images)
    prediction_seconds = time.perf_counter() - predicted
    return {
        "model": f"{architecture} ({settings.epochs} epochs)",
        "test accuracy": result.test_evaluation.accuracy,
        "training s": result.training_seconds,
        "wall s": wall,
        "train img/s": settings.epochs * len(result.split.train) / result.training_seconds,
        "predict img/s": len(dataset.test) / prediction_seconds,
        "parameters": result.model.count_params(),
    }


def train_baseline(dataset: data.Dataset) -> dict:
    """Logistic regression on the 784 pixels scaled to [0, 1]: what a CNN must beat."""
    from sklearn.linear_model import LogisticRegression

    pixels = dataset.images.reshape(len(dataset), -1) / 255.0
    test_pixels = dataset.test.images.reshape(len(dataset.test), -1) / 255.0
    classifier = LogisticRegression(max_iter=200, tol=1e-3)
    started = time.perf_counter()
    classifier.fit(pixels, dataset.labels)
    seconds = time.perf_counter() - started
    predicted = time.perf_counter()
    accuracy = float((classifier.predict(test_pixels) == dataset.test.labels).mean())
    prediction_seconds = time.perf_counter() - predicted
    return {
        "model": "logistic regression (scikit-learn)",
        "test accuracy": accuracy,
        "training s": seconds,
        "wall s": seconds,
        "train img/s": classifier.n_iter_.max() * len(dataset) / seconds,
        "predict img/s": len(dataset.test) / prediction_seconds,
        "parameters": classifier.coef_.size + classifier.intercept_.size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get(config.MNIST_DIR_VARIABLE),
                        help="a folder of the MNIST IDX files (default: $DIGITCNN_MNIST_DIR)")
    parser.add_argument("--only", default=f"article,{architectures.DEFAULT_ARCHITECTURE},baseline",
                        help="which to run, comma-separated: architecture names and 'baseline'")
    parser.add_argument("--epochs", type=int, help="override every network's recipe (quick trials)")
    arguments = parser.parse_args()
    if not arguments.data:
        parser.error(f"name the MNIST folder with --data or ${config.MNIST_DIR_VARIABLE}")
    dataset = data.load_dataset(arguments.data)
    print(f"{machine()}; {len(dataset):,} training and {len(dataset.test):,} test images", flush=True)

    rows = []
    for name in arguments.only.split(","):
        rows.append(train_baseline(dataset) if name == "baseline" else train_network(dataset, name, arguments.epochs))

    print()
    print(f"{'model':36} {'test acc':>9} {'train s':>8} {'wall s':>7} {'train img/s':>12} {'predict img/s':>14} "
          f"{'params':>9}")
    for row in rows:
        print(f"{row['model']:36} {row['test accuracy']:>9.2%} {row['training s']:>8.1f} {row['wall s']:>7.1f} "
              f"{row['train img/s']:>12,.0f} {row['predict img/s']:>14,.0f} {row['parameters']:>9,}")


if __name__ == "__main__":
    main()
