"""What the browser tests do again and again, as a person would: open a page, pick an option, train, draw, take a
model away."""

from __future__ import annotations

import math
import re

import numpy as np
from playwright.sync_api import expect

from digitcnn.networks import architectures
from digitcnn.storage import registry

# A training's first batch comes after its worker has imported TensorFlow and traced the network: over a minute in
# a clean clone's CI run on a busy 2-core machine (two test workers, a server, a training worker and a browser).
FIRST_BATCH_TIMEOUT = 180_000


def open_page(page, link: str, heading: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=60_000)


def choose(page, label: str, option) -> None:
    """Pick ``option`` (its text, or a pattern) in the select box labelled ``label``. A text is typed first: the
    list shows only the options that fit on screen, and one far down it (a model named zz-…, among the many the
    tests save) was not there to click."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    if isinstance(option, str):
        page.keyboard.type(option)
    page.get_by_role("option", name=option).click()


def expect_no_exception(page) -> None:
    """The page shows no crash: no Streamlit exception box."""
    expect(page.get_by_test_id("stException")).to_have_count(0)


def start_training(page, settle, name: str, epochs: int, images: int, architecture: str = "article",
                   queued: bool = False) -> None:
    """On Train & evaluate: pick the architecture, fill the form and press Train; the training starts, or
    if ``queued`` waits in line."""
    open_page(page, "Train & evaluate", "Train & evaluate")
    choose(page, "Network", re.compile(f"^{re.escape(architectures.title_of(architecture))}"))
    settle()
    epochs_field = page.locator(f".st-key-epochs_{architecture}_quick input")
    expect(epochs_field).to_be_visible(timeout=30_000)
    page.get_by_label("Model name", exact=True).fill(name)
    epochs_field.fill(str(epochs))
    page.locator(".st-key-train_limit input").fill(str(images))
    page.get_by_role("button", name="Train", exact=True).click()
    heading = f"{name} is number 1 in line" if queued else f"Training {name}"
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=60_000)


def wait_for_results(page, name: str, timeout: float = 120_000) -> None:
    expect(page.get_by_role("heading", name=f"Results of {name}")).to_be_visible(timeout=timeout)
    expect_no_exception(page)


def new_tab(browser, url):
    """A tab in a browser of its own (a new context: its own cookies, so another person) on the app's home page."""
    tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    tab.set_default_timeout(30_000)
    tab.goto(url)
    tab.get_by_role("heading", name="DigitCNN").wait_for()
    return tab


def settler(tab):
    """What waits until ``tab``'s app has finished its current run (its "running" indicator is gone)."""
    def settle():
        tab.wait_for_timeout(400)
        tab.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)
    return settle


CANVAS_SIDE = 280


def _circle(cx, cy, rx, ry, start=0.0, turns=1.0, points=40):
    return [(cx + rx * math.sin(start + 2 * math.pi * turns * i / points),
             cy - ry * math.cos(start + 2 * math.pi * turns * i / points)) for i in range(points + 1)]


# Each digit as strokes in a 280×280 canvas: lists of (x, y) points the pen passes through.
STROKES = {
    0: [_circle(140, 140, 60, 95)],
    1: [[(150, 40), (146, 100), (142, 160), (138, 240)]],
    7: [[(70, 50), (140, 48), (210, 50), (180, 110), (150, 170), (125, 240)]],
    8: [_circle(140, 90, 45, 50, start=math.pi), _circle(140, 185, 55, 55)],
}


def open_draw_page(page):
    """Open Draw a digit; its canvas."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Draw a digit").click()
    expect(page.get_by_text("Draw a digit (0–9) on the canvas")).to_be_visible(timeout=60_000)
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    return canvas


def draw(page, canvas, strokes, width=CANVAS_SIDE, steps=4):
    """Draw ``strokes`` (points in the canvas's own pixels, ``width`` of them across) with the mouse, in ``steps``
    moves from one point to the next."""
    box = canvas.bounding_box()
    scale = box["width"] / width
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=steps)
        page.mouse.up()


LITERT_CHOICE = "a LiteRT file (.tflite), for phones and small devices"


def download_litert(page, settle, name: str):
    """On Train & evaluate: open "Take a model away", where ``name``, the model reading drawings, is offered first,
    and download it as a LiteRT file; the downloaded file's path."""
    page.get_by_text("Take a model away").click()
    expect(page.get_by_role("combobox", name="Model to download")).to_have_value(name)
    page.get_by_text(LITERT_CHOICE).click()
    settle()
    with page.expect_download(timeout=120_000) as download:  # the first one converts the model: seconds
        page.get_by_role("button", name=f"Download {name}.tflite").click()
    assert download.value.suggested_filename == f"{name}.tflite"
    return download.value.path()


def check_litert_reads_as_the_app_does(path, name: str, models_dir, image) -> None:
    """The LiteRT file at ``path`` reads ``image`` (28×28, 0–255) as the app's predictor of the model ``name`` in
    ``models_dir`` does, to 1e-5."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    image = image.astype(np.float32) / 255
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image.reshape(1, 28, 28, 1))
    interpreter.invoke()
    downloaded = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
    predictor, _ = registry.load_predictor(name, models_dir)
    assert np.abs(downloaded - predictor.probabilities(image)).max() < 1e-5
