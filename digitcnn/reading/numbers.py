"""Reading a whole number: a picture of a row of handwritten digits, read digit by digit.

:func:`read_number` takes a canvas (RGBA, as the draw page gets it) or a photo, and a
:class:`~digitcnn.reading.inference.Predictor`, and finds the digits the way the model reads them best:

1. **Ink**, as for one drawing (:func:`~digitcnn.data.preprocess.canvas_ink`, :func:`~digitcnn.data.preprocess.picture_ink`),
   and its connected **pieces**. The line's height is that of its tall pieces; a dot (a mark about as thick as it is
   long, smaller than half the line) is left out at once, never read.
2. A piece wider than a digit may hold digits that touch: it is **cut along seams**, paths from its top to its bottom
   through the least ink (each row's step one pixel at most), where a person would part them. A cut is only a
   candidate: step 3 decides whether it parts two digits or halves one.
3. Pieces are put in order, left to right, and each run of neighbours (overlapping or close, together no wider than
   a digit may be) is a **candidate digit**: its ink laid out as MNIST's (:func:`~digitcnn.data.preprocess.ink_to_mnist`,
   as a single drawing is) and read. The digits of a 4 whose strokes do not touch, the bar of a 5, the halves of a
   cut: all are runs.
4. Of every way to part the row into runs, the one chosen is the one the model is surest of together: the highest
   product of its digits' scores (the score a :class:`~digitcnn.reading.refusal.Reading` is refused on), found by
   dynamic programming, with a few :class:`Prices`: a run smaller than half the line may instead be a stray
   **mark**, left out of the number; a digit wider than a line pays for its width, and one ending at a seam for the
   ink the seam crosses. Fewer, surer digits win: cutting a 0 in two halves gives two pieces the model doubts
   ("pieces of digits" are among the non-digits its "not a digit" rule learned from), and a pair of touching
   digits read as one scores low.

Digits that touch are harder than digits apart: a seam is nearly upright, so where two digits overlap and their
strokes cross, a piece of one stays with the other; and the model is sometimes sure of a pair read as one digit.

How well, and how fast, on numbers made of digits no shipped model trained on: ``python -m benchmarks.numbers``
(docs/numbers.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from digitcnn.data import preprocess
from digitcnn.errors import EmptyDrawingError, NothingDrawnError
from digitcnn.reading.refusal import Reading

Box = tuple[int, int, int, int]  # left, top, right, bottom in the picture's pixels (right and bottom excluded)

NUMBER_WORKING_SIDE = 256  # a photo is reduced so that its shorter side is at most this (a line of digits' height)…
NUMBER_WORKING_LENGTH = 2048  # …and its longer side at most this: room for a dozen digits
TALL_PIECE = 0.5  # pieces at least this share of the tallest piece's height set the line's height (their median)
MARK_SIZE = 0.5  # a run or a dot less tall than this share of the line may be a mark, not a digit
CUT_WIDTH = 0.8  # a piece wider than this many lines' heights is cut along seams into candidates
CUT_SPACING = 0.1  # seams are at least this many lines apart, and as far from the piece's sides
MAX_DIGIT_WIDTH = 1.6  # a candidate digit is at most this many lines wide (a sprawling 0 or 7 is about 1.2)
JOIN_GAP = 0.12  # pieces this many lines apart or closer may be one digit's strokes
MAX_RUN = 4  # pieces one digit may be made of
LOWEST_SCORE = 1e-4  # a candidate's score is taken as at least this (a log of 0 would rule a row out altogether)
SEAM_STEP_PRICE = 1.0  # the price of a seam's sideways step, in ink pixels crossed: seams stay nearly upright
SEAM_ROWS = 64  # seams are found on the piece reduced to about this many rows
NOTHING_WRITTEN = "nothing is written: write a number"
ONLY_MARKS = "only dots or specks are written: write a number"


@dataclass(frozen=True)
class DigitInNumber:
    """One digit of a number as it was read: its ``box`` in the picture, the 28×28 MNIST-style ``image`` the model
    read (made as a single drawing's is) and the model's ``reading`` of it (its ``digit`` is None when refused)."""

    box: Box
    image: np.ndarray
    reading: Reading

    @property
    def digit(self) -> int | None:
        return self.reading.digit


@dataclass(frozen=True)
class NumberReading:
    """A number as a model read it: its ``digits`` left to right (each with its box, image and reading; refused
    ones included) and the ``marks`` left out of it (dots, specks and strays smaller than the digits), by their
    boxes."""

    digits: tuple[DigitInNumber, ...]
    marks: tuple[Box, ...] = ()

    @property
    def text(self) -> str:
        """The number: the digits read, left to right, refused ones left out."""
        return "".join(str(part.digit) for part in self.digits if part.digit is not None)

    @property
    def refused(self) -> int:
        """How many of the pieces read as digit-sized are refused: "not a digit"."""
        return sum(part.digit is None for part in self.digits)

    @property
    def score(self) -> float:
        """How sure the model is of the whole reading, 0–1: the product of its digits' scores, refused ones
        included (a reading is as sure as the chance that every one of its digits is right)."""
        return float(math.prod(part.reading.score for part in self.digits))


@dataclass(frozen=True)
class Prices:
    """What the parting (see the module's notes) weighs besides the model's scores, in log-score: what leaving a
    small run out as a mark costs (``mark``), what a digit pays for each line's width beyond ``wide`` lines
    (``width``), and for each line's height of ink the seam it ends at crosses (``cut``). Chosen on numbers made
    of MNIST's test digits 5,000–9,999 (benchmarks.numbers measures on the first 5,000), among 0.3–1 for ``mark``,
    0.8–1 for ``wide``, 0–4 for ``width`` and 0–5 for ``cut``: within that range, whole-number accuracy moved by a
    point or two at most. A price on digits found (against the product's leaning to fewer digits), and one on
    shapes unlike the digit read (a 7 as wide as two, by MNIST's shapes of each digit) made it no better."""

    mark: float = 0.5
    wide: float = 1.0
    width: float = 2.0
    cut: float = 3.0


PRICES = Prices()


@dataclass(frozen=True)
class _Piece:
    """A piece of ink: its pixels are those of ``owner`` equal to ``label``; ``box`` as :data:`Box`; ``cut_after``:
    the ink the seam at its right crosses, in lines (0 where it ends at its own edge, not at a seam)."""

    label: int
    box: Box
    cut_after: float = 0.0

    @property
    def center(self) -> float:
        return (self.box[0] + self.box[2]) / 2


def read_number(picture, predictor, threshold: float | None = None, prices: Prices = PRICES) -> NumberReading:
    """The number written in ``picture``, read with ``predictor`` (each digit refused below ``threshold``, by default
    the model's own, as :meth:`~digitcnn.reading.inference.Predictor.read` does): a canvas's RGBA array (H, W, 4), a
    PIL image, or a picture's path or file object (read by :func:`~digitcnn.data.preprocess.read_image`). See the
    module's notes for how. Raises :class:`~digitcnn.errors.EmptyDrawingError` when nothing but marks is written,
    and :class:`~digitcnn.errors.ImageError` for a file that is not a picture."""
    try:
        ink, full_strength, scale = _ink_of(picture)
    except NothingDrawnError:  # its words ask for a digit
        raise EmptyDrawingError(NOTHING_WRITTEN) from None
    owner, pieces, marks = _pieces(ink, full_strength)
    if not pieces:
        raise EmptyDrawingError(ONLY_MARKS if marks else NOTHING_WRITTEN)
    line = _line_height(pieces)
    pieces, marks = _without_dots(owner, pieces, marks, line)
    pieces = sorted(_cut_wide(owner, ink, full_strength, pieces, line), key=lambda piece: piece.center)
    candidates = _Candidates(ink, full_strength, owner, pieces, predictor, threshold)
    runs = _best_parting(pieces, candidates, line, prices)
    digits, left_out = [], list(marks)
    for start, end, is_mark in runs:
        box = _union(pieces[start:end])
        if is_mark:
            left_out.append(box)
            continue
        digits.append(DigitInNumber(_scaled(box, scale), *candidates.read(start, end)))
    if not digits:
        raise EmptyDrawingError(ONLY_MARKS)
    return NumberReading(tuple(digits), tuple(sorted(_scaled(box, scale) for box in left_out)))


def _ink_of(picture) -> tuple[np.ndarray, float, float]:
    """The ink of ``picture`` (see :func:`read_number`), its full strength, and how many of the picture's pixels
    make one of the ink's (a photo is read reduced)."""
    if isinstance(picture, np.ndarray):
        ink, full_strength = preprocess.canvas_ink(picture)
        return ink, full_strength, 1.0
    image = picture if isinstance(picture, Image.Image) else preprocess.read_image(picture)
    short, long = sorted(image.size)
    reduction = min(1.0, NUMBER_WORKING_SIDE / short, NUMBER_WORKING_LENGTH / long)
    working = (max(1, round(image.width * reduction)), max(1, round(image.height * reduction)))
    ink, full_strength = preprocess.picture_ink(image, working)
    return ink, full_strength, image.width / ink.shape[1]


def _pieces(ink: np.ndarray, full_strength: float) -> tuple[np.ndarray, list[_Piece], list[Box]]:
    """The ink's connected pieces (8-neighbours): a map of which piece owns each pixel (0: none), the pieces, and
    the boxes of specks (pieces :func:`~digitcnn.data.preprocess.ink_to_mnist` would not take for a digit's ink at
    any size: a pixel or two)."""
    from scipy import ndimage

    mask = ink >= preprocess.ink_level(ink.dtype, full_strength)
    owner, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    pieces, specks = [], []
    for label, found in enumerate(ndimage.find_objects(owner), start=1):
        rows, columns = found
        box = (columns.start, rows.start, columns.stop, rows.stop)
        (specks if max(box[2] - box[0], box[3] - box[1]) < 2 else pieces).append(_Piece(label, box))
    for speck in specks:
        owner[owner == speck.label] = 0
    return owner, pieces, [speck.box for speck in specks]


def _line_height(pieces: list[_Piece]) -> float:
    """The height of the line's digits: the median height of the pieces at least :data:`TALL_PIECE` as tall as
    the tallest (a 5's bar or a dot is not a digit's height)."""
    heights = np.array([piece.box[3] - piece.box[1] for piece in pieces], float)
    return float(np.median(heights[heights >= TALL_PIECE * heights.max()]))


def _without_dots(owner: np.ndarray, pieces: list[_Piece], marks: list[Box], line: float
                  ) -> tuple[list[_Piece], list[Box]]:
    """Dots (a piece about as thick as it is long, and smaller than :data:`MARK_SIZE` lines) moved from ``pieces``
    to ``marks``: they are never read, nor joined to a digit."""
    kept = []
    for piece in pieces:
        left, top, right, bottom = piece.box
        if max(right - left, bottom - top) < MARK_SIZE * line:
            region = owner[top:bottom, left:right]
            mine = region == piece.label
            if preprocess.is_dot_shaped(mine):  # the rule a single drawing's dot is told by
                marks.append(piece.box)
                region[mine] = 0
                continue
        kept.append(piece)
    return kept, marks


def _cut_wide(owner: np.ndarray, ink: np.ndarray, full_strength: float, pieces: list[_Piece], line: float
              ) -> list[_Piece]:
    """``pieces``, each wider than :data:`CUT_WIDTH` lines cut along its seams (see :func:`_seams`) into pieces
    of its own (new labels in ``owner``)."""
    result, next_label = [], int(owner.max()) + 1
    for piece in pieces:
        left, top, right, bottom = piece.box
        if right - left <= CUT_WIDTH * line:
            result.append(piece)
            continue
        region = owner[top:bottom, left:right]
        mine = region == piece.label
        seams = _seams(mine, line)  # (columns, ink crossed in lines) of each
        if not seams:
            result.append(piece)
            continue
        columns = np.arange(right - left)[np.newaxis, :]
        part = np.zeros(mine.shape, np.int32)  # which side of the seams each pixel lies: 0 … len(seams)
        for seam, _ in seams:
            part += columns >= seam[:, np.newaxis]
        crossed = [cost for _, cost in seams] + [0.0]
        for side in range(len(seams) + 1):
            pixels = mine & (part == side)
            if not pixels.any():
                continue
            region[pixels] = next_label
            rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
            box = (left + int(cols[0]), top + int(rows[0]), left + int(cols[-1]) + 1, top + int(rows[-1]) + 1)
            result.append(_Piece(next_label, box, crossed[side]))
            next_label += 1
    return result


def _seams(mask: np.ndarray, line: float) -> list[tuple[np.ndarray, float]]:
    """Where a piece (``mask``: its pixels in its box) may part into digits: paths from its top row to its bottom
    one, a column for each row, each the path crossing the least ink (a sideways step costing a little more) among
    those through its middle row at a column, for the columns where that is least within :data:`CUT_SPACING`
    lines (and as far from the sides); left to right, each with the ink it crosses, in lines. Found on the mask reduced to about :data:`SEAM_ROWS` rows
    (a seam is a choice of columns; its precision is the reduction's)."""
    height = mask.shape[0]
    factor = max(1, round(height / SEAM_ROWS))
    small = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).reduce(factor), np.float32) / 255
    spacing = max(1, int(CUT_SPACING * line / factor))
    if small.shape[1] <= 2 * spacing:
        return []
    middle = small.shape[0] // 2
    down, down_steps = _least_ink_paths(small[: middle + 1])
    up, up_steps = _least_ink_paths(small[middle:][::-1])
    through = down[-1] + up[-1] - small[middle]  # the least ink a path through each column of the middle row crosses
    seams = []
    for column in _spaced_minima(through, spacing):
        upper = _path_to(down_steps, column)
        lower = _path_to(up_steps, column)[::-1]
        path = np.concatenate([upper, lower[1:]])
        columns = np.repeat(path * factor + factor // 2, factor)[:height]  # reduce() rounds the rows up
        seams.append((columns, float(through[column]) * factor / line))
    return seams


def _least_ink_paths(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seam carving's dynamic programme on ``ink`` (rows × columns): the least ink a path from the first row
    crosses to reach each pixel (a diagonal step costing :data:`SEAM_STEP_PRICE` more), and for each pixel the
    step its best path came by (-1, 0 or +1 columns)."""
    rows, columns = ink.shape
    cost = np.empty_like(ink)
    steps = np.zeros((rows, columns), np.int8)
    cost[0] = ink[0]
    infinite = np.full(1, np.inf, np.float32)
    every_column = np.arange(columns)
    for row in range(1, rows):
        above = cost[row - 1]
        choices = np.stack([np.concatenate([infinite, above[:-1]]) + SEAM_STEP_PRICE, above,
                            np.concatenate([above[1:], infinite]) + SEAM_STEP_PRICE])
        best = choices.argmin(axis=0)
        cost[row] = choices[best, every_column] + ink[row]
        steps[row] = best - 1
    return cost, steps


def _path_to(steps: np.ndarray, column: int) -> np.ndarray:
    """The columns, row by row from the first, of the best path ending at ``column`` of the last row."""
    path = np.empty(len(steps), int)
    path[-1] = column
    for row in range(len(steps) - 1, 0, -1):
        path[row - 1] = path[row] + steps[row, path[row]]
    return path


def _spaced_minima(values: np.ndarray, spacing: int) -> list[int]:
    """The columns of ``values`` that are its least within ``spacing`` either side, at least ``spacing`` from both
    ends, in order (of equal neighbours, the first)."""
    chosen = []
    for column in range(spacing, len(values) - spacing):
        low, high = column - spacing, column + spacing + 1
        if values[column] <= values[low:high].min() and not (chosen and column - chosen[-1] < spacing):
            chosen.append(column)
    return chosen


class _Candidates:
    """Runs of pieces laid out as MNIST digits and read, each once (the parting asks for most more than once)."""

    def __init__(self, ink, full_strength, owner, pieces, predictor, threshold):
        self._ink, self._full_strength, self._owner = ink, full_strength, owner
        self._pieces, self._predictor, self._threshold = pieces, predictor, threshold
        self._side = min(ink.shape)
        self._read: dict[tuple[int, int], tuple[np.ndarray, Reading] | None] = {}

    def read(self, start: int, end: int) -> tuple[np.ndarray, Reading] | None:
        """The image and reading of ``pieces[start:end]`` as one digit; None when its ink is no digit's at all (a
        speck or a blob, as :func:`~digitcnn.data.preprocess.ink_to_mnist` judges)."""
        key = (start, end)
        if key not in self._read:
            self._read[key] = self._laid_out_and_read(self._pieces[start:end])
        return self._read[key]

    def _laid_out_and_read(self, run: list[_Piece]):
        left, top, right, bottom = _union(run)
        owners = self._owner[top:bottom, left:right]
        # The run's own ink, and the faint edge of strokes below the ink level (owned by no piece), as a drawing of
        # this digit alone would have it; the ink of other pieces in its box is not this digit's.
        own = owners == 0
        for piece in run:
            own |= owners == piece.label
        ink = np.where(own, self._ink[top:bottom, left:right], 0)
        try:
            image = preprocess.ink_to_mnist(ink, self._full_strength, picture_side=self._side)
        except EmptyDrawingError:
            return None
        return image, self._predictor.read(image, self._threshold)


def _best_parting(pieces: list[_Piece], candidates: _Candidates, line: float, prices: Prices = PRICES
                  ) -> list[tuple[int, int, bool]]:
    """The runs ``(start, end, is_mark)`` that part ``pieces`` (in order) with the highest total log-score (see the
    module's notes and :class:`Prices`)."""
    count = len(pieces)
    best = [0.0] + [-math.inf] * count
    chosen: list[tuple[int, bool] | None] = [None] * (count + 1)
    for end in range(1, count + 1):
        for start in range(end - 1, max(-1, end - 1 - MAX_RUN), -1):
            run = pieces[start:end]
            if start < end - 1 and not _may_join(run, line):
                break
            left, top, right, bottom = _union(run)
            read = candidates.read(start, end)
            if read is not None and right - left <= MAX_DIGIT_WIDTH * line:
                value = (math.log(max(read[1].score, LOWEST_SCORE))
                         - prices.width * max(0.0, (right - left) / line - prices.wide)
                         - prices.cut * pieces[end - 1].cut_after)
                if best[start] + value > best[end]:
                    best[end], chosen[end] = best[start] + value, (start, False)
            if max(right - left, bottom - top) < MARK_SIZE * line or (read is None and count > 1):
                value = -prices.mark
                if best[start] + value > best[end]:
                    best[end], chosen[end] = best[start] + value, (start, True)
        if chosen[end] is None:  # a piece no run can take (a lone blob): read alone, whatever it scores
            start = end - 1
            best[end], chosen[end] = best[start] + math.log(LOWEST_SCORE), (start, candidates.read(start, end) is None)
    runs, end = [], count
    while end > 0:
        start, is_mark = chosen[end]
        runs.append((start, end, is_mark))
        end = start
    return runs[::-1]


def _may_join(run: list[_Piece], line: float) -> bool:
    """Whether ``run`` (pieces in order) may be one digit: together no wider than :data:`MAX_DIGIT_WIDTH` lines, and
    each piece within :data:`JOIN_GAP` lines of the ones before it."""
    left, _, right, _ = _union(run)
    if right - left > MAX_DIGIT_WIDTH * line:
        return False
    reach = run[0].box[2]
    for piece in run[1:]:
        if piece.box[0] - reach > JOIN_GAP * line:
            return False
        reach = max(reach, piece.box[2])
    return True


def _union(pieces: list[_Piece]) -> Box:
    return (min(p.box[0] for p in pieces), min(p.box[1] for p in pieces), max(p.box[2] for p in pieces),
            max(p.box[3] for p in pieces))


def _scaled(box: Box, scale: float) -> Box:
    if scale == 1.0:
        return box
    return tuple(int(round(edge * scale)) for edge in box)
