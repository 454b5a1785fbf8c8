"""How long a person waits in the browser: the app started with `streamlit run`, driven in headless Chromium
(1400×900) as a person would, each wait timed from the action (a mouse-up, a click, a key press, an address
opened) until the new content is visible and the app is idle: its script no longer running, no element left
stale from the run before, every chart drawn, and what the action asked for on the page. Prints p50 and p95
per interaction beside the target (issue 33, p50 on 2 cores), and the memory the app holds.

    python -m benchmarks.app_interactions [--only draw,inside,...] [--tries 5]

Interactions (``--only``): first (each page opened by its address on a fresh server: a server per try),
pages (each page from the navigation, once warm), draw (mouse-up on the canvas → the reading), number (the last
mouse-up of a four-digit number on the wide canvas → the number read), inside ("Look
inside this reading" switched on), map (a click on a map → shown large), slider (one step of a slider of
what changes its mind), train (Train with the page's defaults on the embedded sample → the results, and the
longest stretch without a visible change meanwhile), import (Import of an uploaded Keras file, Keras's
mnist_convnet example trained one epoch on the embedded sample → what the import found; scored on the embedded
sample), memory (the server and every process it started, at rest
before anyone trains, and after a first training; taken along with the others where they run).

Needs Debian's chromium (`apt-get install -y chromium`) and Playwright for Python. The models folder is a
copy of models/ with a second name for the shipped model (Compare needs two), each model converted for reading
drawings beforehand, as a server that ran before leaves them; kept drawings go to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # converting the models beforehand imports TensorFlow here

import numpy as np

from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, PROJECT_ROOT, machine, running_app
from digitcnn import config
from digitcnn.storage import registry

VIEWPORT = {"width": 1400, "height": 900}
CANVAS_SIDE = 280
SEVEN = [(70, 50), (140, 48), (210, 50), (180, 110), (150, 170), (125, 240)]  # one stroke: one mouse-up
ONE = [(150, 40), (146, 100), (142, 160), (138, 240)]
NUMBER_CANVAS_WIDTH = 840  # the Write a number tab's canvas
NUMBER_HEIGHT = 0.7  # the number's digits, as a share of the single canvas's side they were drawn for

# (the page's address, its link in the navigation, its title)
PAGES = [("", "Home", "DigitCNN"), ("dataset_browser", "Dataset browser", "Dataset browser"),
         ("train_evaluate", "Train & evaluate", "Train & evaluate"), ("draw_digit", "Draw a digit", "Draw a digit"),
         ("compare_models", "Compare models", "Compare models")]

# Seconds, p50 on 2 cores (issue 33); memory in GB.
TARGETS = {"draw": 0.25, "number": 0.25, "inside": 1.0, "map": 0.5, "slider": 0.3, "pages": 1.0, "first": 3.0, "train": 15.0,
           "still": 2.0, "memory": 1.5}
INTERACTIONS = ("first", "pages", "draw", "number", "inside", "map", "slider", "train", "import", "memory")

# The app idle and its page complete: no script running, nothing left stale by a run, every chart drawn, no
# placeholder. (A run can be too short for the page ever to show it running, so an action's wait is for content
# that only the run it causes brings: see _timed.)
_SETTLED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]')) return false;
  for (const chart of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    if (!chart.querySelector('.main-svg')) return false;
  }
  return true;
}"""


def _settled(page, shown=None, timeout: float = 120_000) -> None:
    """Wait until ``shown`` (a locator) is visible and the app has settled."""
    while True:
        if shown is not None:
            shown.first.wait_for(state="visible", timeout=timeout)
        page.wait_for_function(_SETTLED, polling="raf", timeout=timeout)
        if shown is None or shown.first.is_visible():
            return


def _timed(page, action, shown) -> float:
    """Seconds from ``action`` (called) until ``shown`` (a locator for what the action brings, not on the page
    before it) is visible and the app has settled."""
    if shown.count() and shown.first.is_visible():
        raise RuntimeError(f"{shown} is on the page before the action: its wait would end at once")
    started = time.perf_counter()
    action()
    _settled(page, shown)
    return time.perf_counter() - started


def _new_tab(browser):
    tab = browser.new_context(viewport=VIEWPORT, device_scale_factor=1).new_page()
    tab.set_default_timeout(120_000)
    return tab


def _heading(page, title: str):
    return page.get_by_role("heading", name=title, exact=True)


def _open(page, link: str, title: str) -> float:
    return _timed(page, lambda: page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click(),
                  _heading(page, title))


def _be_on(page, link: str, title: str) -> None:
    if not _heading(page, title).is_visible():
        _open(page, link, title)


# --- the interactions ------------------------------------------------------------------------------------


def first_opens(browser, environment: dict, tries: int) -> dict[str, list[float]]:
    """Each page opened by its address on a server just started (one server per try; the pages in turn, the
    first one rotating, so every page is once the server's first)."""
    seconds: dict[str, list[float]] = {link: [] for _, link, _ in PAGES}
    for attempt in range(tries):
        with running_app(environment) as (url, _, _server):
            for address, link, title in PAGES[attempt % len(PAGES):] + PAGES[:attempt % len(PAGES)]:
                tab = _new_tab(browser)
                started = time.perf_counter()
                tab.goto(f"{url}/{address}")
                _settled(tab, _heading(tab, title))
                seconds[link].append(time.perf_counter() - started)
                tab.context.close()
    return seconds


def warm_opens(page, tries: int) -> dict[str, list[float]]:
    """Each page from the navigation, after one untimed round."""
    seconds: dict[str, list[float]] = {link: [] for _, link, _ in PAGES}
    for attempt in range(tries + 1):
        for _, link, title in PAGES[1:] + PAGES[:1]:
            took = _open(page, link, title)
            if attempt:
                seconds[link].append(took)
    return seconds


def _canvas(page):
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    return canvas


def _stroke_then(page, canvas, stroke, last, side: int = CANVAS_SIDE, scale: float = 1.0, shift: float = 0.0
                 ) -> None:
    """Draw ``stroke`` on the canvas (``side`` pixels wide), each point ``scale`` times as far from its top left and
    ``shift`` pixels right, up to the mouse-up, which is left to ``last`` (called with it)."""
    box = canvas.bounding_box()
    shown = box["width"] / side
    points = [(box["x"] + (x * scale + shift) * shown, box["y"] + y * scale * shown) for x, y in stroke]
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=4)
    last(page.mouse.up)


def _clear(page, prompt: str = "Draw a digit (0–9) on the canvas") -> None:
    page.get_by_role("button", name="Reset canvas & history").filter(visible=True).click()
    page.get_by_text(prompt).filter(visible=True).wait_for()
    _settled(page)


def draws(page, tries: int) -> list[float]:
    """Mouse-up at the end of a one-stroke 7 or 1 → the reading shown, on a cleared canvas (after an untimed one)."""
    _be_on(page, "Draw a digit", "Draw a digit")
    canvas = _canvas(page)
    answer = page.get_by_role("status", name="predicted digit")
    seconds = []
    for attempt in range(tries + 1):
        _clear(page)
        _stroke_then(page, canvas, SEVEN if attempt % 2 else ONE,
                     lambda up: seconds.append(_timed(page, up, answer)))
    return seconds[1:]


def numbers(page, tries: int) -> list[float]:
    """On the Write a number tab, a 1, 7, 1 and 7 written one stroke each: the last mouse-up → the four digits read
    (after an untimed number)."""
    _be_on(page, "Draw a digit", "Draw a digit")
    page.get_by_role("tab", name="Write a number").click()
    canvas = page.locator("canvas.upper-canvas").filter(visible=True).first
    canvas.wait_for()
    four_read = page.get_by_role("status", name="number read").filter(has_text=re.compile(r"^\s*\d{4}\s*$"))
    seconds = []
    for attempt in range(tries + 1):
        _clear(page, "Write a number (a row of digits")
        for place, stroke in enumerate((ONE, SEVEN, ONE, SEVEN)):
            def last(up, timed=place == 3):
                if timed:
                    seconds.append(_timed(page, up, four_read))
                else:
                    up()
                    _settled(page)
            _stroke_then(page, canvas, stroke, last, NUMBER_CANVAS_WIDTH, NUMBER_HEIGHT, 40 + 190 * place)
    page.get_by_role("tab", name="Draw", exact=True).click()  # the interactions after this one draw on its canvas
    return seconds[1:]


def _toggle(page):
    return page.get_by_test_id("stCheckbox").filter(has_text="Look inside this reading")


def _inside_shown(page):
    """What "Look inside" shows first (the rest on the page must be drawn too): where the model looked (or, as it
    was before issue 33, the layers' maps)."""
    return page.locator('.st-key-drawing_attribution .main-svg, [class*="st-key-drawing_maps_"] .main-svg')


def insides(page, tries: int) -> list[float]:
    """"Look inside this reading" switched on under a drawn 7 → shown (switched off again between tries): the first
    time (which loads the Keras model), then ``tries`` times."""
    _be_on(page, "Draw a digit", "Draw a digit")
    _clear(page)
    _stroke_then(page, _canvas(page), SEVEN,
                 lambda up: _timed(page, up, page.get_by_role("status", name="predicted digit")))
    switch = _toggle(page).get_by_text("Look inside this reading")
    seconds = []
    for attempt in range(tries + 1):
        seconds.append(_timed(page, switch.click, _inside_shown(page)))
        if attempt < tries:
            switch.click()
            _inside_shown(page).first.wait_for(state="detached")
            _settled(page)
    return seconds


def map_clicks(page, tries: int) -> list[float]:
    """A click on one of a layer's maps → that map shown large (its channel in its title). Needs Look inside
    open (as :func:`insides` leaves it)."""
    tab = page.get_by_role("tab", name="Inside the network")
    if tab.count() and tab.get_attribute("aria-selected") != "true":
        tab.click()
        _settled(page, page.locator('[class*="st-key-drawing_maps_"] .main-svg'))
    seconds = []
    large = page.locator(".st-key-drawing_channel_map .gtitle")
    for attempt in range(tries + 1):
        grid = page.locator('[class*="st-key-drawing_maps_"] .js-plotly-plot').first
        titles = grid.locator(".annotation")
        shown_now = large.text_content() if large.count() else ""
        title = next(titles.nth(index) for index in range(attempt % 4 + 1, titles.count())
                     if not shown_now.endswith(f"channel {titles.nth(index).text_content().lstrip('#')}"))
        title.scroll_into_view_if_needed()
        box, first, second = (each.bounding_box() for each in (title, titles.nth(0), titles.nth(1)))
        spacing = second["x"] - first["x"]  # from a map's title to the next: the map's width and the gap after it
        channel = title.text_content().lstrip("#")
        shown = page.locator(".st-key-drawing_channel_map .gtitle").filter(
            has_text=re.compile(f"channel {channel}$"))
        # The middle of the map under the title (a click between maps would undo the selection instead), and not
        # within Plotly's double-click time of the click before (a double click undoes the selection too).
        page.wait_for_timeout(400)
        seconds.append(_timed(page, lambda: page.mouse.click(box["x"] + box["width"] / 2,
                                                             box["y"] + box["height"] + 0.4 * spacing), shown))
    return seconds[1:]


def slider_steps(page, tries: int) -> list[float]:
    """One key press on the "Turn" slider of what changes its mind → the drawing turned one step more, read. Needs
    Look inside open."""
    tab = page.get_by_role("tab", name="What changes its mind")
    if tab.count() and tab.get_attribute("aria-selected") != "true":
        tab.click()
        _settled(page, page.get_by_text("It reads"))
    slider = page.get_by_test_id("stSlider").filter(has_text="Turn").locator("input[type=range]").first
    slider.scroll_into_view_if_needed()
    changed = page.get_by_test_id("stImage").filter(has_text="Changed").locator("img")
    seconds = []
    for attempt in range(tries + 1):
        before = changed.get_attribute("src")
        slider.focus()
        key = "ArrowRight" if attempt % 2 == 0 else "ArrowLeft"
        shown = page.get_by_test_id("stImage").filter(has_text="Changed").locator(f'img:not([src="{before}"])')
        seconds.append(_timed(page, lambda: slider.press(key), shown))
    return seconds[1:]


_PAGE_TEXT = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const bars = [...document.querySelectorAll('[role="progressbar"]')].map(bar => bar.getAttribute('aria-valuenow'));
  return (main ? main.innerText : '') + '|' + bars.join(',');
}"""


def trainings(page, tries: int) -> tuple[list[float], list[float]]:
    """Train pressed with the page's defaults on the embedded sample → its results: seconds, and the longest
    stretch without a change of the page's text or progress (read every 0.1 s), each try."""
    seconds, still = [], []
    for attempt in range(tries):
        _be_on(page, "Train & evaluate", "Train & evaluate")
        name = f"waits-{attempt}"
        field = page.get_by_label("Model name", exact=True)
        _settled(page, field)
        field.first.fill(name)  # the form's (a training's results show their own under the same label)
        results = page.get_by_role("heading", name=f"Results of {name}")
        page.get_by_role("button", name="Train", exact=True).click()
        started = last_change = time.perf_counter()
        longest, seen = 0.0, None
        while not results.count():
            text = page.evaluate(_PAGE_TEXT)
            now = time.perf_counter()
            if text != seen:
                longest, last_change, seen = max(longest, now - last_change), now, text
            if now - started > 300:
                raise RuntimeError(f"no results after {now - started:.0f} s")
            page.wait_for_timeout(100)
        finished = time.perf_counter()
        seconds.append(finished - started)
        still.append(max(longest, finished - last_change))
    return seconds, still


def imports(page, tries: int) -> list[float]:
    """Import pressed for an uploaded .keras file (Keras's mnist_convnet example, one epoch on the embedded sample)
    → the page that says what the import found: seconds, each try."""
    keras_file = _example_network()
    seconds = []
    for attempt in range(tries):
        _be_on(page, "Train & evaluate", "Train & evaluate")
        page.get_by_text("Bring your own model").click()
        page.locator(".st-key-model_upload input[type=file]").set_input_files(keras_file)
        field = page.get_by_role("textbox", name="Name it")
        _settled(page, field)
        field.fill(f"imported-{attempt}")
        seconds.append(_timed(page, lambda: page.get_by_role("button", name="Import").click(),
                              _heading(page, f"Imported imported-{attempt}")))
        page.get_by_role("button", name="Dismiss these results").click()
        _settled(page)
    return seconds


def _example_network() -> Path:
    """Keras's mnist_convnet example, trained one epoch on the embedded sample (a few seconds), as a .keras file."""

    from benchmarks.importing import mnist_convnet
    from digitcnn import data

    embedded = data.load_embedded()
    network = mnist_convnet()
    network.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    network.fit(embedded.images[..., None].astype("float32") / 255, embedded.labels, epochs=1, verbose=0)
    path = Path(tempfile.mkdtemp(prefix="digitcnn-waits-import-")) / "mnist_convnet.keras"
    network.save(path)
    return path


def resident_bytes(root: int) -> int:
    """The resident memory of process ``root`` and every process under it (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


# --- the run ---------------------------------------------------------------------------------------------


def _models_folder() -> Path:
    """A copy of models/ with the shipped model under a second name too (Compare needs two models), each converted
    for reading drawings as a server that ran before left them (see digitcnn.storage.registry.load_predictor: a fresh clone's
    first server converts each model once, 6-8 s)."""
    folder = Path(tempfile.mkdtemp(prefix="digitcnn-waits-models-"))
    for path in (PROJECT_ROOT / "models").iterdir():
        if path.is_file():
            shutil.copy2(path, folder / path.name)
    name = config.DEFAULT_MODEL_NAME
    for suffix in (registry.MODEL_SUFFIX, registry.RECORD_SUFFIX):  # the model and the images it trained on
        shutil.copy2(folder / f"{name}{suffix}", folder / f"{name}-twin{suffix}")
    card = json.loads((folder / f"{name}.json").read_text())
    (folder / f"{name}-twin.json").write_text(json.dumps({**card, "name": f"{name}-twin"}))
    for entry in registry.list_models(folder):
        registry.load_predictor(entry.name, folder)
    return folder


def _row(label: str, values: list[float], target: float | None, unit: str = "s") -> str:
    p50, p95 = np.percentile(values, [50, 95])
    verdict = f"≤ {target:<5g} {'pass' if p50 <= target else 'FAIL'}" if target is not None else f"{'':12}"
    return f"{label:52} {p50:7.2f} {p95:7.2f} {unit:2}  {verdict}  ({len(values)} tr{'ies' if len(values) > 1 else 'y'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(INTERACTIONS),
                        help=f"a comma-separated subset of: {', '.join(INTERACTIONS)} (default: all)")
    parser.add_argument("--tries", type=int, default=5, help="tries of each interaction (default 5)")
    parser.add_argument("--train-tries", type=int, default=3, help="trainings (default 3: each takes 10-30 s)")
    arguments = parser.parse_args()
    only = {name.strip() for name in arguments.only.split(",") if name.strip()}
    if unknown := only - set(INTERACTIONS):
        parser.error(f"unknown interactions: {', '.join(sorted(unknown))}; pick from {', '.join(INTERACTIONS)}")
    from playwright.sync_api import sync_playwright

    environment = {config.MODELS_DIR_VARIABLE: str(_models_folder()), "TF_CPP_MIN_LOG_LEVEL": "2",
                   config.DATA_DIR_VARIABLE: tempfile.mkdtemp(prefix="digitcnn-waits-data-")}
    print(f"DigitCNN in headless Chromium {VIEWPORT['width']}×{VIEWPORT['height']}; {machine()}; load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    print(f"{'wait (from the action to the new content shown, the app idle)':52} {'p50':>7} {'p95':>7}     target",
          flush=True)
    rows = _Printed()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            if "first" in only:
                for title, values in first_opens(browser, environment, arguments.tries).items():
                    rows.append(_row(f"first open of {title} by its address", values, TARGETS["first"]))
            if only - {"first"}:
                _one_server(browser, environment, only, arguments.tries, arguments.train_tries)
        finally:
            browser.close()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


class _Printed(list):
    """Rows printed as they come (a run takes minutes)."""

    def append(self, row: str) -> None:
        print(row, flush=True)
        super().append(row)

    def __iadd__(self, rows):
        for row in rows:
            self.append(row)
        return self


def _one_server(browser, environment: dict, only: set, tries: int, train_tries: int) -> list[str]:
    rows = _Printed()
    with running_app(environment) as (url, _, server):
        page = _new_tab(browser)
        page.goto(url)
        _settled(page, _heading(page, "DigitCNN"))
        if "memory" in only:
            time.sleep(10)
            rest = resident_bytes(server.pid) / 1e9
            rows.append(_row("memory 10 s after the first visit", [rest], TARGETS["memory"], "GB"))
        if "pages" in only:
            for title, values in warm_opens(page, tries).items():
                rows.append(_row(f"{title} opened from the navigation", values, TARGETS["pages"]))
        if "draw" in only:
            rows.append(_row("mouse-up on the canvas → reading", draws(page, tries), TARGETS["draw"]))
        if "number" in only:
            rows.append(_row("last mouse-up of a 4-digit number → read", numbers(page, tries), TARGETS["number"]))
        if only & {"inside", "map", "slider"}:
            first, *seconds = insides(page, tries)
            if "inside" in only:
                rows.append(_row("Look inside, the first time after the start", [first], TARGETS["inside"]))
                rows.append(_row("Look inside switched on → shown", seconds, TARGETS["inside"]))
            if "map" in only:
                rows.append(_row("a click on a map → shown large", map_clicks(page, tries), TARGETS["map"]))
            if "slider" in only:
                rows.append(_row("a slider step (what changes its mind)", slider_steps(page, tries),
                                 TARGETS["slider"]))
        if "memory" in only:
            time.sleep(5)
            rows.append(_row("memory at rest after those, before training", [resident_bytes(server.pid) / 1e9],
                             TARGETS["memory"], "GB"))
        if "train" in only:
            seconds, still = trainings(page, train_tries)
            rows.append(_row("Train (defaults, embedded sample) → results", seconds, TARGETS["train"]))
            rows.append(_row("  longest stretch without a visible change", still, TARGETS["still"]))
            if "memory" in only:
                time.sleep(5)
                rows.append(_row("memory after a first training", [resident_bytes(server.pid) / 1e9], None, "GB"))
        if "import" in only:
            rows.append(_row("Import (an uploaded Keras example) → found", imports(page, tries), None))
        page.context.close()
    return rows


if __name__ == "__main__":
    main()
