"""How long a drawing takes to read: canvas RGBA → the answer (a digit or "not a digit"), in-process, with the
shipped default model. Prints p50/p95/p99 for each step and for the serving path as a whole,
next to the ways not to serve (`model.predict`, an eager `model(x)` call).

    python -m benchmarks.latency [--model NAME[@FOLDER]] [--runs 500]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image, ImageDraw

from digitcnn import config
from digitcnn.data import preprocess
from digitcnn.reading.inference import Predictor, as_network_input

from benchmarks.common import load_model_named, machine


def drawn_canvases(count: int, side: int = 280, seed: int = 0) -> list[np.ndarray]:
    """Canvas-like RGBA arrays, each a random pen stroke of a few segments, white on black."""
    rng = np.random.default_rng(seed)
    canvases = []
    for _ in range(count):
        canvas = Image.new("RGBA", (side, side), (0, 0, 0, 255))
        points = [tuple(p) for p in rng.integers(40, side - 40, size=(5, 2)).tolist()]
        ImageDraw.Draw(canvas).line(points, fill=(255, 255, 255, 255), width=int(rng.integers(10, 30)), joint="curve")
        canvases.append(np.asarray(canvas))
    return canvases


def percentiles(seconds: list[float]) -> str:
    p50, p95, p99 = np.percentile(np.asarray(seconds) * 1000, [50, 95, 99])
    return f"{p50:8.2f} {p95:8.2f} {p99:8.2f}"


def timed(function, inputs) -> list[float]:
    times = []
    for item in inputs:
        started = time.perf_counter()
        function(item)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=config.DEFAULT_MODEL_NAME, metavar="NAME[@FOLDER]",
                        help="a saved model, or NAME@FOLDER for one in another models folder")
    parser.add_argument("--runs", type=int, default=500)
    arguments = parser.parse_args()

    model, card = load_model_named(arguments.model)
    predictor = Predictor(model, card.refusal_rule, card.reading)
    canvases = drawn_canvases(arguments.runs)
    digits = [preprocess.canvas_to_mnist(canvas) for canvas in canvases]
    for digit in digits[:20]:  # warm caches and thread pools
        predictor.probabilities(digit)
        model(as_network_input(digit), training=False)

    rows = [
        ("canvas → 28×28 (canvas_to_mnist)", timed(preprocess.canvas_to_mnist, canvases)),
        ("28×28 → probabilities (Predictor)", timed(predictor.probabilities, digits)),
        ("28×28 → digit or not a digit (Predictor.read)", timed(predictor.read, digits)),
        ("canvas → answer, the app's path",
         timed(lambda canvas: predictor.read(preprocess.canvas_to_mnist(canvas)), canvases)),
        ("for comparison: eager model(x)", timed(lambda d: model(as_network_input(d), training=False), digits)),
        ("for comparison: model.predict(x)",
         timed(lambda d: model.predict(as_network_input(d), verbose=0), digits[: max(20, arguments.runs // 10)])),
    ]
    print(f"model {card.name} ({card.architecture}, {card.parameter_count:,} parameters); {arguments.runs} drawings "
          f"of 280×280; {machine()}")
    print(f"{'milliseconds':46} {'p50':>8} {'p95':>8} {'p99':>8}")
    for label, seconds in rows:
        print(f"{label:46} {percentiles(seconds)}")


if __name__ == "__main__":
    main()
