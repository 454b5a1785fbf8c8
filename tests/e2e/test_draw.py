"""Drawing digits with real mouse strokes on the canvas, as a person would, and reading the answer."""

import math
import re

import pytest
from playwright.sync_api import expect

from browser_steps import STROKES, choose, draw, expect_no_exception, open_draw_page
from digitcnn import data


@pytest.mark.parametrize("digit", sorted(STROKES))
def test_a_drawn_digit_is_read_as_that_digit(page, snapshot, digit):
    canvas = open_draw_page(page)
    draw(page, canvas, STROKES[digit])
    answer = page.get_by_role("status", name="predicted digit")
    expect(answer).to_have_text(str(digit), timeout=30_000)
    sure = page.get_by_test_id("stMetric").filter(has_text="How sure").get_by_test_id("stMetricValue")
    expect(sure).to_be_visible()
    # One number for how sure it is: the answer's bar is labelled with it; and no rounding to a certainty it lacks.
    bar_labels = page.locator(".st-key-drawing_probabilities .js-plotly-plot text.bartext")
    expect(bar_labels.filter(has_text=re.compile(rf"^{re.escape(sure.inner_text())}$"))).to_have_count(1)
    assert "100.0%" not in page.get_by_test_id("stMain").text_content()
    if digit == 7:
        snapshot("draw_digit.png", height=900)

    page.get_by_role("button", name="Reset canvas & history").click()
    expect(page.get_by_text("Draw a digit (0–9) on the canvas")).to_be_visible(timeout=30_000)
    expect(answer).to_have_count(0)


def _star(cx=140, cy=145, outer=100, inner=40):
    """A five-pointed star outline, drawn in one stroke."""
    points = []
    for corner in range(11):
        radius = outer if corner % 2 == 0 else inner
        angle = math.pi * corner / 5
        points.append((cx + radius * math.sin(angle), cy - radius * math.cos(angle)))
    return [points]


def test_a_drawn_star_is_not_a_digit(page, snapshot):
    canvas = open_draw_page(page)
    draw(page, canvas, _star())
    answer = page.get_by_role("status", name="predicted digit")
    expect(answer).to_have_text("That doesn't look like a digit", timeout=30_000)
    expect(page.get_by_text(re.compile(r"^Closest digit: \d"))).to_be_visible()
    snapshot("draw_not_a_digit.png", height=1350)


def test_a_corrected_drawing_is_kept_and_shows_in_my_drawings(page, settle, snapshot):
    from browser_steps import open_page

    canvas = open_draw_page(page)
    draw(page, canvas, STROKES[7])
    expect(page.get_by_role("status", name="predicted digit")).to_have_text("7", timeout=30_000)
    choose(page, "No, it's …", "a 1")  # as if the writer's 1 had been misread
    expect(page.get_by_text("Kept as a 1 in My drawings")).to_be_visible(timeout=30_000)
    expect_no_exception(page)

    choose(page, "Data", "My drawings")
    settle()
    open_page(page, "Dataset browser", "Dataset browser")
    expect(page.get_by_text("Source: My drawings")).to_be_visible(timeout=30_000)
    digits = page.locator(".st-key-browse_digit")
    digits.scroll_into_view_if_needed()  # drawn when it comes into view
    digits.get_by_role("radio", name="1", exact=True).click()
    expect(page.get_by_role("heading", name="Your drawings of 1, to delete one kept by mistake")).to_be_visible()
    expect(page.get_by_role("button", name="Delete")).to_have_count(1)
    settle()  # a click on a button a rerun is redrawing can be lost (seen once in CI, on a busy machine)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download all as a CSV (the tutorial's format)").click()
    exported = data.load_csv(download.value.path(), "me-drawings.csv")
    assert list(exported.labels) == [1]  # the tutorial's format, the label as corrected
    expect_no_exception(page)


def test_looking_inside_a_drawn_digit_shows_where_it_looked_then_its_layers_one_at_a_time(page, settle, snapshot):
    canvas = open_draw_page(page)
    draw(page, canvas, STROKES[7])
    expect(page.get_by_role("status", name="predicted digit")).to_have_text("7", timeout=30_000)
    page.get_by_text("Look inside this reading").first.click()
    # What a person looks at first, at once; the layers' maps wait until asked for (issue 33: 112 maps up front).
    expect(page.locator(".st-key-drawing_attribution .js-plotly-plot")).to_be_visible(timeout=60_000)
    expect(page.locator('[class*="st-key-drawing_maps_"]')).to_have_count(0)
    page.get_by_role("tab", name="Inside the network").click()
    expect(page.get_by_text(re.compile(r"^conv2d · 28×28×16"))).to_be_visible(timeout=60_000)
    expect(page.locator(".st-key-drawing_maps_conv2d .js-plotly-plot")).to_be_visible(timeout=30_000)
    expect(page.locator('[class*="st-key-drawing_maps_"]')).to_have_count(1)  # one layer at a time
    settle()
    choose(page, "Layer", "conv2d_1")  # another layer, on demand
    grid = page.locator(".st-key-drawing_maps_conv2d_1 .js-plotly-plot")
    expect(grid).to_be_visible(timeout=30_000)
    expect(page.locator('[class*="st-key-drawing_maps_"]')).to_have_count(1)
    third_title = grid.locator(".annotation").nth(2)  # the third map's title: its channel, above it
    third_title.scroll_into_view_if_needed()
    box = third_title.bounding_box()
    on_the_map = box["x"] + box["width"] / 2, box["y"] + box["height"] + 20
    page.mouse.move(*on_the_map)
    expect(grid.locator(".hovertext")).to_contain_text(re.compile(r"channel \d+, row \d+, column \d+: \d"))
    channel = third_title.text_content().lstrip("#")
    page.mouse.click(*on_the_map)  # that map, shown large
    expect(page.locator(".st-key-drawing_channel_map .gtitle")).to_have_text([f"conv2d_1, channel {channel}"],
                                                                              timeout=30_000)
    page.get_by_text("Hover over a map for its values").scroll_into_view_if_needed()
    snapshot("draw_inside_maps.png", height=1400)
    page.get_by_role("tab", name="What changes its mind").click()
    expect(page.get_by_text(re.compile(r"(it reads (\d|as not a digit)|changes the answer)")).first).to_be_visible(
        timeout=30_000)
    page.get_by_role("tab", name="Where it looked").click()
    expect(page.locator(".st-key-drawing_attribution .js-plotly-plot")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    snapshot("draw_inside.png", height=1800)


# A letter A: refused by the shipped model, and some turn makes it read a digit (18°: a 4, drawn by Pillow). A square,
# once used here, is refused however it is turned or moved since the rule learned how far it lies from every digit.
LETTER_A = [[(60, 240), (140, 40), (220, 240)], [(95, 160), (185, 160)]]
_TURN = re.compile(r"^turned (\d+)° (clockwise|anticlockwise) it reads (.+)$")
_MOVE = re.compile(r"^moved (.+) it reads (.+)$")
_MOVES = {"right": ("Move right (pixels)", 1), "left": ("Move right (pixels)", -1),
          "down": ("Move down (pixels)", 1), "up": ("Move down (pixels)", -1)}


def _set_slider(page, label, value):
    """Move the slider ``label`` to ``value`` with the keyboard, as a person can (one step a key press)."""
    slider = page.get_by_test_id("stSlider").filter(has_text=label).locator("input[type=range]")
    steps = value - int(slider.input_value())
    slider.focus()
    for _ in range(abs(steps)):
        slider.press("ArrowRight" if steps > 0 else "ArrowLeft")
    expect(slider).to_have_value(str(value))


def _check_what_changes_its_mind(page, answer):
    """Open "What changes its mind" under a reading of ``answer`` ("not a digit" or a digit) and make each change
    it reports with its sliders: the drawing so changed reads exactly what the page said it would. Returns the
    changes reported."""
    page.get_by_role("tab", name="What changes its mind").click()
    reading = page.get_by_test_id("stMetric").filter(has_text="It reads").get_by_test_id("stMetricValue")
    expect(reading).to_have_text(answer, timeout=60_000)  # the sliders at rest: the drawing as it was read
    lines = page.get_by_role("listitem").filter(has_text=re.compile(r"(it reads |changes the answer)"))
    expect(lines).to_have_count(2, timeout=30_000)
    changes = [text.split(" (")[0] for text in lines.all_inner_texts() if " it reads " in text]
    for change in changes:
        if turn := _TURN.match(change):
            degrees, way, reported = turn.groups()
            settings = {"Turn (degrees, clockwise)": int(degrees) * (1 if way == "clockwise" else -1)}
        else:
            moves, reported = _MOVE.match(change).groups()
            settings = {}
            for part in moves.split(" and "):
                pixels, _, direction = part.split()
                label, sign = _MOVES[direction]
                settings[label] = sign * int(pixels)
        reported = "not a digit" if reported == "as not a digit" else reported
        assert reported != answer, change
        for label, value in settings.items():
            _set_slider(page, label, value)
        expect(reading).to_have_text(reported, timeout=30_000)
        for label in settings:
            _set_slider(page, label, 0)
        expect(reading).to_have_text(answer, timeout=30_000)
    return changes


def test_what_changes_a_refused_drawings_answer_reads_so_on_its_sliders(page):
    """Issue 32: for a refused drawing the page said "turned 9° clockwise it reads 4", judged by its closest digit,
    while turned so the model still said "not a digit"."""
    canvas = open_draw_page(page)
    draw(page, canvas, LETTER_A)
    expect(page.get_by_role("status", name="predicted digit")).to_have_text("That doesn't look like a digit",
                                                                            timeout=30_000)
    page.get_by_text("Look inside this reading").first.click()
    assert _check_what_changes_its_mind(page, "not a digit")  # at least one change, checked
    expect(page.get_by_test_id("stException")).to_have_count(0)


NUMBER_CANVAS = (840, 240)  # as pages/draw_digit.py lays it out


def _curve(*points, each=6):
    """A smooth stroke through ``points`` (Catmull-Rom): ``each`` points between two given ones."""
    padded = [points[0], *points, points[-1]]
    smooth = []
    for p0, p1, p2, p3 in zip(padded, padded[1:], padded[2:], padded[3:]):
        for step in range(each):
            t = step / each
            smooth.append(tuple(0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t * t
                                       + (-a + 3 * b - 3 * c + d) * t ** 3) for a, b, c, d in zip(p0, p1, p2, p3)))
    return smooth + [points[-1]]


# Each digit as strokes in a unit box (x right, y down, 0–1), laid out in a row on the wide canvas by _written.
UNIT_STROKES = {
    0: [[(0.5 + 0.42 * math.sin(2 * math.pi * i / 40), 0.5 - 0.5 * math.cos(2 * math.pi * i / 40)) for i in range(41)]],
    1: [[(0.6, 0.0), (0.55, 0.35), (0.5, 0.7), (0.45, 1.0)]],
    2: [_curve((0.05, 0.25), (0.3, 0.02), (0.65, 0.02), (0.9, 0.25), (0.75, 0.55), (0.35, 0.82), (0.05, 1.0),
               (0.5, 0.96), (1.0, 0.98))],
    6: [_curve((0.8, 0.04), (0.45, 0.2), (0.18, 0.5), (0.12, 0.8), (0.4, 1.0), (0.75, 0.95), (0.88, 0.72),
               (0.62, 0.5), (0.3, 0.55), (0.14, 0.75))],
    7: [[(0.05, 0.04), (0.5, 0.02), (0.95, 0.04), (0.75, 0.4), (0.55, 0.7), (0.4, 1.0)]],
}


def _written(digits: str, height=170, width=100, gap=80, left=60, top=35):
    """The strokes of ``digits`` (a blank: a digit's room left empty) written in a row on the wide canvas."""
    strokes = []
    for place, digit in enumerate(digits):
        if digit == " ":
            continue
        x0 = left + place * (width + gap)
        strokes += [[(x0 + width * x, top + height * y) for x, y in stroke] for stroke in UNIT_STROKES[int(digit)]]
    return strokes


def _open_number_tab(page):
    open_draw_page(page)
    page.get_by_role("tab", name="Write a number").click()
    expect(page.get_by_text("Write a number (a row of digits, 0–9) on the canvas")).to_be_visible(timeout=30_000)
    wide = page.locator("canvas.upper-canvas").nth(1)
    expect(wide).to_be_visible()
    assert round(wide.bounding_box()["width"]) == NUMBER_CANVAS[0]  # it fits the page at its own size
    return wide


def test_a_number_written_with_the_mouse_is_read_whole(page, settle, snapshot):
    canvas = _open_number_tab(page)
    draw(page, canvas, _written("2026"), NUMBER_CANVAS[0], steps=1)  # points ~10 px apart: a move each
    number = page.get_by_role("status", name="number read")
    expect(number).to_have_text("2026", timeout=30_000)
    sure = page.get_by_test_id("stMetric").filter(has_text="How sure, of every digit").get_by_test_id("stMetricValue")
    expect(sure).to_have_text(re.compile(r"^(?:> 99\.9|\d+\.\d)%$"))
    boxes = page.locator(".st-key-number_boxes .js-plotly-plot")
    expect(boxes.locator(".annotation")).to_have_count(4)
    expect(boxes.locator(".annotation").first).to_contain_text("2")
    snapshot("draw_number.png", height=1000)

    page.get_by_role("button", name="Right").click()
    expect(page.get_by_text("Kept as 2, 0, 2, 6 in My drawings")).to_be_visible(timeout=30_000)
    expect_no_exception(page)


def test_a_number_with_a_stray_dot_is_read_without_it(page):
    canvas = _open_number_tab(page)
    strokes = _written("1 7", gap=40)
    dot = [(560, 190), (562, 191)]  # a tap of the pen after the 7, near the line's foot
    draw(page, canvas, strokes + [dot], NUMBER_CANVAS[0], steps=1)
    expect(page.get_by_role("status", name="number read")).to_have_text("17", timeout=30_000)
    expect(page.get_by_text("Left out: 1 dot or speck.")).to_be_visible()
    expect(page.locator(".st-key-number_boxes .js-plotly-plot .annotation").filter(has_text="left out")).to_have_count(1)
    expect_no_exception(page)
