"""A stray dot beside a digit: is the digit still read? MNIST's test digits re-drawn on the canvas as
`benchmarks.drawn_digits` draws them, each read three ways by a saved model through the app's path (canvas →
MNIST-style 28×28 → `Predictor.read` with its card's rule): as drawn; with one dot (a tap of the pen, radius 3–8
px) somewhere on the canvas at least 20 px from the digit's ink; and with that dot, laid out as the app did
before it learned to leave stray dots out (`ink_to_mnist` of the whole ink). Printed: the share refused ("not a
digit", or a drawing the layout refuses) and the accuracy, each way.

    python -m benchmarks.stray_dots [--data PATH/TO/mnist] [--count 1000] [--model NAME[@FOLDER]]

Without --data or $DIGITCNN_MNIST_DIR, the embedded sample (MNIST training digits the shipped model learned)
stands in for MNIST's test digits.
"""

from __future__ import annotations


import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import distance_transform_edt

from benchmarks.common import machine, reading_run
from benchmarks.drawn_digits import render
from digitcnn.data import preprocess
from digitcnn.errors import EmptyDrawingError

DOT_RADIUS = (3, 8)
CLEARANCE = 20  # pixels between the dot and the digit's ink


def with_a_dot(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``canvas`` with one filled dot at a random place at least :data:`CLEARANCE` px from its ink."""
    far = distance_transform_edt(canvas[..., 0] == 0) > CLEARANCE + DOT_RADIUS[1]
    rows, columns = np.nonzero(far)
    spot = rng.integers(len(rows))
    radius = int(rng.integers(DOT_RADIUS[0], DOT_RADIUS[1] + 1))
    image = Image.fromarray(canvas)
    y, x = int(rows[spot]), int(columns[spot])
    ImageDraw.Draw(image).ellipse((x - radius, y - radius, x + radius, y + radius), fill=(255, 255, 255, 255))
    return np.asarray(image)


def laid_out_before(canvas: np.ndarray) -> np.ndarray:
    """The layout as it was: the whole ink, stray dots included."""
    return preprocess.ink_to_mnist(*preprocess.canvas_ink(canvas))


def main() -> None:
    arguments, source, predictor, card, rng = reading_run(__doc__.split("\n\n")[0], "--count", 1000)
    chosen = rng.choice(len(source), min(arguments.count, len(source)), replace=False)
    ways = {"as drawn": [], "with a stray dot": [], "with a stray dot, laid out as before": []}
    for index in chosen:
        drawing = render(source.images[index], source.labels[index], rng)
        dotted = with_a_dot(drawing.canvas, rng)
        for way, layout, canvas in (("as drawn", preprocess.canvas_to_mnist, drawing.canvas),
                                    ("with a stray dot", preprocess.canvas_to_mnist, dotted),
                                    ("with a stray dot, laid out as before", laid_out_before, dotted)):
            try:
                digit = predictor.read(layout(canvas)).digit
            except EmptyDrawingError:
                digit = None
            ways[way].append((digit, drawing.label))
    print(f"{machine()}; model {card.name}; {len(chosen):,} digits of {source.source}, re-drawn")
    print()
    print("| drawing | refused | read right |")
    print("|---|---|---|")
    for way, readings in ways.items():
        refused = np.mean([digit is None for digit, _ in readings])
        right = np.mean([digit == label for digit, label in readings])
        print(f"| {way} | {refused * 100:.1f}% | {right * 100:.1f}% |")


if __name__ == "__main__":
    main()
