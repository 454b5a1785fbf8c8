"""Do drawn digits read as well as MNIST digits? Digits the shipped model never learned from are
re-rendered as canvas drawings — varied size, position and pen width, solid ink on a 280×280
canvas, as streamlit-drawable-canvas returns them — then read twice with the default model:
after a naive resize of the canvas to 28×28, and after `canvas_to_mnist`. Two sources:

* MNIST's test digits (held apart from training);
* the 1,797 handwritten digits that scikit-learn ships (8×8, from a different set of writers
  and a different scanning process: not MNIST at all).

    python -m benchmarks.drawn_digits [--data PATH/TO/mnist] [--count 3000] [--model NAME[@FOLDER]]

Without --data or $DIGITCNN_MNIST_DIR, the MNIST rows are skipped.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image
from scipy.ndimage import grey_dilation

from benchmarks.common import add_mnist_and_model_options, load_model_named
from digitcnn import data
from digitcnn.data import preprocess
from digitcnn.errors import EmptyDrawingError
from digitcnn.reading.inference import predict_probabilities

CANVAS_SIDE = 280
SIZE_RANGE = (50, 250)  # the longer side of a drawn digit, in canvas pixels
PEN_RANGE = (0.0, 0.08)  # extra pen width, as a share of the digit's size


@dataclass(frozen=True)
class Drawing:
    canvas: np.ndarray  # (280, 280, 4) uint8 RGBA, white ink on black
    label: int
    size: int  # the digit's longer side on the canvas


def render(digit: np.ndarray, label: int, rng: np.random.Generator) -> Drawing:
    """One digit image (any size, ink bright) as solid pen strokes on a canvas: scaled to a random
    size, thickened by a random pen width, placed at a random spot (sometimes touching an edge)."""
    ink = digit.astype(np.float32) / max(float(digit.max()), 1e-6)
    rows, columns = np.flatnonzero((ink > 0.1).any(1)), np.flatnonzero((ink > 0.1).any(0))
    ink = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    size = int(rng.integers(*SIZE_RANGE))
    scale = size / max(ink.shape)
    shape = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    strokes = np.asarray(Image.fromarray(ink, mode="F").resize(shape, Image.Resampling.BICUBIC)) > 0.5
    pen = round(rng.uniform(*PEN_RANGE) * size)
    if pen > 1:
        strokes = grey_dilation(strokes, footprint=_disk(pen // 2))
    top = int(rng.integers(0, CANVAS_SIDE - strokes.shape[0] + 1))
    left = int(rng.integers(0, CANVAS_SIDE - strokes.shape[1] + 1))
    canvas = np.zeros((CANVAS_SIDE, CANVAS_SIDE, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[top : top + strokes.shape[0], left : left + strokes.shape[1], :3][strokes] = 255
    return Drawing(canvas, int(label), size)


def _disk(radius: int) -> np.ndarray:
    rows, columns = np.indices((2 * radius + 1, 2 * radius + 1)) - radius
    return rows**2 + columns**2 <= radius**2


def naive_resize(canvas: np.ndarray) -> np.ndarray:
    """What most drawing demos do: the canvas in gray, shrunk to 28×28."""
    gray = Image.fromarray(canvas).convert("L").resize((data.IMAGE_SIDE, data.IMAGE_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(gray, dtype=np.float32) / 255.0


def accuracy(model, images: list[np.ndarray], labels: np.ndarray, reading: str) -> float:
    return float((predict_probabilities(model, np.stack(images), reading=reading).argmax(axis=1) == labels).mean())


def measure(model, reading: str, name: str, drawings: list[Drawing]) -> list[str]:
    labels = np.array([drawing.label for drawing in drawings])
    naive = accuracy(model, [naive_resize(d.canvas) for d in drawings], labels, reading)
    started = time.perf_counter()
    prepared, kept = [], []
    for index, drawing in enumerate(drawings):
        try:
            prepared.append(preprocess.canvas_to_mnist(drawing.canvas))
            kept.append(index)
        except EmptyDrawingError:
            pass  # counted as wrong below
    per_drawing_ms = (time.perf_counter() - started) / len(drawings) * 1000
    right = accuracy(model, prepared, labels[kept], reading) * len(kept) if kept else 0.0
    faithful = right / len(drawings)
    rows = [f"{name:34} {len(drawings):>7,} {naive:>14.2%} {faithful:>16.2%} {per_drawing_ms:>12.2f}"]
    for low, high in ((SIZE_RANGE[0], 100), (100, 175), (175, SIZE_RANGE[1])):
        band = [i for i, d in enumerate(drawings) if low <= d.size < high]
        if band:
            band_kept = [i for i in band if i in set(kept)]
            band_right = (accuracy(model, [prepared[kept.index(i)] for i in band_kept], labels[band_kept], reading)
                          * len(band_kept)) if band_kept else 0.0
            band_naive = accuracy(model, [naive_resize(drawings[i].canvas) for i in band], labels[band], reading)
            rows.append(f"  {f'digits {low}–{high} px tall':32} {len(band):>7,} {band_naive:>14.2%} "
                        f"{band_right / len(band):>16.2%}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mnist_and_model_options(parser)
    parser.add_argument("--count", type=int, default=3000, help="MNIST test digits to draw (default: 3,000)")
    arguments = parser.parse_args()

    rng = np.random.default_rng(arguments.seed)
    model, card = load_model_named(arguments.model)
    sources = []
    if arguments.data:
        test = data.load_dataset(arguments.data).test
        chosen = rng.permutation(len(test))[: arguments.count]
        sources.append(("MNIST test digits", test.images[chosen], test.labels[chosen]))
    from sklearn.datasets import load_digits

    digits = load_digits()
    sources.append(("scikit-learn digits (not MNIST)", digits.images, digits.target))

    print(f"model {card.name} ({card.architecture}, reading {card.reading}, {card.test_accuracy:.2%} on MNIST's test "
          f"set); drawings on a "
          f"{CANVAS_SIDE}×{CANVAS_SIDE} canvas, digits {SIZE_RANGE[0]}–{SIZE_RANGE[1]} px tall, random place and pen")
    print(f"{'source':34} {'images':>7} {'naive resize':>14} {'canvas_to_mnist':>16} {'ms / drawing':>12}")
    for name, images, labels in sources:
        drawings = [render(image, label, rng) for image, label in zip(images, labels)]
        for row in measure(model, card.reading, name, drawings):
            print(row)


if __name__ == "__main__":
    main()
