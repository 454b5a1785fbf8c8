"""How long looking inside a reading takes: for one drawing (canvas → 28×28), the activation maps, the
attribution of the answer, a contrast with the runner-up, the rotation search and the shift search,
each and all together, with the shipped default model. Prints p50/p95 in milliseconds.

The searches read their candidates as the app reads the drawing, with its LiteRT
:class:`~digitcnn.reading.inference.Predictor` (the card's pens and "not a digit" rule), one image at a time,
smallest change first, up to the first size that changes the answer.

    python -m benchmarks.explain [--model NAME] [--runs 50]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from digitcnn import config
from digitcnn.reading import explain
from digitcnn.data import preprocess
from digitcnn.storage import registry
from digitcnn.reading.inference import Predictor

from benchmarks.common import machine
from benchmarks.latency import drawn_canvases


def everything(model, predictor, image) -> None:
    """What the draw page shows for one drawing."""
    explain.activation_maps(model, image)
    logits, _ = explain.logits_and_probabilities(model, image)
    answer, runner_up = np.argsort(-logits)[:2]
    explain.attribution(model, image, int(answer))
    explain.contrast(model, image, int(answer), int(runner_up))
    explain.smallest_flip(predictor, image, "rotation")
    explain.smallest_flip(predictor, image, "shift")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=config.DEFAULT_MODEL_NAME)
    parser.add_argument("--runs", type=int, default=50)
    arguments = parser.parse_args()

    model, card = registry.load_model(arguments.model)
    predictor = Predictor(model, card.refusal_rule, card.reading)
    digits = [preprocess.canvas_to_mnist(canvas) for canvas in drawn_canvases(arguments.runs + 3)]
    for digit in digits[:3]:  # build and trace the per-model functions once, as the app's first drawing does
        everything(model, predictor, digit)
    digits = digits[3:]

    parts = [
        ("activation maps", lambda image: explain.activation_maps(model, image)),
        (f"attribution (IG, {explain.DEFAULT_STEPS} steps)", lambda image: explain.attribution(model, image)),
        ("contrast (answer vs runner-up)",
         lambda image: explain.contrast(model, image, *map(int, np.argsort(-explain.logits_and_probabilities(
             model, image)[0])[:2]))),
        (f"rotation search (up to {2 * explain.MAX_ROTATION} turns)",
         lambda image: explain.smallest_flip(predictor, image, "rotation")),
        (f"shift search (up to {(2 * explain.MAX_SHIFT + 1) ** 2 - 1} moves)",
         lambda image: explain.smallest_flip(predictor, image, "shift")),
        ("all of it, one drawing", lambda image: everything(model, predictor, image)),
    ]
    print(f"model {card.name} ({card.architecture}, {card.parameter_count:,} parameters); {len(digits)} drawings; "
          f"{machine()}; load average {os.getloadavg()[0]:.2f}")
    print(f"{'milliseconds':36} {'p50':>8} {'p95':>8}")
    for label, function in parts:
        seconds = []
        for image in digits:
            started = time.perf_counter()
            function(image)
            seconds.append(time.perf_counter() - started)
        p50, p95 = np.percentile(np.asarray(seconds) * 1000, [50, 95])
        print(f"{label:36} {p50:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
