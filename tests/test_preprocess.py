import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from digitcnn import preprocess
from digitcnn.errors import EmptyDrawingError, ImageError


def _canvas(size=280, ink=(255, 255, 255, 255), background=(0, 0, 0, 255), strokes=(), width=18):
    """An RGBA canvas as streamlit-drawable-canvas returns it, with strokes drawn as polylines
    given in fractions of the canvas side."""
    image = Image.new("RGBA", (size, size), background)
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        draw.line([(x * size, y * size) for x, y in stroke], fill=ink, width=round(width * size / 280), joint="curve")
    return np.asarray(image)


HALF_PIXEL = 0.5 + 1e-4  # placement is by whole pixels: the center of mass may land half a pixel off
SEVEN = [[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]]
ONE = [[(0.5, 0.2), (0.5, 0.8)]]


def _bounding_box(digit, level=0.05):
    rows, columns = np.flatnonzero((digit > level).any(1)), np.flatnonzero((digit > level).any(0))
    return rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1


def _center_of_mass(digit):
    rows, columns = np.indices(digit.shape)
    return (rows * digit).sum() / digit.sum(), (columns * digit).sum() / digit.sum()


def test_drawing_becomes_an_mnist_style_digit():
    digit = preprocess.canvas_to_mnist(_canvas(strokes=SEVEN))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() == 0.0 and digit.max() == pytest.approx(1.0)
    assert max(_bounding_box(digit)) == 20
    row, column = _center_of_mass(digit)
    assert abs(row - 14) <= HALF_PIXEL and abs(column - 14) <= HALF_PIXEL


def test_a_one_is_not_stretched_into_a_square():
    height, width = _bounding_box(preprocess.canvas_to_mnist(_canvas(strokes=ONE)))
    assert height == 20 and width <= 4


def test_ink_and_background_colors_and_canvas_size_do_not_matter():
    reference = preprocess.canvas_to_mnist(_canvas(strokes=SEVEN))
    for variant in [
        _canvas(strokes=SEVEN, ink=(0, 0, 0, 255), background=(255, 255, 255, 255)),
        _canvas(strokes=SEVEN, ink=(200, 30, 30, 255), background=(240, 240, 200, 255)),
        _canvas(strokes=SEVEN, ink=(0, 0, 0, 255), background=(0, 0, 0, 0)),  # transparent background
        _canvas(strokes=SEVEN, size=560),  # a high-DPI screen doubles the array
    ]:
        assert np.abs(preprocess.canvas_to_mnist(variant) - reference).mean() < 0.02


def test_an_empty_canvas_and_a_dot_are_not_digits():
    with pytest.raises(EmptyDrawingError, match="nothing is drawn"):
        preprocess.canvas_to_mnist(_canvas())
    dot = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(dot).ellipse((130, 130, 150, 150), fill=(255, 255, 255, 255))  # a click with a round pen
    with pytest.raises(EmptyDrawingError, match="dot"):
        preprocess.canvas_to_mnist(np.asarray(dot))


def test_canvas_must_be_rgba():
    with pytest.raises(ImageError, match="RGBA"):
        preprocess.canvas_to_mnist(np.zeros((10, 10, 3), np.uint8))


def test_mnist_digit_read_as_a_photo_stays_the_same_digit(small_dataset):
    for image in small_dataset.images[:10]:
        digit = preprocess.photo_to_mnist(Image.fromarray(image))
        assert np.abs(digit - image / 255.0).mean() < 0.05


def test_dark_ink_on_uneven_paper_reads_like_light_ink_on_black(small_dataset):
    light_on_dark = Image.fromarray(small_dataset.images[3]).resize((280, 280), Image.Resampling.BILINEAR)
    ink = np.asarray(light_on_dark, dtype=np.float32) / 255.0
    shading = np.linspace(0.75, 1.0, 280)[None, :]  # paper lit from one side
    photo = Image.fromarray(np.uint8(255 * shading * (1 - 0.8 * ink)))
    reference = preprocess.photo_to_mnist(light_on_dark)
    assert np.abs(preprocess.photo_to_mnist(photo) - reference).mean() < 0.03


def test_blank_photo_holds_no_digit():
    with pytest.raises(EmptyDrawingError):
        preprocess.photo_to_mnist(Image.new("L", (100, 80), 230))


def test_unreadable_image_file_is_a_clear_error(tmp_path):
    path = tmp_path / "digit.png"
    path.write_text("not a picture")
    with pytest.raises(ImageError, match="not an image file"):
        preprocess.read_image(path)
    with pytest.raises(ImageError, match="no such file"):
        preprocess.read_image(tmp_path / "missing.png")


def _assert_mnist_layout(digit):
    assert max(_bounding_box(digit)) == 20
    row, column = _center_of_mass(digit)
    assert abs(row - 14) <= HALF_PIXEL and abs(column - 14) <= HALF_PIXEL


@pytest.mark.parametrize(
    "case, canvas",
    [
        ("tiny in a corner", _canvas(strokes=[[(x * 0.12 + 0.02, y * 0.12 + 0.02) for x, y in SEVEN[0]]], width=4)),
        ("touching the edges", _canvas(strokes=[[(0.0, 0.0), (1.0, 0.0), (0.3, 1.0)]])),
        ("very thick pen", _canvas(strokes=SEVEN, width=45)),
        ("very thin pen", _canvas(strokes=SEVEN, width=2)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_what_people_really_draw_still_comes_out_mnist_style(case, canvas):
    _assert_mnist_layout(preprocess.canvas_to_mnist(canvas))


def test_a_tiny_seven_in_a_corner_looks_like_a_big_one_in_the_middle():
    big = preprocess.canvas_to_mnist(_canvas(strokes=SEVEN, width=18))
    tiny = preprocess.canvas_to_mnist(
        _canvas(strokes=[[(0.75 + x * 0.2, 0.75 + y * 0.2) for x, y in SEVEN[0]]], width=18 * 0.2))
    assert np.abs(big - tiny).mean() < 0.06


@given(
    points=st.lists(st.tuples(st.floats(0.05, 0.95), st.floats(0.05, 0.95)), min_size=3, max_size=6),
    width=st.integers(3, 30),
)
@settings(max_examples=60, deadline=None)
def test_any_long_enough_stroke_lands_in_a_20_pixel_box_centered_by_mass(points, width):
    canvas = _canvas(strokes=[points], width=width)
    try:
        digit = preprocess.canvas_to_mnist(canvas)
    except EmptyDrawingError:
        return  # a scribble shorter than a few pen widths is a dot, rightly refused
    height, breadth = _bounding_box(digit)
    assert max(height, breadth) == 20
    assert digit.dtype == np.float32 and 0.0 <= digit.min() and digit.max() <= 1.0
    row, column = _center_of_mass(digit)
    # Centered by mass, unless that would push the digit out of the field: then it rests on the edge.
    assert abs(row - 14) <= HALF_PIXEL or digit[0].any() or digit[-1].any()
    assert abs(column - 14) <= HALF_PIXEL or digit[:, 0].any() or digit[:, -1].any()
