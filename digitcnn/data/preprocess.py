"""Drawings and photos of a digit made to look like MNIST digits before a model sees them.

MNIST digits were size-normalized to fit a 20×20 box (aspect ratio kept, anti-aliased) and
placed in a 28×28 field so that their center of mass is at its center. Each entry point
here finds the ink, then :func:`ink_to_mnist` repeats those steps:

* :func:`canvas_to_mnist` — the RGBA array a streamlit-drawable-canvas returns;
* :func:`photo_to_mnist` — a picture or scan, dark ink on light paper or light on dark, as
  :func:`read_image` opens it from a file or an upload.

:func:`canvas_ink` and :func:`picture_ink` give the ink alone, for a picture of several digits
(:mod:`digitcnn.reading.numbers` lays out each digit with :func:`ink_to_mnist`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError

from digitcnn import files
from digitcnn.data.dataset import IMAGE_SIDE
from digitcnn.errors import EmptyDrawingError, ImageError, NothingDrawnError, not_found

MNIST_BOX = 20  # the longer side of a digit's bounding box in MNIST
MNIST_CENTER = IMAGE_SIDE / 2  # where MNIST digits have their center of mass (row, column)
INK_LEVEL = 0.2  # ink weaker than this, relative to the strongest, does not count as ink
MIN_CONTRAST = 0.15  # a picture whose ink differs less than this from its paper holds no digit
MIN_EXTENT = 0.03  # a digit spans at least this share of the picture's shorter side…
MIN_ELONGATION = 1.6  # …and is longer than this many stroke widths (a dot or a blob is not a digit)
MAX_DOT = 1 / 8  # a mark thicker than that is a dot up to this share of the shorter side (35 px of a 280 px canvas)
STRAY_GAP = 0.1  # a dot this share of the digit's size or more outside its box is a stray mark, left out…
STRAY_SIZE = 1 / 3  # …if it is at most this share of the digit's size (a bigger blob may be a piece of the digit)
STROKE_CHECK_SIDE = 48  # a digit's stroke width is measured at about this size
PHOTO_WORKING_SIDE = 256  # photos are reduced to this size before their ink is measured
MAX_PICTURE_PIXELS = 40_000_000  # larger pictures are refused before they are decoded (memory stays bounded)
MIN_PICTURE_SIDE = 8  # a thinner picture holds no digit (the smallest digit datasets use 8×8 pixels)
# The picture formats read, each with its file suffixes, which the page's uploader offers: no others are even
# identified, so that a file named .png holding PostScript, say, never reaches Ghostscript.
PICTURE_FORMATS = {"PNG": ("png",), "JPEG": ("jpg", "jpeg"), "BMP": ("bmp",), "GIF": ("gif",), "WEBP": ("webp",),
                   "TIFF": ("tif", "tiff")}
PICTURE_SUFFIXES = tuple(suffix for suffixes in PICTURE_FORMATS.values() for suffix in suffixes)
NOTHING_DRAWN = "nothing is drawn: draw a digit"
DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")  # Pillow's modes of more than 8 bits of gray


def canvas_to_mnist(image_data: np.ndarray) -> np.ndarray:
    """A drawing as the model's input: (28, 28) float32 in [0, 1], white digit on black.

    ``image_data`` is the uint8 RGBA array (H, W, 4) of a streamlit-drawable-canvas, of any
    size, with ink and background of any colors (a transparent background included): ink is
    whatever differs from the color along the canvas border. Raises
    :class:`EmptyDrawingError` when there is no digit to see.
    """
    return drawing_to_mnist(*canvas_ink(image_data))


def canvas_ink(image_data: np.ndarray) -> tuple[np.ndarray, int]:
    """The ink of a canvas drawing (``image_data`` as :func:`canvas_to_mnist` takes it): how far each pixel is from
    the canvas's background, uint8 (H, W), and the strongest of it (what :func:`ink_to_mnist` calls full strength).
    Raises :class:`EmptyDrawingError` when nothing stands out from the background."""
    image_data = np.asarray(image_data)
    if image_data.ndim != 3 or image_data.shape[2] != 4 or min(image_data.shape[:2]) < 2:
        raise ImageError(f"expected an RGBA image of shape (height, width, 4), got {image_data.shape}")
    pixels = image_data if image_data.dtype == np.uint8 else np.clip(image_data, 0, 255).astype(np.uint8)
    contrast = _contrast_with_border(pixels)
    return contrast, int(_strongest_ink(contrast, paper_to_ink=255))


def _contrast_with_border(pixels: np.ndarray) -> np.ndarray:
    """How far each pixel's color is from the color along the border of an RGBA canvas (``pixels``, uint8): the
    largest difference of its four channels, colors premultiplied by alpha (a transparent pixel has no color),
    as uint8 (H, W).

    In Pillow's bytes rather than NumPy's wider integers: the memory a reading touches is a quarter, which counts
    because the interpreter's reading of the drawing before leaves the caches cold. The app's path from canvas to
    answer took 1.6–1.8 ms at p50 instead of 1.9–2.1 (three runs, interleaved on 600 drawn canvases, 2 cores of an
    AMD EPYC)."""
    if pixels[..., 3].min() < 255:  # premultiplied (c × a / 255, rounded down)
        pixels = pixels.copy()
        pixels[..., :3] = pixels[..., :3].astype(np.uint16) * pixels[..., 3:] // 255
    image = Image.fromarray(pixels)
    background = tuple(int(level) for level in np.median(_border(pixels), axis=0))
    difference = ImageChops.difference(image, Image.new(image.mode, image.size, background))
    return np.asarray(functools.reduce(ImageChops.lighter, difference.split()))


def photo_to_mnist(image: Image.Image) -> np.ndarray:
    """A photo or scan of one digit as the model's input, like :func:`canvas_to_mnist`.

    Works for dark ink on light paper and light ink on a dark ground (an MNIST image, say),
    and evens out uneven lighting. A picture with a transparent background is read as a drawing;
    one of 16 bits or floats is scaled to its levels (see :func:`_in_8_bits`), not clipped.
    """
    return drawing_to_mnist(*picture_ink(image, (PHOTO_WORKING_SIDE, PHOTO_WORKING_SIDE)))


def picture_ink(image: Image.Image, working_size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """The ink of a photo, a scan or a drawing (as :func:`photo_to_mnist` reads it) and its full strength: floats
    (H, W) in [0, 1] and 1.0, at most ``working_size`` (width, height; the picture is reduced to fit, aspect kept),
    or a canvas's ink as :func:`canvas_ink` gives it, full size, for a picture with a transparent background.
    Raises :class:`EmptyDrawingError` when the picture is too small or holds no ink."""
    image = _in_8_bits(ImageOps.exif_transpose(image))
    if min(image.size) < MIN_PICTURE_SIDE:
        raise EmptyDrawingError(f"a {image.width}×{image.height} picture is too small to hold a digit")
    if image.has_transparency_data:
        rgba = np.asarray(image.convert("RGBA"))
        if rgba[..., 3].min() < 128:
            return canvas_ink(rgba)
    gray = image.convert("L")
    gray.thumbnail(working_size, Image.Resampling.BOX)
    brightness = np.asarray(gray, dtype=np.float32) / 255.0
    ink_is_dark = np.median(_border(brightness)) >= 0.5
    inkiness = 1.0 - brightness if ink_is_dark else brightness
    return _normalized_ink(inkiness - _background(inkiness)), 1.0


def read_image(source: str | os.PathLike | BinaryIO) -> Image.Image:
    """Open a picture in one of :data:`PICTURE_FORMATS` (its first page or frame) from a path or a file
    object such as an upload: decoded, upright and in 8 bits a channel, so that it shows as it is read.

    Anything else — another format, a corrupt file, over 40 megapixels, a path that is not a regular file
    (a named pipe would stall the reading for ever) — raises :class:`ImageError` naming the file by its
    name alone: messages reach users, who need not see the server's folders.
    """
    name = _file_name(source)
    if not isinstance(source, (str, os.PathLike)):
        return _decoded(source, name)
    try:
        opened = files.open_regular(source)
    except FileNotFoundError:
        raise ImageError(not_found("picture file", name)) from None
    except OSError as error:
        raise ImageError(f"{name}: cannot be read ({error.strerror or error})") from None
    with opened:
        return _decoded(opened, name)


def _decoded(stream: BinaryIO, name: str) -> Image.Image:
    """The picture in ``stream``, read as :func:`read_image` says."""
    with _decoding(name):
        image = Image.open(stream, formats=tuple(PICTURE_FORMATS))  # reads the header only
    if image.width * image.height > MAX_PICTURE_PIXELS:
        raise ImageError(f"{name}: {image.width}×{image.height} pixels is more than "
                         f"{MAX_PICTURE_PIXELS // 1_000_000} megapixels; send a smaller picture")
    with _decoding(name):
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # EXIF is lost when a deep picture is converted below
    return _in_8_bits(image)


@contextlib.contextmanager
def _decoding(name: str):
    """Whatever Pillow raises while it identifies or decodes a file, as an :class:`ImageError` naming it.

    Its decoders raise nearly anything on corrupt data (SyntaxError, struct.error, IndexError, EOFError…),
    so every exception counts here, which is why only Pillow's own calls run inside.
    """
    try:
        yield
    except UnidentifiedImageError:
        formats = list(PICTURE_FORMATS)
        raise ImageError(f"{name}: not a {', '.join(formats[:-1])} or {formats[-1]} picture") from None
    except Exception as error:
        # An OSError's text may hold the file's full path; its reason alone does not.
        reason = (error.strerror if isinstance(error, OSError) else None) or str(error) or type(error).__name__
        raise ImageError(f"{name}: cannot be read as an image ({reason})") from None


def _file_name(source: str | os.PathLike | BinaryIO) -> str:
    """How messages name a file: an upload's own name or a path's last part, never the folders above it."""
    name = getattr(source, "name", source)
    return (Path(name).name if isinstance(name, (str, os.PathLike)) else "") or "the picture"


def _in_8_bits(image: Image.Image) -> Image.Image:
    """``image`` in a mode Pillow converts to gray and to RGB: CIELAB as its lightness, premultiplied
    gray-and-alpha made plain, and deep gray (16-bit, 32-bit or float) scaled to 0–255.

    Pillow would clip deep levels at 255, so a 16-bit scan, whose paper lies near 65535, would be all
    white. Levels are read against the range of the bits they use (0–65535 for 16 bits, 0–4095 for a
    12-bit camera's levels stored in 16), or 0–1 for floats that stay within it, rather than stretched
    from darkest to lightest: stretching would turn a blank page's faint noise into ink.
    """
    if image.mode == "La":
        return image.convert("LA")
    if image.mode == "LAB":
        return image.getchannel("L")
    if image.mode not in DEEP_MODES:
        return image
    floats = image.mode == "F"
    image = image.convert("F")  # Pillow measures and scales only "I" and "F"; F keeps the fractions
    low, high = image.getextrema()
    if not (math.isfinite(low) and math.isfinite(high)):
        # NaN or infinities, a float picture's missing pixels, are taken as paper: the median, as paper covers
        # most of a picture of a digit (left as they are, they would turn to black or white specks).
        levels = np.array(image)
        known = np.isfinite(levels)
        levels[~known] = np.median(levels[known]) if known.any() else 0.0
        image = Image.fromarray(levels)
        low, high = image.getextrema()
    if low < 0:
        black, white = low, max(high, low + 1)  # signed levels have no usual black: their own range is the scale
    elif floats and high <= 1:
        black, white = 0.0, 1.0
    else:
        black, white = 0.0, 2 ** max(8, math.ceil(high).bit_length()) - 1
    scale = 255 / (white - black)
    gray = image.point(lambda level: level * scale + (0.5 - black * scale)).convert("L")  # +0.5: "L" truncates
    gray.info.pop("transparency", None)  # a transparent color in deep levels means nothing in 8-bit ones
    return gray


def ink_to_mnist(ink: np.ndarray, full_strength: float = 1.0, picture_side: int | None = None) -> np.ndarray:
    """Ink strengths (H, W) from 0 to ``full_strength`` (by default floats in [0, 1]; a canvas's contrast in bytes,
    up to its strongest) laid out as an MNIST digit: cropped to the ink, scaled so its longer side is 20 px
    (aspect kept, anti-aliased, then at most 1), centered by center of mass in 28×28. ``picture_side``, the shorter
    side of the picture the ink was cut from (by default ``ink``'s own), is what a speck or a dot is measured
    against."""
    mask = ink >= ink_level(ink.dtype, full_strength)
    if not mask.any():
        raise NothingDrawnError(NOTHING_DRAWN)
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    _check_is_digit(mask[top:bottom, left:right], picture_side or min(ink.shape))

    crop = ink[top:bottom, left:right].astype(np.float32)
    scale = MNIST_BOX / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    box = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.BILINEAR))
    box = np.clip(box / box.max(), 0.0, 1.0)

    center_row, center_column = _center_of_mass(box)
    top = int(np.clip(round(MNIST_CENTER - center_row), 0, IMAGE_SIDE - box.shape[0]))
    left = int(np.clip(round(MNIST_CENTER - center_column), 0, IMAGE_SIDE - box.shape[1]))
    digit = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    digit[top : top + box.shape[0], left : left + box.shape[1]] = box
    return digit


def drawing_to_mnist(ink: np.ndarray, full_strength: float = 1.0) -> np.ndarray:
    """The ink of one drawing of a digit (as :func:`ink_to_mnist` takes it) laid out as the app lays out a drawing or a
    photo: its stray marks left out (:func:`without_stray_dots`), then :func:`ink_to_mnist`."""
    return ink_to_mnist(without_stray_dots(ink, full_strength), full_strength)


def without_stray_dots(ink: np.ndarray, full_strength: float = 1.0) -> np.ndarray:
    """``ink`` (as :func:`ink_to_mnist` takes it) less its stray marks: specks smaller than a digit may be, and dots
    (as thick as they are long, :data:`MAX_DOT` of the picture at most), small beside the rest of the ink and apart
    from its box (:data:`STRAY_SIZE`, :data:`STRAY_GAP`), as a person
    ignores a tap of the pen beside a digit or a speck of dust on a photo. Kept, one moves the digit's box and
    shrinks the digit: a drawn 8 with a dot near the canvas's edge was refused 11 times in 20. Several marks that are
    all stray raise :class:`EmptyDrawingError` (one alone is left to :func:`ink_to_mnist`, which says what it is).
    Each removed mark takes its faint rim with it,
    two pixels around it (:data:`_RIM`), so that no trace of it is left inside the digit's box."""
    from scipy.ndimage import binary_dilation, find_objects, label

    marks, count = label(ink >= ink_level(ink.dtype, full_strength), structure=np.ones((3, 3)))
    if count < 2:
        return ink
    boxes = find_objects(marks)
    stray = [(number, box) for number, box in enumerate(boxes, 1) if _is_stray(marks[box] == number, box, ink.shape)]
    if not stray:
        return ink
    if len(stray) == count:  # taken together, far apart, they would pass for one mark as long as a digit
        raise EmptyDrawingError("only dots are drawn: draw a whole digit")
    # Only those clearly apart from the box of the rest, which they would widen: a mark inside it or close by may be a
    # piece of a stroke (an 8×8 scan, re-drawn, breaks into blocky pieces), and without such pieces scikit-learn's
    # re-drawn digits were read 0.3–0.4 points worse.
    stray_numbers = {number for number, _ in stray}
    kept = [box for number, box in enumerate(boxes, 1) if number not in stray_numbers]
    top, bottom = min(box[0].start for box in kept), max(box[0].stop for box in kept)
    left, right = min(box[1].start for box in kept), max(box[1].stop for box in kept)
    size = max(bottom - top, right - left)
    stray = [(number, (rows, columns)) for number, (rows, columns) in stray
             if max(top - rows.stop, rows.start - bottom, left - columns.stop, columns.start - right) >= STRAY_GAP * size
             and max(rows.stop - rows.start, columns.stop - columns.start) <= STRAY_SIZE * size]
    if not stray:
        return ink
    cleaned = ink.copy()
    for number, (rows, columns) in stray:  # each in its box and the rim around it: the whole canvas took 1.5 ms more
        around = (slice(max(rows.start - _RIM, 0), rows.stop + _RIM), slice(max(columns.start - _RIM, 0),
                                                                              columns.stop + _RIM))
        cleaned[around][binary_dilation(marks[around] == number, iterations=_RIM)] = 0
    return cleaned


_RIM = 2  # pixels around a stray mark removed with it: its anti-aliased edge, below the ink level


def _is_stray(mark: np.ndarray, box: tuple[slice, slice], picture: tuple[int, int]) -> bool:
    """Whether ``mark`` (its pixels in ``box`` of a picture of shape ``picture``) is a speck or a dot, which
    :func:`_check_is_digit` refuses alone. A dot the picture's edge cuts is seen whole, mirrored across that edge: cut
    in half, a tap of the pen is twice as long as it is thick, and was kept (22 of 1,000 dotted drawings)."""
    extent, side = max(mark.shape), min(picture)
    if extent < max(2, MIN_EXTENT * side):
        return True
    if extent > MAX_DOT * side:
        return False
    if is_dot_shaped(mark):
        return True
    (rows, columns), (height, width) = box, mark.shape  # a whole dot that only touches the edge is one above
    mirrored = np.pad(mark, ((height * (rows.start == 0), height * (rows.stop == picture[0])),
                             (width * (columns.start == 0), width * (columns.stop == picture[1]))), mode="symmetric")
    return mirrored.shape != mark.shape and is_dot_shaped(mirrored)


def _check_is_digit(mask: np.ndarray, picture_side: int) -> None:
    """Refuse specks, dots and blobs: a digit is big enough and longer than it is thick. A mark about as thick as
    it is long is a dot when small (a tap of the pen, :data:`MAX_DOT` of the picture at most), a blob otherwise,
    and is told as such: a big filled disk is no dot. Neither goes to a model: laid out at 20 px, a filled disk
    looks to a network like a bold 0 (the shipped model reads one as 0, above its threshold for "not a digit")."""
    extent = max(mask.shape)
    if extent < max(2, MIN_EXTENT * picture_side):
        raise EmptyDrawingError("only a speck is drawn: draw a whole digit")
    if is_dot_shaped(mask):
        if extent <= MAX_DOT * picture_side:
            raise EmptyDrawingError("only a dot is drawn: draw a whole digit")
        raise EmptyDrawingError("a filled blob is drawn, not a digit: draw a digit with the pen's strokes")


def is_dot_shaped(mask: np.ndarray) -> bool:
    """Whether the mark ``mask`` (its pixels in its box) is about as thick as it is long: shorter than
    :data:`MIN_ELONGATION` times its stroke width (twice the deepest a pixel lies inside it), as a dot or a blob is
    and no digit's strokes are."""
    from scipy.ndimage import distance_transform_edt

    extent = max(mask.shape)
    # Measured on a mask reduced to at most STROKE_CHECK_SIDE pixels a side, as exact as a rule of thumb needs: ten
    # times faster on a canvas; on a generated non-digit's raster (about 100 px) the check takes a third less time.
    factor = -(-extent // STROKE_CHECK_SIDE)
    if factor > 1:
        mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).reduce(factor)) >= 128
    framed = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), bool)  # a frame of background (np.pad: 6× slower)
    framed[1:-1, 1:-1] = mask
    return extent < MIN_ELONGATION * 2 * distance_transform_edt(framed).max() * factor


def ink_level(dtype: np.dtype, full_strength: float) -> float:
    """The weakest ink that counts (:data:`INK_LEVEL` of ``full_strength``), for ink of ``dtype``: whole-number ink
    is compared with a whole number, since against a float NumPy first copies it all into floats (the tolerance
    keeps a level a rounding error above a whole number at it: 0.55 × 100 is 55.00000000000001)."""
    level = INK_LEVEL * full_strength
    return math.ceil(level - 1e-9) if np.issubdtype(dtype, np.integer) else level


def _normalized_ink(contrast: np.ndarray) -> np.ndarray:
    return np.clip(contrast / float(_strongest_ink(contrast, paper_to_ink=1.0)), 0.0, 1.0)


def _strongest_ink(contrast: np.ndarray, paper_to_ink: float):
    """The strongest of ``contrast`` (0: the paper; ``paper_to_ink``: black on white); a picture whose ink differs less
    than :data:`MIN_CONTRAST` of that from its paper raises :class:`NothingDrawnError`."""
    strongest = contrast.max()
    if strongest < MIN_CONTRAST * paper_to_ink:
        raise NothingDrawnError(NOTHING_DRAWN)
    return strongest


def _background(inkiness: np.ndarray) -> np.ndarray:
    """The paper's own level under the ink, which may vary slowly across a photo: what is left
    after removing every feature narrower than a third of the picture."""
    from scipy.ndimage import grey_opening, uniform_filter

    size = max(3, min(inkiness.shape) // 3)
    return uniform_filter(grey_opening(inkiness, size=(size, size)), size=size)


def _border(image: np.ndarray) -> np.ndarray:
    """The pixels along the four edges of ``image``, one per row."""
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def _center_of_mass(weights: np.ndarray) -> tuple[float, float]:
    total = weights.sum()
    rows, columns = np.indices(weights.shape)
    return float((rows * weights).sum() / total), float((columns * weights).sum() / total)
