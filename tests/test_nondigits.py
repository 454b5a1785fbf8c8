"""The generated non-digits: their format, their kinds, their layout (MNIST's), their repeatability, and
letters drawn in the fonts of the project's own packages, never the machine's."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from digitcnn.data import nondigits, nondigits_process
from digitcnn.errors import EmptyDrawingError
from digitcnn.data.nondigits_process import ELSEWHERE_MIN_COUNT, generate_elsewhere

# Placement is by whole pixels: the center of mass may land half a pixel off; then rounding each pixel to uint8 moves
# it by a little more (by at most 0.0011 px in 2,100 pictures of seed 3; 0.0003 px failed this on another machine when
# letters came from its fonts, with 1e-4 allowed). A hundredth of a pixel is ten times the most seen.
HALF_PIXEL = 0.5 + 0.01
PER_KIND = 30


@pytest.fixture(scope="module")
def made(small_dataset):
    """30 pictures of every kind, fragments and overlaps cut from the small sample of real digits."""
    return nondigits.generate(PER_KIND * len(nondigits.KINDS), seed=3, digits=small_dataset)


def test_images_are_uint8_28x28_each_with_its_kind(made):
    assert made.images.shape == (PER_KIND * len(nondigits.KINDS), 28, 28)
    assert made.images.dtype == np.uint8
    assert made.kinds.shape == (len(made),)
    assert set(made.kinds.tolist()) <= set(nondigits.KINDS)


def test_every_kind_comes_in_turn_in_equal_shares(made):
    assert made.kinds[: len(nondigits.KINDS)].tolist() == list(nondigits.KINDS)
    kinds, counts = np.unique(made.kinds, return_counts=True)
    assert sorted(kinds.tolist()) == sorted(nondigits.KINDS)
    assert set(counts.tolist()) == {PER_KIND}


def test_without_digits_the_kinds_made_from_digits_are_left_out():
    made = nondigits.generate(10, seed=0)
    assert set(made.kinds.tolist()) == set(nondigits.KINDS) - set(nondigits.DIGIT_KINDS)


def test_pieces_are_never_cut_from_ones(small_dataset, monkeypatch):
    """A piece of a 1 is a shorter 1, and a 1 over another digit that digit's extra stroke: fragments and overlaps
    are made of the other digits only."""
    used = []
    cut_into_strokes = nondigits._digit_strokes
    monkeypatch.setattr(nondigits, "_digit_strokes", lambda digit, size: used.append(digit) or cut_into_strokes(
        digit, size))
    nondigits.generate(40, seed=0, kinds=["fragment", "overlap"], digits=small_dataset)
    ones = small_dataset.images[small_dataset.labels == 1]
    assert len(used) >= 40
    assert not any((digit == ones).all(axis=(1, 2)).any() for digit in used)


@pytest.mark.parametrize(("labels", "kinds_from_digits"), [((1,), set()), ((1, 7), {"fragment"}),
                                                            ((1, 3, 7), {"fragment", "overlap"})])
def test_by_default_the_kinds_the_digits_allow(small_dataset, labels, kinds_from_digits):
    """A training on a few of the digits (a CSV of 1s and 7s, say) still gets its non-digits: fragments need one
    digit other than 1, overlaps two."""
    digits = small_dataset.subset(np.flatnonzero(np.isin(small_dataset.labels, labels)))
    made = nondigits.generate(14, seed=0, digits=digits)
    assert set(made.kinds.tolist()) == set(nondigits.KINDS) - set(nondigits.DIGIT_KINDS) | kinds_from_digits


def test_chosen_kinds_only(small_dataset):
    made = nondigits.generate(6, seed=0, kinds=["noise", "overlap"], digits=small_dataset)
    assert made.kinds.tolist() == ["noise", "overlap"] * 3


def test_no_image_is_empty_and_each_has_solid_ink(made):
    assert (made.images.max(axis=(1, 2)) == 255).all()
    assert ((made.images > 0).sum(axis=(1, 2)) >= 20).all()


def test_laid_out_like_mnist_digits(made):
    """Scaled so that the ink's longer side is 20 px, and centered by mass in the 28×28 field (to the half
    pixel), except where centering would push the ink out of the field: then it touches the field's edge."""
    ink = made.images > 0
    for image, mask, kind in zip(made.images, ink, made.kinds):
        rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1 == 20, kind
        weights = image / image.sum()
        center_row = (weights.sum(axis=1) * np.arange(28)).sum()
        center_column = (weights.sum(axis=0) * np.arange(28)).sum()
        assert abs(center_row - 14) <= HALF_PIXEL or rows[0] == 0 or rows[-1] == 27, kind
        assert abs(center_column - 14) <= HALF_PIXEL or columns[0] == 0 or columns[-1] == 27, kind
    centered = [abs(np.average(np.indices((28, 28))[axis], weights=image) - 14) <= HALF_PIXEL
                for image in made.images for axis in (0, 1)]
    assert np.mean(centered) >= 0.95


def test_same_seed_same_images_and_a_longer_run_starts_with_a_shorter_one(small_dataset):
    first = nondigits.generate(21, seed=5, digits=small_dataset)
    again = nondigits.generate(21, seed=5, digits=small_dataset)
    longer = nondigits.generate(28, seed=5, digits=small_dataset)
    other = nondigits.generate(21, seed=6, digits=small_dataset)
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.kinds, again.kinds)
    np.testing.assert_array_equal(longer.images[:21], first.images)
    assert (first.images != other.images).any(axis=(1, 2)).all()


def test_drawn_in_a_process_of_their_own_they_are_the_same_images(small_dataset):
    """A training draws its digit-likeness's non-digits so, beside the network's fit."""
    pending = generate_elsewhere(ELSEWHERE_MIN_COUNT, seed=5, digits=small_dataset)
    drawing = pending.process_id  # drawing now, elsewhere
    assert drawing not in (None, os.getpid())
    # …at a lower priority than the training's, once it has started
    lower = min(19, os.getpriority(os.PRIO_PROCESS, 0) + nondigits_process.NICENESS)
    deadline = time.monotonic() + 30
    while not _gone(drawing) and os.getpriority(os.PRIO_PROCESS, drawing) != lower and time.monotonic() < deadline:
        time.sleep(0.01)
    assert os.getpriority(os.PRIO_PROCESS, drawing) == lower
    here = nondigits.generate(21, seed=5, digits=small_dataset)  # the same run's first images
    made = pending.result()
    assert len(made) == ELSEWHERE_MIN_COUNT
    np.testing.assert_array_equal(made.images[:21], here.images)
    np.testing.assert_array_equal(made.kinds[:21], here.kinds)
    assert _gone(drawing)  # its work done, the process has ended


def test_a_few_are_drawn_when_asked_for_not_worth_a_process(small_dataset):
    pending = generate_elsewhere(21, seed=5, digits=small_dataset)
    assert pending.process_id is None
    np.testing.assert_array_equal(pending.result().images, nondigits.generate(21, seed=5, digits=small_dataset).images)


def test_when_their_process_is_lost_they_are_drawn_here(small_dataset, caplog):
    pending = generate_elsewhere(ELSEWHERE_MIN_COUNT, seed=5, digits=small_dataset)
    os.kill(pending.process_id, signal.SIGKILL)  # seconds before it is done
    made = pending.result()
    np.testing.assert_array_equal(made.images[:21], nondigits.generate(21, seed=5, digits=small_dataset).images)
    assert len(made) == ELSEWHERE_MIN_COUNT
    assert "the process drawing non-digits was lost: drawing them here" in caplog.text


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the processes' states from /proc")
def test_dropped_before_their_result_their_process_ends(small_dataset):
    """A training cancelled or failed during its fit never asks for them."""
    drawing = generate_elsewhere(ELSEWHERE_MIN_COUNT, seed=5, digits=small_dataset).process_id
    deadline = time.monotonic() + 10
    while not _gone(drawing) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(drawing)


CALLER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from digitcnn.data.nondigits_process import generate_elsewhere

pending = generate_elsewhere(200_000, seed=0)  # minutes of drawing
print(pending.process_id, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie that nobody reaped has too)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return "\nState:\tZ" in status.read()
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the processes' states from /proc")
def test_the_drawing_process_ends_quietly_when_its_caller_is_killed(tmp_path):
    """A training worker killed mid-run (one that did not stop within its cancel's grace) left its drawing process
    behind, drawing and then waiting for ever: now it ends within seconds of its caller, and says nothing."""
    script = tmp_path / "caller.py"
    script.write_text(CALLER)  # a script without a main guard: its process must not run it again
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    caller = subprocess.Popen([sys.executable, str(script), root], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=tmp_path)
    drawing = int(caller.stdout.readline())
    try:
        time.sleep(2)
        assert not _gone(drawing)  # drawing, while its caller lives
        caller.kill()
        caller.wait()
        _, errors = caller.communicate(timeout=10)  # the drawing process shares its streams: it has closed them…
        deadline = time.monotonic() + 10
        while not _gone(drawing) and time.monotonic() < deadline:  # …and ends
            time.sleep(0.1)
        assert _gone(drawing)
        assert errors == ""
    finally:
        caller.kill()
        if not _gone(drawing):
            os.kill(drawing, signal.SIGKILL)


def test_images_differ_from_one_another(made):
    assert len(np.unique(made.images.reshape(len(made), -1), axis=0)) == len(made)


def test_no_letter_that_looks_like_a_digit():
    assert not set(nondigits.LETTERS) & set(nondigits.EXCLUDED_LETTERS)
    assert not set("OoIlZzSsB") & set(nondigits.LETTERS)
    assert set("AHKMNRTWXYaehkmnrtwxy") <= set(nondigits.LETTERS)


def test_letters_are_drawn_in_the_fonts_of_the_projects_own_packages_never_the_machines():
    """The same seed draws the same letters on every machine: the fonts are files Matplotlib (a pinned requirement)
    ships, and Pillow's own; a machine with more fonts (Debian's recommended ones, say) drew other letters."""
    import importlib.util

    package = importlib.util.find_spec("matplotlib").submodule_search_locations[0]
    fonts = nondigits._letter_fonts()
    files = [font for font in fonts if font is not None]
    assert None in fonts and len(files) >= 20  # Pillow's own, and DejaVu, STIX and TeX's in several weights
    assert all(os.path.realpath(font).startswith(os.path.realpath(package) + os.sep) for font in files)
    assert not any(os.path.basename(font) in nondigits.SYMBOL_FONTS for font in files)


def test_without_the_font_package_it_says_what_to_install(monkeypatch):
    monkeypatch.setattr(nondigits, "FONT_PACKAGE", "no_such_font_package")
    with pytest.raises(RuntimeError, match="no_such_font_package.*requirements.txt"):
        nondigits.generate(3, seed=0, kinds=["letter"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"count": -1}, "count"),
        ({"count": 3, "kinds": ["letter", "digit"]}, "digit"),
        ({"count": 3, "kinds": []}, "none"),
        ({"count": 3, "kinds": ["fragment"]}, "give digits"),
        ({"count": 3, "kinds": ["fragment"], "digits": (1,)}, "fragments need digits of 1 of 0, 2, 3"),
        ({"count": 3, "kinds": ["overlap"], "digits": (1, 7)}, "overlaps need digits of 2 of 0, 2, 3"),
    ],
)
def test_bad_arguments_are_refused(arguments, message, small_dataset):
    if "digits" in arguments:
        arguments["digits"] = small_dataset.subset(np.flatnonzero(np.isin(small_dataset.labels, arguments["digits"])))
    with pytest.raises(ValueError, match=message):
        nondigits.generate(seed=0, **arguments)


def _canvas_bar(height: int, width: int, turn: float = 0.0) -> np.ndarray:
    """A filled bar on a 280×280 canvas, ``turn`` degrees off upright, laid out as the app lays out drawings."""
    from PIL import Image, ImageDraw

    from digitcnn.data.preprocess import ink_to_mnist

    canvas = Image.new("L", (280, 280))
    ImageDraw.Draw(canvas).rectangle((140 - width // 2, 140 - height // 2, 140 + width // 2, 140 + height // 2),
                                     fill=255)
    return ink_to_mnist(np.asarray(canvas.rotate(turn, Image.Resampling.BILINEAR), np.float32) / 255)


@pytest.mark.parametrize(("height", "width", "turn", "a_one"), [
    (200, 40, 0, True),  # a long bar: a 1
    (200, 80, 0, True),  # a fat bar, 2.5 times as tall as wide: a 1 written with a fat pen
    (200, 80, 30, True),  # …leaning, as 1s do
    (200, 80, 60, False),  # …lying down: a dash
    (200, 110, 0, False),  # a block, not twice as tall as wide: no 1
])
def test_an_upright_bar_long_or_solid_looks_like_a_one(height, width, turn, a_one):
    assert nondigits._looks_like_a_one(_canvas_bar(height, width, turn)) is a_one


def test_a_fat_letter_of_a_bar_s_outline_is_no_one():
    """An L as long and as upright as a fat 1's bar (its ink 2.9 times as long as wide, by its second moments) is
    not solid: a letter, kept among the non-digits."""
    from PIL import Image, ImageDraw

    from digitcnn.data.preprocess import ink_to_mnist

    canvas = Image.new("L", (280, 280))
    ImageDraw.Draw(canvas).line([(110, 40), (110, 240), (210, 240)], fill=255, width=24)
    letter = ink_to_mnist(np.asarray(canvas, np.float32) / 255)
    assert nondigits._solidity(letter) < nondigits.BAR_SOLIDITY < nondigits._solidity(_canvas_bar(200, 80))
    assert not nondigits._looks_like_a_one(letter)


def test_no_images():
    made = nondigits.generate(0, seed=0)
    assert made.images.shape == (0, 28, 28) and len(made.kinds) == 0


def test_fast_enough_to_make_at_training_time():
    """About a millisecond a picture, half of it ink_to_mnist's; this allows ten times that, for a busy machine."""
    started = time.process_time()
    nondigits.generate(500, seed=1)
    assert time.process_time() - started < 5.0


def test_imports_neither_tensorflow_nor_streamlit():
    code = ("import sys, digitcnn.data.nondigits as n; n.generate(5, 0); "
            "print([m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_the_held_out_families_are_none_that_training_can_draw():
    """Issue 38: the families ``benchmarks.unseen_kinds`` measures are drawn there alone. None of their glyphs is a
    letter the generator draws, none of their pen drawings a kind or shape of it, and nothing in the library, which
    trains and fits, imports the benchmark."""
    from pathlib import Path

    from benchmarks import unseen_kinds

    glyphs = "".join(unseen_kinds.GLYPH_FAMILIES.values())
    assert not set(glyphs) & set(nondigits.LETTERS)
    assert not set(glyphs) & set("0123456789")
    assert not {"tally", "tallies", "crossed"} & {*nondigits.KINDS, *nondigits.SHAPES}
    library = Path(nondigits.__file__).resolve().parents[1]
    assert not [path for path in library.rglob("*.py")
                if re.search(r"^\s*(from|import)\s+benchmarks", path.read_text(encoding="utf-8"), re.M)]


def test_each_held_out_family_draws_pictures_the_app_lays_out(embedded):
    from benchmarks import unseen_kinds

    from digitcnn.data import preprocess

    rng = np.random.default_rng(0)
    for family in unseen_kinds.FAMILIES:
        for ink in unseen_kinds.drawings(family, 3, rng, embedded):
            assert ink.dtype == np.float32 and ink.max() > 0.5
            try:
                digit = preprocess.drawing_to_mnist(ink)
            except EmptyDrawingError:
                continue  # what the app refuses to read (a glyph whose parts are dots, say) is refused there too
            assert digit.shape == (28, 28)
