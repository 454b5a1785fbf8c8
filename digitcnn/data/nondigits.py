"""Pictures that are not digits, laid out as MNIST digits: what a model that may answer "not a digit" learns
to refuse and is measured on (issue 13).

Everything is drawn here, from nothing downloaded: letters from the fonts that come with the project's own pinned
packages (Matplotlib's and Pillow's, never the machine's, so that a seed makes the same pictures on every machine), and
shapes, scribbles, blobs and dots drawn the way a person draws on the app's 280×280 canvas — pen strokes 8–30
px wide, the drawing 80–250 px across, a little wobble in the hand. Each drawing then goes through
:func:`digitcnn.data.preprocess.ink_to_mnist`, the very step that lays out the app's drawings before a model reads
them, so a non-digit is cropped, scaled to 20 px and centered by mass exactly as a drawn digit is. Only the
part of the canvas that holds the drawing is rasterized, and at half its resolution (:data:`RASTER_SCALE`):
``ink_to_mnist`` crops to the ink and reduces it to 20 px anyway, so where the drawing sat on the canvas
changes nothing, and the rest would only cost time.

A non-digit must be one that a reasonable person would not read as a digit, or a model that refuses it is
wrongly blamed. Hence: no letter that looks like a digit (:data:`EXCLUDED_LETTERS`), no shape that is a digit
(a circle or an ellipse is a 0, an upright bar a 1), no blob standing upright, no piece of a 1 and no overlap with
a 1 in it, and nothing at all, of any kind, that comes out as a bar near upright, a long one or a short solid one
(:func:`_looks_like_a_one`). Drawings that the
app itself would refuse as empty, a speck or a dot (``EmptyDrawingError``) never reach a model, so they are
drawn again too. Drawn in a process of their own beside a training: :mod:`digitcnn.data.nondigits_process`.

Why one module: the seven kinds share the pen, the placement and the checks above, and each kind's
reasons (what it leaves out, and why) sit beside its drawing, where whoever changes one reads them.

    >>> made = generate(1000, seed=0)
    >>> made.images.shape, made.images.dtype, sorted(set(made.kinds.tolist()))
    ((1000, 28, 28), dtype('uint8'), ['blob', 'letter', 'noise', 'scribble', 'shape'])
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import maximum_filter, minimum_filter
from scipy.spatial import ConvexHull

from digitcnn.data import IMAGE_SIDE
from digitcnn.errors import EmptyDrawingError
from digitcnn.data.preprocess import ink_to_mnist

KINDS = ("letter", "shape", "scribble", "blob", "noise", "fragment", "overlap")
# The kinds made from real digits, and how many different digits of PIECE_DIGITS (below) the digits given must hold
# for each: a fragment is cut from one, an overlap draws two.
LABELS_NEEDED = {"fragment": 1, "overlap": 2}
DIGIT_KINDS = tuple(LABELS_NEEDED)

# Letters a reasonable person could take for a digit, left out: O o Q (0), I l (1), Z z (2), S s (5),
# G b (6), B (8), g q (9); and i j J f, mostly one upright stroke: as a 1 they fail the bar check of
# _looks_like_a_one half the time or more. Kept, though a model may well confuse them: A, H, T, C, U, D, y…
EXCLUDED_LETTERS = "OoQIlZzSsGbBgqijJf"
LETTERS = "".join(chr(code) for code in [*range(65, 91), *range(97, 123)] if chr(code) not in EXCLUDED_LETTERS)
# Letters are drawn in the fonts Matplotlib ships (DejaVu, STIX, Computer Modern: pinned in requirements.txt) and in
# Pillow's own, never the machine's: the machine's fonts made the same seed draw other letters on another machine.
FONT_PACKAGE, FONT_FOLDER = "matplotlib", ("mpl-data", "fonts", "ttf")
SYMBOL_FONTS = ("cmex10.ttf", "cmsy10.ttf")  # TeX's symbols at letters' codes: brackets, arrows, ∑, §, not letters
FONT_SIZE_RANGE = (120, 250)  # em size in canvas pixels: capitals 90–180 px tall, as drawn digits are
FONT_SIZE_STEP = 10  # sizes are rounded to this, so that a few dozen loaded fonts serve every letter
LETTER_TURN = 15  # letters lean up to this many degrees either way
LETTER_WEIGHT_RANGE = (-0.03, 0.08)  # pen width added (MaxFilter) or, below 0, removed (MinFilter), per em

# Sizes below are in pixels of the app's 280×280 canvas; drawings are rasterized at this scale of it. Halving
# it changes the 28×28 pictures by 1–4 gray levels of 255 a pixel (median over pictures; most where layout
# lands half a pixel apart) and saves a third of the time; a smaller scale saves no more.
RASTER_SCALE = 0.5
SIZE_RANGE = (80, 250)  # a drawing's longer side on the canvas, in pixels
PEN_RANGE = (8, 30)  # pen widths in pixels, like a person's on the app's slider (6–40, 20 by default)…
MAX_PEN_SHARE = 0.18  # …but never over this share of the drawing's size: a fatter pen makes a blob
WOBBLE = 0.025  # how far a hand strays from the intended line, as a share of the drawing's size
STEP = 0.15  # the longest straight piece of a stroke, in a shape's own units (it spans about 2)
JOIN_TURN = 20  # where a stroke turns by more than this many degrees, the pen's round tip fills the corner
CURVE_POINTS = 12  # points per Bezier segment of a scribble
ASPECT_RANGE = (0.75, 1.33)  # shapes are drawn this much wider or taller than their model
SHAPE_TURN = 20  # shapes lean up to this many degrees either way, except those drawn in any direction:
ANY_TURN_SHAPES = ("arrow", "cross", "spiral")

SCRIBBLE_STROKES = (2, 5)  # strokes per scribble (low inclusive, high exclusive): one stroke can be a digit
SCRIBBLE_POINTS = (4, 8)  # random control points per stroke
BLOB_COUNT = (1, 5)  # filled blobs per picture (low inclusive, high exclusive)
BLOB_ELONGATION = (2.0, 3.5)  # a lone blob is this much longer than wide: a rounder one is a dot to the app
BLOB_TILT_MIN = 30  # …and lies at least this many degrees off upright, where it would be a 1 drawn in marker
BLOB_HARMONICS = 0.22  # how far a blob's outline departs from an ellipse (random harmonics 2–4)
BLOB_POINTS = 48  # points along a blob's outline
DOT_COUNT = (15, 120)  # dots of the "noise" kind's sprinkled variant
DOT_RADIUS = (3, 10)
STATIC_CELL = (4, 13)  # cell size, in canvas pixels, of the "noise" kind's static variant
STATIC_DENSITY = (0.15, 0.5)  # share of static cells inked

FRAGMENT_SHARE = 1 / 3  # a fragment is a window over this share of the digit's box…
FRAGMENT_INK = (0.15, 0.45)  # …holding this share of its ink (less is a speck, more is most of the digit)
OVERLAP_SHIFT = (0.2, 0.4)  # the second digit is moved this share of the size, sideways: one moved up or down
OVERLAP_SLANT = 30  # by more than this many degrees off the horizontal closes loops into a stack that reads as 8
# What fragments and overlaps are made of: not 1s. A piece of a 1 is a shorter 1, and a 1 over another digit reads
# as that digit's extra stroke.
PIECE_DIGITS = (0, 2, 3, 4, 5, 6, 7, 8, 9)

ONE_ELONGATION = 3.0  # ink that many times longer than wide (by its second moments)…
ONE_TILT = 45  # …and within this many degrees of upright is a 1: 97.6% of MNIST's test 1s, 1.2% of other digits…
BAR_ELONGATION = 2.0  # …and so is a bar only this much longer than wide, where its ink fills most of its convex hull
BAR_SOLIDITY = 0.7  # (at least this share): a 1 written with a fat pen. Together, 97.9% of MNIST's test 1s, 1.7% of
# other digits (filled loops of 8s and 9s among them), and 66% of the re-drawn scikit-learn 1s, bold 1s written for an
# 8×8 scanner (the long bar alone: 15%)
MAX_ATTEMPTS = 100  # a kind that fails this often in a row for one picture is broken, not unlucky
_PIXEL_ROWS, _PIXEL_COLUMNS = np.indices((IMAGE_SIDE, IMAGE_SIDE)).reshape(2, -1).astype(np.float64)  # of each pixel, in order


@dataclass(frozen=True)
class NonDigits:
    """Generated non-digits: ``images`` uint8 (N, 28, 28), 0 background and 255 ink, laid out as MNIST
    digits; ``kinds`` (N,) the kind of each, one of :data:`KINDS`."""

    images: np.ndarray
    kinds: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def generate(count: int, seed: int, kinds: Sequence[str] | None = None, digits=None) -> NonDigits:
    """``count`` non-digit images, the kinds taken in turn (so each is present once ``count`` reaches their
    number, in shares equal to one image).

    ``digits`` (anything with ``images``, uint8 (N, 28, 28), and ``labels``, such as a
    :class:`digitcnn.data.Dataset`) is what fragments and overlaps are cut from (those of :data:`PIECE_DIGITS`):
    use digits the model under test has not learned from when measuring it. ``kinds`` defaults to every kind of
    :data:`KINDS` that can be made: fragments where ``digits`` hold one of :data:`PIECE_DIGITS`, overlaps where
    they hold two. The same ``seed`` and ``kinds`` give the same images, and a longer run starts with the images
    of a shorter one.
    """
    if count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    by_label = {} if digits is None else {label: np.flatnonzero(np.asarray(digits.labels) == label)
                                          for label in PIECE_DIGITS}
    by_label = {label: indices for label, indices in by_label.items() if len(indices)}
    if kinds is None:
        kinds = tuple(kind for kind in KINDS if len(by_label) >= LABELS_NEEDED.get(kind, 0))
    kinds = tuple(kinds)
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds must be some of {', '.join(KINDS)}; got {', '.join(unknown) or 'none'}")
    if digits is None and any(kind in DIGIT_KINDS for kind in kinds):
        raise ValueError(f"the kinds {' and '.join(DIGIT_KINDS)} are made from real digits: give digits")
    for kind in DIGIT_KINDS:
        if kind in kinds and len(by_label) < LABELS_NEEDED[kind]:
            raise ValueError(f"{kind}s need digits of {LABELS_NEEDED[kind]} of {', '.join(map(str, PIECE_DIGITS))} "
                             f"at least")
    materials = _Materials(_letter_fonts() if "letter" in kinds else (),
                           None if digits is None else np.asarray(digits.images), by_label)
    rng = np.random.default_rng(seed)
    images = np.zeros((count, IMAGE_SIDE, IMAGE_SIDE), np.uint8)
    for index in range(count):
        images[index] = _one(_DRAWERS[kinds[index % len(kinds)]], rng, materials)
    return NonDigits(images, np.array([kinds[index % len(kinds)] for index in range(count)], dtype=str))


def font_files() -> list[str]:
    """The TrueType files of :data:`FONT_PACKAGE`'s :data:`FONT_FOLDER`, in name order (found without importing
    the package, which takes 0.7 s)."""
    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{FONT_PACKAGE}, whose fonts letters are drawn in, is not installed: "
                           f"python -m pip install -r requirements.txt")
    return sorted(glob.glob(os.path.join(spec.submodule_search_locations[0], *FONT_FOLDER, "*.ttf")))


# ---------------------------------------------------------------------------------------------
# One picture


@dataclass(frozen=True)
class _Materials:
    """What drawings are made from, found once for a whole run."""

    fonts: tuple  # font files that draw letters, and None: Pillow's built-in font
    digit_images: np.ndarray | None  # real digits for fragments and overlaps…
    digits_by_label: dict  # …and, for each of PIECE_DIGITS among them, their indices

    @functools.cached_property
    def piece_digits(self) -> np.ndarray:
        """The indices of all the digits pieces are made of (those of :attr:`digits_by_label`), joined once for a
        run's fragments."""
        return np.concatenate([np.zeros(0, int), *self.digits_by_label.values()])


def _one(draw: Callable, rng: np.random.Generator, materials: _Materials) -> np.ndarray:
    """One picture of a kind, drawn again until the app would read it and it is not a 1."""
    for _ in range(MAX_ATTEMPTS):
        try:
            image = ink_to_mnist(draw(rng, materials))
        except EmptyDrawingError:
            continue
        if not _looks_like_a_one(image):
            return np.rint(image * 255).astype(np.uint8)
    raise RuntimeError(f"{draw.__name__} drew no usable picture in {MAX_ATTEMPTS} tries")


def _looks_like_a_one(image: np.ndarray) -> bool:
    """Whether the ink is a bar near upright, the way a 1 is written, by the ellipse of its second moments: a long
    one, or a shorter one that is solid (a fat pen's). Catches what any kind may draw by chance: a thin fragment, a
    scribble that came out straight, a blob standing nearly upright."""
    weights = image.ravel() / image.sum()
    row_mean, column_mean = weights @ _PIXEL_ROWS, weights @ _PIXEL_COLUMNS
    rows, columns = _PIXEL_ROWS - row_mean, _PIXEL_COLUMNS - column_mean
    row_spread, column_spread = weights @ (rows * rows), weights @ (columns * columns)
    joint = weights @ (rows * columns)
    middle, radius = (row_spread + column_spread) / 2, math.hypot((row_spread - column_spread) / 2, joint)
    elongation = math.sqrt((middle + radius) / max(middle - radius, 1e-9))
    tilt = abs(math.degrees(math.atan2(2 * joint, row_spread - column_spread))) / 2  # the long axis's, from upright
    if tilt >= ONE_TILT or elongation <= BAR_ELONGATION:
        return False
    return elongation > ONE_ELONGATION or _solidity(image) >= BAR_SOLIDITY


def _solidity(image: np.ndarray) -> float:
    """The ink's share of its convex hull (that of the pixels more than half inked): near 1 for a bar or a blob,
    far less for a letter such as L or T."""
    rows, columns = np.nonzero(image > 0.5)
    if not len(rows):
        return 0.0
    corners = np.concatenate([np.column_stack([rows + down, columns + right]) for down in (0, 1) for right in (0, 1)])
    return float(image.sum() / ConvexHull(corners).volume)  # a 2-D hull's volume is its area


# ---------------------------------------------------------------------------------------------
# Letters


def _letter(rng: np.random.Generator, materials: _Materials) -> np.ndarray:
    """A letter of :data:`LETTERS` in a random font and size, leaning up to ±15°, its strokes made thicker
    (a MaxFilter, as a broad pen) or thinner (a MinFilter) by up to a few hundredths of its size."""
    return glyph_ink(LETTERS, materials.fonts, rng)


def glyph_ink(glyphs: str, fonts: Sequence, rng: np.random.Generator) -> np.ndarray:
    """The ink (floats in [0, 1]) of one of ``glyphs`` drawn as :func:`_letter` draws a letter: at a random size, in
    one of ``fonts`` (paths; None: Pillow's own), leaning, its strokes made thicker or thinner (chosen in that order,
    the order a seed's letters have always been drawn in). What other pictures drawn from a font's glyphs are drawn
    with (the held-out kinds of ``benchmarks.unseen_kinds``)."""
    size = _raster(FONT_SIZE_STEP * round(rng.integers(*FONT_SIZE_RANGE) / FONT_SIZE_STEP))
    font = _font(fonts[rng.integers(len(fonts))], size)
    glyph = glyphs[rng.integers(len(glyphs))]
    left, top, right, bottom = font.getbbox(glyph)
    margin = math.ceil(LETTER_WEIGHT_RANGE[1] * size / 2) + 1  # room for the broadest pen
    image = Image.new("L", (right - left + 2 * margin, bottom - top + 2 * margin))
    ImageDraw.Draw(image).text((margin - left, margin - top), glyph, font=font, fill=255)
    image = image.rotate(rng.uniform(-LETTER_TURN, LETTER_TURN), Image.Resampling.BILINEAR, expand=True)
    ink = np.asarray(image)
    change = round(rng.uniform(*LETTER_WEIGHT_RANGE) * size)
    if change > 0:
        ink = maximum_filter(ink, size=change + 1)
    elif change < 0:
        thinner = minimum_filter(ink, size=1 - change)
        if thinner.sum() * 2 > ink.sum():  # thinning that takes half the ink breaks a light font's strokes
            ink = thinner
    return ink.astype(np.float32) / 255.0


def _letter_fonts() -> tuple:
    """The files of :func:`font_files` that draw Latin letters, and None: Pillow's own font."""
    return (*(path for path in font_files() if os.path.basename(path) not in SYMBOL_FONTS and _draws_letters(path)),
            None)


@functools.cache
def _draws_letters(path: str) -> bool:
    """Whether the font at ``path`` loads and has its own glyphs for letters (symbol and emoji fonts draw
    every letter as the same missing-glyph box, or refuse to load at an arbitrary size)."""
    try:
        font = ImageFont.truetype(path, 48)
        masks = [bytes(font.getmask(text)) for text in ("A", "x", "\U000f0000")]  # the last: a private code
    except (OSError, ValueError):
        return False
    return len(set(masks)) == 3


@functools.cache
def _font(path: str | None, size: int):
    return ImageFont.load_default(size=size) if path is None else ImageFont.truetype(path, size)


# ---------------------------------------------------------------------------------------------
# Pen drawings: strokes in a shape's own coordinates (about -1 to 1, y down), placed and drawn on the canvas


def _shape(rng: np.random.Generator, materials: _Materials) -> np.ndarray:
    """One of :data:`SHAPES`, leaning up to ±20° (arrows, crosses and spirals in any direction)."""
    name = list(SHAPES)[rng.integers(len(SHAPES))]
    return pen_ink(SHAPES[name](rng), rng, 180 if name in ANY_TURN_SHAPES else SHAPE_TURN)


def pen_ink(strokes: list[np.ndarray], rng: np.random.Generator, turn: float) -> np.ndarray:
    """Canvas ink (floats in [0, 1], at :data:`RASTER_SCALE`) of ``strokes`` (points in a shape's own units, about -1
    to 1, y down) drawn by a hand, as :func:`_shape` draws a shape: wobbling, turned by up to ``turn`` degrees, at a
    random size with a random round pen. What other pen drawings are drawn with (``benchmarks.unseen_kinds``)."""
    return _pen_drawing([_wobble(_densify(stroke), rng) for stroke in strokes], rng, turn)


def _heart(rng):
    t = np.linspace(0, 2 * np.pi, 48)
    return [np.column_stack([16 * np.sin(t) ** 3, -13 * np.cos(t) + 5 * np.cos(2 * t) + 2 * np.cos(3 * t)
                             + np.cos(4 * t)]) / 16]


def _star(rng):
    """Five points: as an outline, or as one pentagram stroke (the way most people draw a star)."""
    outer = np.radians(-90 + 72 * np.arange(5))
    points = np.column_stack([np.cos(outer), np.sin(outer)])
    if rng.random() < 0.5:
        return [points[[0, 2, 4, 1, 3, 0]]]
    inner = rng.uniform(0.35, 0.5) * np.column_stack([np.cos(outer + np.pi / 5), np.sin(outer + np.pi / 5)])
    return [np.vstack([np.stack([points, inner], axis=1).reshape(-1, 2), points[:1]])]


def _square(rng):
    return [np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], float)]


def _triangle(rng):
    return [np.array([(0, -1), (1, 0.8), (-1, 0.8), (0, -1)], float)]


def _cross(rng):
    """An X or a +."""
    if rng.random() < 0.5:
        return [np.array([(-1, -1), (1, 1)], float), np.array([(1, -1), (-1, 1)], float)]
    return [np.array([(0, -1), (0, 1)], float), np.array([(-1, 0), (1, 0)], float)]


def _smiley(rng):
    """A face: two eyes and a smiling mouth inside its outline (which alone would be a 0)."""
    t = np.linspace(0, 2 * np.pi, 40)
    mouth = np.radians(np.linspace(rng.uniform(20, 45), rng.uniform(135, 160), 16))
    eye = rng.uniform(0.05, 0.12)
    return [np.column_stack([np.cos(t), np.sin(t)]),
            np.array([(-0.35, -0.3), (-0.35, -0.3 + eye)]), np.array([(0.35, -0.3), (0.35, -0.3 + eye)]),
            0.55 * np.column_stack([np.cos(mouth), np.sin(mouth)])]


def _arrow(rng):
    head = rng.uniform(0.25, 0.5)
    return [np.array([(-1, 0), (1, 0)], float), np.array([(1 - head, -head), (1, 0), (1 - head, head)])]


def _spiral(rng):
    angle = np.linspace(0, rng.uniform(1.5, 3) * 2 * np.pi, 90)
    radius = angle / angle[-1]
    return [np.column_stack([radius * np.cos(angle) * rng.choice([-1, 1]), radius * np.sin(angle)])]


# Shapes a person could draw that are not digits. Left out: a circle or an ellipse (a 0) and a straight bar
# (a 1). Kept: a triangle (a 4 is open and crosses itself), a smiley and a spiral (more than a 0).
SHAPES = {"heart": _heart, "star": _star, "square": _square, "triangle": _triangle, "cross": _cross,
          "smiley": _smiley, "arrow": _arrow, "spiral": _spiral}


def _scribble(rng: np.random.Generator, materials: _Materials) -> np.ndarray:
    """A few random pen strokes, each a smooth chain of quadratic Bezier curves through random points."""
    strokes = [_bezier_chain(rng.uniform(-1, 1, (rng.integers(*SCRIBBLE_POINTS), 2)))
               for _ in range(rng.integers(*SCRIBBLE_STROKES))]
    return _pen_drawing(strokes, rng, 180)


def _bezier_chain(points: np.ndarray) -> np.ndarray:
    """The smooth curve from the first point to the last that each inner point pulls on: quadratic Bezier
    segments between the midpoints of successive points, each inner point their control point."""
    anchors = np.vstack([points[:1], (points[1:-2] + points[2:-1]) / 2, points[-1:]])
    controls = points[1:-1]
    t = np.linspace(0, 1, CURVE_POINTS, endpoint=False)[:, None, None]
    curve = (1 - t) ** 2 * anchors[:-1] + 2 * (1 - t) * t * controls + t**2 * anchors[1:]  # (t, segment, 2)
    return np.vstack([curve.transpose(1, 0, 2).reshape(-1, 2), points[-1:]])


def _densify(stroke: np.ndarray) -> np.ndarray:
    """``stroke`` with points at most :data:`STEP` apart along each straight segment, corners kept, so that
    straight lines can wobble too."""
    steps = np.maximum(1, np.ceil(np.linalg.norm(np.diff(stroke, axis=0), axis=1) / STEP)).astype(int)
    segment = np.repeat(np.arange(len(steps)), steps)
    along = (np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps)) / np.repeat(steps, steps)
    return np.vstack([stroke[segment] + along[:, None] * (stroke[segment + 1] - stroke[segment]), stroke[-1:]])


def _wobble(stroke: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``stroke`` as a hand draws it: moved off its course by two slow random waves in each direction."""
    along = np.linspace(0, 1, len(stroke))[:, None, None]
    amplitude = rng.normal(0, WOBBLE, (2, 2))
    frequency, phase = rng.uniform(0.5, 2, (2, 2)), rng.uniform(0, 2 * np.pi, (2, 2))
    return stroke + (amplitude * np.sin(2 * np.pi * frequency * along + phase)).sum(axis=1)


def _pen_drawing(strokes: list[np.ndarray], rng: np.random.Generator, turn: float) -> np.ndarray:
    """``strokes`` turned by up to ``turn`` degrees, stretched by :data:`ASPECT_RANGE`, scaled to a random
    size and drawn with a random round pen: canvas ink in [0, 1]."""
    size, pen = _size_and_pen(rng)
    points = _placed(np.vstack(strokes), rng, turn, size, pen)
    image = Image.new("L", tuple(np.ceil(points.max(axis=0) + pen / 2 + 1).astype(int)))
    draw = ImageDraw.Draw(image)
    start = 0
    for stroke in strokes:
        placed = points[start : start + len(stroke)]
        start += len(stroke)
        draw.line(placed.ravel().tolist(), fill=255, width=pen)
        # Pillow draws each piece of a wide line as a rectangle: a round tip fills the ends and the sharp turns
        # (its joint="curve" does it at every point, ten times slower for these smooth strokes).
        for x, y in placed[_ends_and_turns(placed)]:
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    return np.asarray(image, np.float32) / 255.0


def _ends_and_turns(stroke: np.ndarray) -> np.ndarray:
    """The indices of the ends of ``stroke`` and of the points where it turns by more than :data:`JOIN_TURN`."""
    steps = np.diff(stroke, axis=0)
    headings = np.arctan2(steps[:, 1], steps[:, 0])
    turns = np.abs((np.diff(headings) + np.pi) % (2 * np.pi) - np.pi)
    return np.concatenate([[0], 1 + np.flatnonzero(turns > math.radians(JOIN_TURN)), [len(stroke) - 1]])


def _size_and_pen(rng: np.random.Generator) -> tuple[int, int]:
    """A drawing's size and its pen's width, both in raster pixels."""
    size = int(rng.integers(*SIZE_RANGE))
    widest = max(PEN_RANGE[0], min(PEN_RANGE[1], int(MAX_PEN_SHARE * size)))
    return _raster(size), max(1, _raster(rng.integers(PEN_RANGE[0], widest + 1)))


def _raster(canvas_pixels: float) -> int:
    """A length on the canvas in raster pixels."""
    return round(canvas_pixels * RASTER_SCALE)


def _placed(points: np.ndarray, rng: np.random.Generator, turn: float, size: int, margin: float) -> np.ndarray:
    """``points`` turned, stretched and scaled so that their longer side is ``size``, ``margin`` from 0, 0."""
    angle = math.radians(rng.uniform(-turn, turn))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = points * [rng.uniform(*ASPECT_RANGE), 1] @ rotation.T
    points = points - points.min(axis=0)
    return points * (size / max(points.max(), 1e-9)) + margin


# ---------------------------------------------------------------------------------------------
# Filled ink


def _blob(rng: np.random.Generator, materials: _Materials) -> np.ndarray:
    """One to four filled blobs with wavy outlines, like smudges of a finger or a marker. A lone blob is
    long (a round one is a dot) and lies well off upright (an upright one is a 1)."""
    count = int(rng.integers(*BLOB_COUNT))
    size = _raster(rng.integers(*SIZE_RANGE))
    outlines = []
    for _ in range(count):
        angle = np.linspace(0, 2 * np.pi, BLOB_POINTS, endpoint=False)
        harmonics = np.arange(2, 5)[:, None]
        radius = 1 + (rng.uniform(0, BLOB_HARMONICS, (3, 1)) * np.cos(harmonics * angle
                                                                      + rng.uniform(0, 2 * np.pi, (3, 1)))).sum(0)
        outline = np.column_stack([radius * np.cos(angle) * rng.uniform(*BLOB_ELONGATION), radius * np.sin(angle)])
        tilt = rng.uniform(BLOB_TILT_MIN, 180 - BLOB_TILT_MIN) if count == 1 else rng.uniform(0, 180)
        turn = math.radians(90 - tilt)  # the long axis is horizontal before this turn, upright at tilt 0
        outline = outline @ np.array([[math.cos(turn), math.sin(turn)], [-math.sin(turn), math.cos(turn)]])
        scale = 1 if count == 1 else rng.uniform(0.25, 0.5)
        outlines.append(outline * scale + (0 if count == 1 else rng.uniform(-1, 1, 2)))
    points = np.vstack(outlines)
    points = (points - points.min(axis=0)) * (size / np.ptp(points, axis=0).max()) + 1
    image = Image.new("L", tuple(np.ceil(points.max(axis=0) + 2).astype(int)))
    draw = ImageDraw.Draw(image)
    for index in range(count):
        draw.polygon(points[BLOB_POINTS * index : BLOB_POINTS * (index + 1)].ravel().tolist(), fill=255)
    return np.asarray(image, np.float32) / 255.0


def _noise(rng: np.random.Generator, materials: _Materials) -> np.ndarray:
    """Specks over a random box: round dots sprinkled at random, or coarse static (a grid of random cells)."""
    width, height = (_raster(side) for side in rng.integers(*SIZE_RANGE, size=2))
    if rng.random() < 0.5:
        count = int(rng.integers(*DOT_COUNT))
        image = Image.new("L", (width, height))
        draw = ImageDraw.Draw(image)
        for x, y, radius in zip(rng.uniform(0, width, count), rng.uniform(0, height, count),
                                rng.uniform(*DOT_RADIUS, count) * RASTER_SCALE):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
        return np.asarray(image, np.float32) / 255.0
    cell = max(1, _raster(rng.integers(*STATIC_CELL)))
    cells = rng.random((height // cell + 1, width // cell + 1)) < rng.uniform(*STATIC_DENSITY)
    return np.kron(cells, np.ones((cell, cell), np.float32))


# ---------------------------------------------------------------------------------------------
# Made from real digits


def _fragment(rng: np.random.Generator, materials: _Materials) -> np.ndarray:
    """A window over a third of a real digit's box (a random height, the width to match) holding part of its
    ink, as the part a person might draw before stopping; it is then scaled up like any drawing. Never of a 1:
    a piece of a 1 is a shorter 1."""
    digit = materials.digit_images[rng.choice(materials.piece_digits)]
    strokes = _digit_strokes(digit, _raster(rng.integers(*SIZE_RANGE)))
    height, width = strokes.shape
    ink = strokes.sum()
    for _ in range(MAX_ATTEMPTS if ink else 0):
        height_share = rng.uniform(FRAGMENT_SHARE, 1)
        rows = max(1, round(height * height_share))
        columns = max(1, round(width * FRAGMENT_SHARE / height_share))
        top, left = rng.integers(0, height - rows + 1), rng.integers(0, width - columns + 1)
        window = strokes[top : top + rows, left : left + columns]
        if FRAGMENT_INK[0] <= window.sum() / ink <= FRAGMENT_INK[1]:
            return window
    return np.zeros_like(strokes)  # a digit with no such window: drawn again from another digit


def _overlap(rng: np.random.Generator, materials: _Materials) -> np.ndarray:
    """Two different digits (neither a 1) written over each other, the second moved sideways by 20–40% of the
    size (left or right, up to 30° up or down)."""
    size = _raster(rng.integers(*SIZE_RANGE))
    pictures = [_digit_strokes(materials.digit_images[rng.choice(materials.digits_by_label[label])], size)
                for label in rng.choice(list(materials.digits_by_label), size=2, replace=False)]
    angle = math.radians(rng.uniform(-OVERLAP_SLANT, OVERLAP_SLANT) + 180 * rng.integers(2))
    shift = rng.uniform(*OVERLAP_SHIFT) * size
    corners = np.array([[0, 0], np.rint([shift * math.sin(angle), shift * math.cos(angle)])], int)
    corners -= corners.min(axis=0)
    canvas = np.zeros((corners + [picture.shape for picture in pictures]).max(axis=0), np.float32)
    for (top, left), picture in zip(corners, pictures):
        region = canvas[top : top + picture.shape[0], left : left + picture.shape[1]]
        np.maximum(region, picture, out=region)
    return canvas


def _digit_strokes(digit: np.ndarray, size: int) -> np.ndarray:
    """A 28×28 digit as solid pen strokes whose longer side is ``size`` raster pixels, as the drawn-digits
    benchmark renders digits: cropped to its ink, scaled up (bicubic) and cut at half strength."""
    ink = digit.astype(np.float32) / max(float(digit.max()), 1.0)
    rows, columns = np.flatnonzero((ink > 0.1).any(1)), np.flatnonzero((ink > 0.1).any(0))
    if not len(rows):
        return np.zeros((1, 1), np.float32)  # a blank image among the digits: drawn again from another
    ink = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    scale = size / max(ink.shape)
    shape = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    return (np.asarray(Image.fromarray(ink, mode="F").resize(shape, Image.Resampling.BICUBIC)) > 0.5).astype(
        np.float32)


_DRAWERS = {"letter": _letter, "shape": _shape, "scribble": _scribble, "blob": _blob, "noise": _noise,
            "fragment": _fragment, "overlap": _overlap}
