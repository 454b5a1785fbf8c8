""""Not a digit" for kinds of drawing no training ever meets (issue 38): families of pictures kept out of the
generator of non-digits (`digitcnn.data.nondigits`, which training and the refusal rule's fit draw from), read by a
saved model through the app's path (canvas ink → `drawing_to_mnist` → `Predictor.read` with its
card's rule). Printed: the share of each family refused, and what a family's pictures are read as when they are not.

Families, each drawn here and nowhere in `digitcnn` (so no training can reach them; a test checks that their glyphs
are none of the generator's letters):

* glyphs from the fonts Matplotlib ships (DejaVu), drawn as the generator draws a letter (random size, lean and pen
  weight): Greek letters, Cyrillic letters, math signs, currency signs, check marks and crosses, musical notes —
  none a person would read as a digit (З, б, Ч and the like, and σ, ο and ι are left out);
* pen drawings: tallies (three to five bars, five with a stroke across) and digits crossed out with an X (MNIST's
  test digits, re-drawn as `benchmarks.drawn_digits` draws them).

    python -m benchmarks.unseen_kinds [--data PATH/TO/mnist] [--count-per-family 200] [--model NAME[@FOLDER]]

Without --data or $DIGITCNN_MNIST_DIR, the crossed-out digits are the embedded sample's.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw

from benchmarks.common import machine, reading_run
from benchmarks.drawn_digits import render
from digitcnn import data
from digitcnn.data import nondigits, preprocess
from digitcnn.errors import EmptyDrawingError
from digitcnn.reading.inference import Predictor, predict_with_features
from digitcnn.reading.refusal import fit_refusal

GLYPH_FAMILIES = {
    "Greek letters": "αβγδεζηθκλμξπρτφχψωΓΔΘΛΞΠΣΦΨΩ",
    "Cyrillic letters": "БГДЖИЙЛФЦШЩЪЫЬЭЮЯгджийлфцшщъыьэюя",
    "math signs": "±×÷≠≈∞∫√∂∇∈∩∪⊂⊃∧∨¬∀∃",
    "currency signs": "€£¥₹₽¢₩",
    "check marks and crosses": "✓✔✗✘",
    "musical notes": "♪♫♩♬♭♮♯",
}
PEN_FAMILIES = ("tallies", "crossed-out digits")
FAMILIES = (*GLYPH_FAMILIES, *PEN_FAMILIES)
GLYPH_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
               "DejaVuSerif-Bold.ttf", "DejaVuSansMono.ttf")
CANVAS_RASTER = round(280 * nondigits.RASTER_SCALE)  # the app's 280-px canvas, at the generator's raster scale


def glyph_fonts() -> list[str]:
    """The paths of :data:`GLYPH_FONTS` among the fonts Matplotlib ships."""
    return [path for path in nondigits.font_files() if os.path.basename(path) in GLYPH_FONTS]


def glyph(family: str, rng: np.random.Generator, fonts: list[str]) -> np.ndarray:
    return nondigits.glyph_ink(GLYPH_FAMILIES[family], fonts, rng)


def tally(rng: np.random.Generator) -> np.ndarray:
    """Three to five upright bars side by side; five with a stroke across them, as tallies are kept."""
    bars = int(rng.integers(3, 6))
    strokes = [np.array([[x, -1.0], [x, 1.0]]) for x in np.linspace(-1, 1, bars)]
    if bars == 5:
        strokes.append(np.array([[-1.2, 0.7], [1.2, -0.7]]))
    return nondigits.pen_ink(strokes, rng, turn=10)


def crossed_out(digits: data.Dataset, rng: np.random.Generator) -> np.ndarray:
    """A digit re-drawn on the canvas, then crossed out with an X over its box, in its own pen."""
    index = int(rng.integers(len(digits)))
    canvas = render(digits.images[index], digits.labels[index], rng).canvas
    ink = canvas[..., 0] > 0
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1], columns[0], columns[-1]
    pen = max(4, round(0.08 * max(bottom - top, right - left)))
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for line in (((left, top), (right, bottom)), ((right, top), (left, bottom))):
        draw.line(line, fill=(255, 255, 255, 255), width=pen)
    return np.asarray(image)[..., 0].astype(np.float32) / 255


def on_the_canvas(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Raster ink placed at a random spot of a canvas as large as the app's (so that a speck and a dot are judged
    against the canvas, as the app judges them)."""
    if max(ink.shape) > CANVAS_RASTER:
        return ink
    canvas = np.zeros((CANVAS_RASTER, CANVAS_RASTER), np.float32)
    top = int(rng.integers(CANVAS_RASTER - ink.shape[0] + 1))
    left = int(rng.integers(CANVAS_RASTER - ink.shape[1] + 1))
    canvas[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    return canvas


def drawings(family: str, count: int, rng: np.random.Generator, digits: data.Dataset) -> list[np.ndarray]:
    """``count`` pictures of ``family`` as canvas ink (floats in [0, 1])."""
    fonts = glyph_fonts()
    if family in GLYPH_FAMILIES:
        return [on_the_canvas(glyph(family, rng, fonts), rng) for _ in range(count)]
    if family == "tallies":
        return [on_the_canvas(tally(rng), rng) for _ in range(count)]
    return [crossed_out(digits, rng) for _ in range(count)]


def laid_out(family: str, count: int, rng: np.random.Generator, digits: data.Dataset) -> tuple[np.ndarray, int]:
    """``count`` pictures of ``family`` laid out as the app lays out a drawing (:func:`preprocess.drawing_to_mnist`),
    and how many of them the layout refused (a glyph made of dots, say: the app says what it is, and reads no
    digit)."""
    images, refused = [], 0
    for ink in drawings(family, count, rng, digits):
        try:
            images.append(preprocess.drawing_to_mnist(ink))
        except EmptyDrawingError:
            refused += 1
    return np.stack(images), refused


def regression_alone(predictor: Predictor, card, digits: data.Dataset) -> Predictor:
    """``predictor`` with its rule's digit-likeness less the closeness (the regression alone, the shipped rule before
    issue 38), its threshold fitted as a training fits one, to refuse the same share of ``digits``."""
    rule = card.refusal_rule
    probabilities, features = predict_with_features(predictor.model, digits.images, reading=card.reading)
    alone = fit_refusal(probabilities, digits.labels, features, replace(rule.likeness, prototypes=None))
    return Predictor(predictor.model, alone, card.reading)


def refused_share(predictor: Predictor, images: np.ndarray, refused_by_layout: int) -> tuple[float, list]:
    """The share of pictures refused, ``images`` laid out and those the layout refused, and the digits read."""
    readings = [predictor.read(image).digit for image in images]
    return (refused_by_layout + sum(digit is None for digit in readings)) / (len(images) + refused_by_layout), readings


def main() -> None:
    arguments, digits, predictor, card, rng = reading_run(__doc__.split("\n\n")[0], "--count-per-family", 200)
    likeness = card.refusal_rule.likeness
    alone = regression_alone(predictor, card, digits) if likeness and likeness.prototypes else None
    print(f"{machine()}; model {card.name}; {arguments.count_per_family} pictures a family, read as the app reads"
          + ("; beside it, its rule's regression alone (its threshold fitted again to refuse as many test digits)"
             if alone else ""))
    print()
    print("| family (never in training) | refused" + (" | by the regression alone" if alone else "")
          + " | read as a digit, most often |")
    print("|---|---|---" + ("|---" if alone else "") + "|")
    shares, shares_alone = [], []
    for family in FAMILIES:
        images, refused_by_layout = laid_out(family, arguments.count_per_family, rng, digits)
        refused, readings = refused_share(predictor, images, refused_by_layout)
        shares.append(refused)
        beside = ""
        if alone:
            shares_alone.append(refused_share(alone, images, refused_by_layout)[0])
            beside = f" {shares_alone[-1] * 100:.1f}% |"
        common = ", ".join(f"{digit} ({times})" for digit, times in
                           Counter(digit for digit in readings if digit is not None).most_common(3))
        print(f"| {family} | {refused * 100:.1f}% |{beside} {common or '—'} |")
    beside = f" {np.mean(shares_alone) * 100:.1f}% (lowest {min(shares_alone) * 100:.1f}%) |" if alone else ""
    print(f"| **all families** | **{np.mean(shares) * 100:.1f}%** (lowest {min(shares) * 100:.1f}%) |{beside} |")


if __name__ == "__main__":
    main()
