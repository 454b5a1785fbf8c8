"""How well and how fast a whole number is read (`digitcnn.reading.numbers.read_number`), on numbers made of
digits no shipped model trained on, re-drawn as pen strokes (as `benchmarks.drawn_digits` re-draws them) and laid
out in a row: heights varying by up to 30% (±15% around the number's own), baselines by up to 15% of it, each
digit's gap to the next either *apart* (5–50% of their mean width) or *touching* (from touching to overlapping
by 15% of it). Two sources:

* MNIST's first 5,000 test digits (held apart from training; the other 5,000 are those the parting's prices were
  tuned on, `digitcnn.reading.numbers.Prices`);
* the 1,797 digits scikit-learn ships (8×8, other writers: not MNIST at all).

For each row: whole-number accuracy (every digit right, none missing or extra), digit accuracy (digits right in
the best alignment of what was read with what was written), the same digits read one by one (each drawn alone on
a 280×280 canvas, as the draw page reads it), and the time from canvas to reading. A refused digit counts as wrong;
"guessed" is the whole-number accuracy had each refused digit been answered with its closest digit.

    python -m benchmarks.numbers [--data PATH/TO/mnist] [--numbers 500] [--model NAME[@FOLDER]]

Without --data or $DIGITCNN_MNIST_DIR, the MNIST rows are skipped.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import grey_dilation

from benchmarks.common import machine, reading_run
from digitcnn.data import preprocess
from digitcnn.errors import EmptyDrawingError
from digitcnn.reading.numbers import read_number

HEIGHT_RANGE = (70, 170)  # a number's digit height on the canvas, in pixels (the app's canvas is 240 tall)
HEIGHT_SPREAD = 0.15  # each digit's height within ±this share of the number's
BASELINE_SPREAD = 0.075  # each digit's baseline within ±this share of the height
PEN_RANGE = (0.0, 0.08)  # extra pen width, as a share of the height (as benchmarks.drawn_digits)
APART = (0.05, 0.5)  # gap to the next digit, as a share of the two digits' mean width
TOUCHING = (-0.15, 0.0)  # from touching to overlapping by 15%
BENCHMARK_TEST_DIGITS = 5000  # MNIST's test digits read here; those after them tuned the parting (numbers.Prices)
MARGIN = 20
SINGLE_CANVAS = 280


@dataclass(frozen=True)
class WrittenNumber:
    canvas: np.ndarray  # (H, W, 4) uint8 RGBA, white ink on black
    text: str
    digits: list  # each digit's strokes (bool arrays), as written


def strokes(digit: np.ndarray, height: int, pen: int) -> np.ndarray:
    """One digit image (any size, ink bright) as solid pen strokes ``height`` pixels tall, thickened by ``pen``."""
    ink = digit.astype(np.float32) / max(float(digit.max()), 1e-6)
    rows, columns = np.flatnonzero((ink > 0.1).any(1)), np.flatnonzero((ink > 0.1).any(0))
    ink = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    scale = height / ink.shape[0]
    shape = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    drawn = np.asarray(Image.fromarray(ink, mode="F").resize(shape, Image.Resampling.BICUBIC)) > 0.5
    if pen > 1:
        drawn = grey_dilation(np.pad(drawn, pen), footprint=_disk(pen // 2))
        rows, columns = np.flatnonzero(drawn.any(1)), np.flatnonzero(drawn.any(0))
        drawn = drawn[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    return drawn


def _disk(radius: int) -> np.ndarray:
    rows, columns = np.indices((2 * radius + 1, 2 * radius + 1)) - radius
    return rows**2 + columns**2 <= radius**2


def write_number(images: np.ndarray, labels: np.ndarray, gaps: tuple[float, float],
                 rng: np.random.Generator) -> WrittenNumber:
    """The digits ``images`` (labels ``labels``) written in a row on a canvas, each gap to the next drawn from
    ``gaps`` (shares of the two digits' mean width; below 0, they overlap)."""
    height = rng.uniform(*HEIGHT_RANGE)
    pen = round(rng.uniform(*PEN_RANGE) * height)
    drawn = [strokes(image, round(height * rng.uniform(1 - HEIGHT_SPREAD, 1 + HEIGHT_SPREAD)), pen) for image in images]
    bottoms = [round(height * rng.uniform(-BASELINE_SPREAD, BASELINE_SPREAD)) for _ in drawn]
    lefts = [0]
    for before, after in zip(drawn, drawn[1:]):
        gap = rng.uniform(*gaps) * (before.shape[1] + after.shape[1]) / 2
        lefts.append(lefts[-1] + before.shape[1] + round(gap))
    tops = [bottom - each.shape[0] for bottom, each in zip(bottoms, drawn)]
    lowest_left, highest = min(lefts), min(tops)
    width = max(left + each.shape[1] for left, each in zip(lefts, drawn)) - lowest_left + 2 * MARGIN
    canvas_height = max(bottoms) - highest + 2 * MARGIN
    canvas = np.zeros((canvas_height, width, 4), np.uint8)
    canvas[..., 3] = 255
    for left, top, each in zip(lefts, tops, drawn):
        row, column = top - highest + MARGIN, left - lowest_left + MARGIN
        canvas[row : row + each.shape[0], column : column + each.shape[1], :3][each] = 255
    return WrittenNumber(canvas, "".join(map(str, labels)), drawn)


def single_canvas(drawn: np.ndarray) -> np.ndarray:
    """One digit's strokes alone in the middle of a draw page's canvas."""
    side = max(SINGLE_CANVAS, *drawn.shape) + 2 * MARGIN
    canvas = np.zeros((side, side, 4), np.uint8)
    canvas[..., 3] = 255
    row, column = (side - drawn.shape[0]) // 2, (side - drawn.shape[1]) // 2
    canvas[row : row + drawn.shape[0], column : column + drawn.shape[1], :3][drawn] = 255
    return canvas


def digits_right(read: str, written: str) -> int:
    """How many of the digits written were read, in the best alignment of the two."""
    return sum(block.size for block in difflib.SequenceMatcher(None, read, written, autojunk=False).get_matching_blocks())


def read_alone(predictor, drawn: np.ndarray) -> int | None:
    try:
        return predictor.read(preprocess.canvas_to_mnist(single_canvas(drawn))).digit
    except EmptyDrawingError:
        return None


@dataclass
class Row:
    name: str
    numbers: int = 0
    whole_right: int = 0
    guessed_right: int = 0
    digits: int = 0
    digits_right: int = 0
    alone_right: int = 0
    milliseconds: list = None

    def add(self, number: WrittenNumber, reading, seconds: float, alone: list) -> None:
        read = reading.text if reading else ""
        guessed = "".join(str(part.reading.closest) for part in reading.digits) if reading else ""
        self.numbers += 1
        self.whole_right += read == number.text
        self.guessed_right += guessed == number.text
        self.digits += len(number.text)
        self.digits_right += digits_right(read, number.text)
        self.alone_right += sum(str(answer) == written for answer, written in zip(alone, number.text))
        self.milliseconds = (self.milliseconds or []) + [seconds * 1000]

    def line(self) -> str:
        times = np.array(self.milliseconds)
        return (f"{self.name:40} {self.numbers:>7,} {self.whole_right / self.numbers:>7.2%} "
                f"{self.guessed_right / self.numbers:>7.2%} "
                f"{self.digits_right / self.digits:>7.2%} {self.alone_right / self.digits:>7.2%} "
                f"{np.median(times):>7.1f} {np.percentile(times, 95):>7.1f}")


HEADER = (f"{'numbers':40} {'count':>7} {'whole':>7} {'guessed':>7} {'digits':>7} {'alone':>7} {'p50 ms':>7} "
          f"{'p95 ms':>7}")


def measure(predictor, name: str, images, labels, lengths, gaps, count: int, rng) -> Row:
    row = Row(name)
    for _ in range(count):
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        chosen = rng.choice(len(images), length, replace=False)
        number = write_number(images[chosen], labels[chosen], gaps, rng)
        started = time.perf_counter()
        try:
            reading = read_number(number.canvas, predictor)
        except EmptyDrawingError:
            reading = None
        seconds = time.perf_counter() - started
        row.add(number, reading, seconds, [read_alone(predictor, drawn) for drawn in number.digits])
    return row


def main() -> None:
    arguments, test, predictor, card, rng = reading_run(__doc__.splitlines()[0], "--numbers", 500,
                                                        "numbers in each row (default: 500)")
    sources = []
    if arguments.data:  # without it, the rows of MNIST's test digits are skipped
        sources.append(("MNIST test", test.images[:BENCHMARK_TEST_DIGITS], test.labels[:BENCHMARK_TEST_DIGITS]))
    from sklearn.datasets import load_digits

    digits = load_digits()
    sources.append(("scikit-learn", digits.images, digits.target))
    print(f"model {card.name} (reading {card.reading}); {machine()}")
    print(HEADER)
    for source, images, labels in sources:
        for lengths, gaps, how in (((4, 4), APART, "apart"), ((4, 4), TOUCHING, "touching"),
                                   ((2, 8), APART, "apart"), ((2, 8), TOUCHING, "touching")):
            digits_text = f"{lengths[0]}" if lengths[0] == lengths[1] else f"{lengths[0]}–{lengths[1]}"
            print(measure(predictor, f"{source}, {digits_text} digits, {how}", images, labels, lengths, gaps,
                          arguments.numbers, rng).line(), flush=True)
    if arguments.data:
        for gaps, how in ((APART, "apart"), (TOUCHING, "touching")):
            print(measure(predictor, f"MNIST test, 8 digits, {how}", sources[0][1], sources[0][2], (8, 8), gaps,
                          arguments.numbers // 2, rng).line(), flush=True)


if __name__ == "__main__":
    main()
