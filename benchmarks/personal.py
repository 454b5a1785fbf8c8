"""Does teaching a model a writer's drawings help it read that writer, without forgetting MNIST?

The writer: the 1,797 handwritten digits that scikit-learn ships (8×8 scans of people who are not in MNIST),
drawn on a canvas as :mod:`benchmarks.drawn_digits` draws them and laid out by ``canvas_to_mnist``. Of each
digit, a seeded shuffle puts 20 drawings aside as the pool to teach from; a fine-tune is taught the first k
of them per digit (k = 1, 3, 5, 10, 20: each set holds the smaller ones), and every fine-tune is scored on
the same drawings, the writer's other 1,597, and on the data's test set (MNIST's own 10,000 with --data).

    python -m benchmarks.personal [--data PATH/TO/mnist] [--model default] [--k 1 3 5 10 20]

Without --data or $DIGITCNN_MNIST_DIR the data is the embedded sample, whose held-out part the shipped
model (trained on all of MNIST's training set) has learned from: its test figures then flatter it. The
model is loaded and fine-tuned in memory; nothing is saved.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from benchmarks.common import machine
from benchmarks.drawn_digits import render
from digitcnn import config, data
from digitcnn.data import preprocess
from digitcnn.storage import registry
from digitcnn.errors import EmptyDrawingError
from digitcnn.training.finetune import fine_tune
from digitcnn.training.finetune_config import FineTuneConfig
from digitcnn.reading.inference import predict_probabilities

POOL_PER_DIGIT = 20  # drawings per digit set aside to teach from; the rest are scored
K_VALUES = (1, 3, 5, 10, 20)


def writer_drawings(seed: int = 0) -> data.Dataset:
    """scikit-learn's digits drawn on a canvas (random size, place and pen) and laid out as MNIST's."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for image, label in zip(digits.images, digits.target):
        try:
            laid_out = preprocess.canvas_to_mnist(render(image, label, rng).canvas)
        except EmptyDrawingError:
            continue
        images.append(np.round(laid_out * 255).astype(np.uint8))
        labels.append(int(label))
    return data.Dataset(np.stack(images), np.array(labels), "scikit-learn digits, drawn")


def teaching_order(drawings: data.Dataset, seed: int = 0) -> np.ndarray:
    """Per digit, its drawings in a seeded random order: an array (10, POOL_PER_DIGIT) of the pool's indices."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(np.flatnonzero(drawings.labels == digit))[:POOL_PER_DIGIT]
                     for digit in range(10)])


def errors(model, dataset: data.Dataset) -> int:
    return int((predict_probabilities(model, dataset.images).argmax(axis=1) != dataset.labels).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get(config.MNIST_DIR_VARIABLE),
                        help="a folder of the MNIST IDX files (default: $DIGITCNN_MNIST_DIR, else the embedded sample)")
    parser.add_argument("--model", default=config.DEFAULT_MODEL_NAME)
    parser.add_argument("--k", type=int, nargs="+", default=list(K_VALUES), help="drawings taught per digit")
    parser.add_argument("--seed", type=int, default=0, help="the drawings' and the teaching order's seed")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                        help="FineTuneConfig settings other than the defaults, e.g. epochs=4 replay=10")
    arguments = parser.parse_args()

    settings = FineTuneConfig(personal_test_share=0.0)  # the writer's other drawings are scored here instead
    for assignment in arguments.set:
        name, value = assignment.split("=", 1)
        current = getattr(settings, name)
        value = (value.lower() == "true") if isinstance(current, bool) else type(current)(value)
        settings = replace(settings, **{name: value})
    if any(k > POOL_PER_DIGIT for k in arguments.k):
        parser.error(f"k is at most {POOL_PER_DIGIT}")

    base_model, card = registry.load_model(arguments.model)
    dataset = data.load_dataset(arguments.data) if arguments.data else data.load_embedded()
    drawings = writer_drawings(arguments.seed)
    order = teaching_order(drawings, arguments.seed)
    scored = drawings.subset(np.setdiff1d(np.arange(len(drawings)), order.ravel()), "the writer's other drawings")
    before = errors(base_model, scored)

    print(f"model {card.name} ({card.architecture}); {machine()}")
    print(f"writer: {drawings.source}, {len(drawings):,} drawings; {len(scored):,} scored (not taught for any k); "
          f"data: {dataset.source}")
    if dataset.test is None:
        print("note: the data has no test set of its own: its held-out part is scored, which the shipped model, "
              "trained on all of MNIST's training digits, has learned from (see the module's description)")
    print(f"settings: {settings.to_dict()}")
    print(f"{'k':>3} {'taught':>6} {'errors before → after':>22} {'fall':>6} {'data test before → after':>24} "
          f"{'learn s':>8} {'total s':>8}  gate")
    for k in arguments.k:
        taught = drawings.subset(np.sort(order[:, :k].ravel()), "the writer's taught drawings")
        started = time.perf_counter()
        result = fine_tune(base_model, card, taught, dataset, settings, writer="scikit-learn")
        seconds = time.perf_counter() - started
        after = errors(result.model, scored)
        print(f"{k:>3} {len(taught):>6} {before:>10,} → {after:<9,} {1 - after / before:>6.0%} "
              f"{result.before.data_test_accuracy:>15.2%} → {result.after.data_test_accuracy:.2%} "
              f"{result.training_seconds:>7.1f} {seconds:>8.1f}  {'passed' if result.passed else 'refused'}")


if __name__ == "__main__":
    main()
