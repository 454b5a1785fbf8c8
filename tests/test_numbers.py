"""Reading a whole number (digitcnn.reading.numbers) with the shipped model: the cases people write — apart, touching,
in several strokes, with dots and specks, on a rising line, of several sizes, as a photo — and nothing written.

The digits are the embedded sample's (MNIST training digits the shipped model has seen), re-drawn as pen strokes as
benchmarks.numbers draws them, each chosen among those the model reads right on a canvas of its own: what is tested
here is the parting, not the model (benchmarks.numbers measures both on digits it never saw)."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

import digitcnn
from benchmarks.numbers import single_canvas, strokes
from digitcnn.data import preprocess
from digitcnn.errors import EmptyDrawingError, ImageError
from digitcnn.reading.numbers import read_number

HEIGHT = 240  # as the app's wide canvas
DIGIT_HEIGHT = 120
PEN = 6


@pytest.fixture(scope="module")
def predictor():
    return digitcnn.load()


@pytest.fixture(scope="module")
def digit_strokes(embedded, predictor):
    """For each digit 0–9, the strokes of the first three of the embedded sample's that the model reads right and
    surely when each is drawn alone."""
    chosen = {digit: [] for digit in range(10)}
    for image, label in zip(embedded.images, embedded.labels):
        if len(chosen[label]) == 3:
            continue
        drawn = strokes(image, DIGIT_HEIGHT, PEN)
        reading = predictor.read(preprocess.canvas_to_mnist(single_canvas(drawn)))
        if reading.digit == label and reading.score > 0.9:
            chosen[label].append(drawn)
        if all(len(each) == 3 for each in chosen.values()):
            return chosen
    raise AssertionError("the embedded sample lacks clear digits")


def canvas_of(pieces, gaps, drops=None, width=None):
    """A black RGBA canvas :data:`HEIGHT` tall with ``pieces`` (bool stroke arrays) left to right, ``gaps[i]`` pixels
    between piece i and i+1 (below 0: overlapping), each ``drops[i]`` pixels lower than the line's top (default 60);
    and where each piece went, as (row, column)."""
    drops = drops or [60] * len(pieces)
    lefts = [30]
    for piece, gap in zip(pieces, gaps):
        lefts.append(lefts[-1] + piece.shape[1] + gap)
    canvas = np.zeros((HEIGHT, width or lefts[-1] + pieces[-1].shape[1] + 30, 4), np.uint8)
    canvas[..., 3] = 255
    for piece, left, drop in zip(pieces, lefts, drops):
        region = canvas[drop : drop + piece.shape[0], left : left + piece.shape[1], :3]
        region[piece] = 255
    return canvas, list(zip(drops, lefts))


def parts_text(reading):
    return "".join("?" if part.digit is None else str(part.digit) for part in reading.digits)


def test_digits_apart_are_read_left_to_right_with_their_boxes(digit_strokes, predictor):
    pieces = [digit_strokes[d][0] for d in (2, 0, 2, 6)]
    canvas, places = canvas_of(pieces, [25, 30, 20])
    reading = read_number(canvas, predictor)
    assert reading.text == "2026" and reading.marks == ()
    for part, piece, (top, left) in zip(reading.digits, pieces, places):
        assert part.box == (left, top, left + piece.shape[1], top + piece.shape[0])
    assert 0 < reading.score <= min(part.reading.score for part in reading.digits)


def test_each_digit_is_the_image_and_reading_of_the_same_drawing_alone_on_the_canvas(digit_strokes, predictor):
    pieces = [digit_strokes[d][1] for d in (3, 8, 1, 5, 7)]
    canvas, places = canvas_of(pieces, [18, 22, 26, 15], drops=[50, 58, 66, 74, 82])  # a falling line
    reading = read_number(canvas, predictor)
    assert reading.text == "38157"
    for part, piece, (top, left) in zip(reading.digits, pieces, places):
        alone = np.zeros_like(canvas)
        alone[..., 3] = 255
        alone[top : top + piece.shape[0], left : left + piece.shape[1], :3][piece] = 255
        image = preprocess.canvas_to_mnist(alone)
        assert np.array_equal(part.image, image)
        single = predictor.read(image)
        assert part.digit == single.digit and part.reading.score == single.score


def test_twelve_digits_of_different_sizes_on_a_rising_line(digit_strokes, predictor):
    written = "314159265358"
    pieces = []
    for index, digit in enumerate(written):
        drawn = digit_strokes[int(digit)][index % 3]
        scale = (0.85, 1.0, 1.15)[index % 3]
        size = (round(drawn.shape[1] * scale), round(drawn.shape[0] * scale))
        pieces.append(np.asarray(Image.fromarray(drawn).resize(size, Image.Resampling.NEAREST)))
    drops = [100 - 5 * index for index in range(len(pieces))]
    canvas, _ = canvas_of(pieces, [22] * 11, drops=drops)
    assert read_number(canvas, predictor).text == written


def test_digits_that_touch_are_parted(digit_strokes, predictor):
    from scipy import ndimage

    pieces = [digit_strokes[d][0] for d in (4, 0, 7)]
    gaps = []
    for before, after in zip(pieces, pieces[1:]):  # each pair moved together until their ink touches, then 2 px more
        gap = 0
        while ndimage.label(canvas_of([before, after], [gap])[0][..., 0] > 0, np.ones((3, 3)))[1] > 1:
            gap -= 1
        gaps.append(gap - 2)
    canvas, _ = canvas_of(pieces, gaps)
    assert ndimage.label(canvas[..., 0] > 0, np.ones((3, 3)))[1] == 1  # one piece of ink
    reading = read_number(canvas, predictor)
    assert reading.text == "407"


def drawn(paths, width=12, size=(150, 130)):
    """A digit drawn with a pen ``width`` wide along ``paths`` (lists of points), each path a stroke of its own."""
    picture = Image.new("L", size)
    pen = ImageDraw.Draw(picture)
    for path in paths:
        pen.line(path, fill=255, width=width, joint="curve")
        for x, y in (path[0], path[-1]):
            pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    mask = np.asarray(picture) > 0
    rows, columns = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return mask[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


FOUR_IN_TWO_STROKES = [[(50, 10), (15, 80), (62, 80)], [(80, 30), (80, 125)]]  # the bar stops short of the stem
FIVE_WITH_ITS_BAR_APART = [[(40, 12), (88, 12)], [(30, 22), (25, 60), (55, 52), (80, 70), (80, 100), (55, 120),
                                                    (20, 110)]]
SEVEN_WITH_A_CROSSBAR = [[(15, 12), (85, 12), (40, 125)], [(40, 68), (85, 68)]]


def test_a_digit_drawn_in_strokes_that_do_not_touch_is_one_digit(predictor):
    pieces = [drawn(FOUR_IN_TWO_STROKES), drawn(FIVE_WITH_ITS_BAR_APART), drawn(SEVEN_WITH_A_CROSSBAR)]
    for piece, digit in zip(pieces, "457"):  # each drawing reads as its digit alone
        assert str(predictor.read(preprocess.canvas_to_mnist(single_canvas(piece))).digit) == digit
    from scipy import ndimage

    assert [ndimage.label(piece, np.ones((3, 3)))[1] for piece in pieces[:2]] == [2, 2]
    canvas, _ = canvas_of(pieces, [30, 30])
    reading = read_number(canvas, predictor)
    assert parts_text(reading) == "457" and reading.marks == ()


def test_dots_and_specks_are_left_out_of_the_number(digit_strokes, predictor):
    pieces = [digit_strokes[1][0], digit_strokes[7][0]]
    canvas, places = canvas_of(pieces, [60], width=460)
    picture = Image.fromarray(canvas)
    pen = ImageDraw.Draw(picture)
    pen.ellipse((400, 160, 414, 174), fill=(255, 255, 255, 255))  # a dot after the number, on its baseline
    pen.ellipse((90, 20, 98, 28), fill=(255, 255, 255, 255))  # a dot above it
    canvas = np.array(picture)
    canvas[230, 5, :3] = 255  # a speck
    reading = read_number(canvas, predictor)
    assert reading.text == "17" and len(reading.digits) == 2
    assert len(reading.marks) == 3


def test_nothing_written_is_a_prompt_not_a_guess(predictor):
    canvas = np.zeros((HEIGHT, 600, 4), np.uint8)
    canvas[..., 3] = 255
    with pytest.raises(EmptyDrawingError, match="nothing is written: write a number"):
        read_number(canvas, predictor)
    with pytest.raises(EmptyDrawingError, match="nothing is written: write a number"):
        read_number(Image.new("L", (600, 200), 255), predictor)  # a blank photo
    picture = Image.fromarray(canvas)
    ImageDraw.Draw(picture).ellipse((300, 100, 312, 112), fill=(255, 255, 255, 255))
    with pytest.raises(EmptyDrawingError, match="only dots or specks"):
        read_number(np.array(picture), predictor)


def test_a_photo_of_a_number_dark_on_light_is_read_with_boxes_in_its_own_pixels(digit_strokes, predictor, tmp_path):
    pieces = [digit_strokes[d][2] for d in (9, 4, 3)]
    canvas, places = canvas_of(pieces, [30, 30])
    light = Image.fromarray(255 - canvas[..., 0]).resize((canvas.shape[1] * 3, canvas.shape[0] * 3),
                                                        Image.Resampling.BILINEAR)  # a photo larger than it is read
    path = tmp_path / "943.png"
    light.save(path)
    reading = read_number(path, predictor)
    assert reading.text == "943"
    for part, piece, (top, left) in zip(reading.digits, pieces, places):
        expected = np.array([left, top, left + piece.shape[1], top + piece.shape[0]]) * 3
        assert np.abs(np.array(part.box) - expected).max() <= 6  # within two of the reduced photo's pixels


def test_a_file_that_is_no_picture_names_itself(predictor, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    with pytest.raises(ImageError, match="notes.png"):
        read_number(path, predictor)
