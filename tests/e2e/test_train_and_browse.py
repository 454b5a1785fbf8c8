"""Training a tiny model by clicking, saving it and reading a drawing with it, and browsing the digits."""

import io
import re
import time

import numpy as np
from browser_steps import (FIRST_BATCH_TIMEOUT, check_litert_reads_as_the_app_does, choose, download_litert,
                           expect_no_exception, open_page, start_training, wait_for_results)
from PIL import Image
from playwright.sync_api import expect

from digitcnn import training

# Issue 33: the page sat still 7–14 s after the last batch. The wait a person sees is measured by
# benchmarks/app_interactions.py (about 1 s on a quiet machine); this bound leaves room for a machine busy with
# other tests (3–4 s stretches seen while they ran beside it) and still fails that defect.
LONGEST_STILL_SECONDS = 5.0


def test_training_by_clicking_shows_progress_then_a_confusion_matrix(page, settle, snapshot):
    open_page(page, "Train & evaluate", "Train & evaluate")
    expect(page.locator(".st-key-epochs_compact_quick input")).to_be_visible(timeout=30_000)
    # Long enough for the progress, redrawn every second, to be seen moving: 3 epochs once finished within about one
    # redraw (the bar was only ever seen at 100%) after the server's cleanup between redraws was made cheap.
    start_training(page, settle, "browser-trained", epochs=10, images=1500)
    expect(page.locator(".st-key-epochs_article_quick input")).to_have_value("10")

    progress = page.get_by_test_id("stProgress")
    expect(progress).to_be_visible(timeout=60_000)
    # 1,350 of the 1,500 images learned from (150 held out to validate), in batches of 32
    expect(page.get_by_text(re.compile(r"Epoch \d+/10 · batch \d+/43"))).to_be_visible(
        timeout=FIRST_BATCH_TIMEOUT)
    seen = set()
    while page.get_by_role("heading", name="Results of browser-trained").count() == 0 and len(seen) < 3:
        if progress.count():
            seen.add(progress.get_by_role("progressbar").get_attribute("aria-valuenow"))
        page.wait_for_timeout(300)
    wait_for_results(page, "browser-trained")
    assert len(seen) >= 2, f"the progress bar did not move: {seen}"

    expect(page.get_by_role("heading", name="Confusion matrix")).to_be_visible()
    expect(page.locator(".js-plotly-plot .heatmaplayer").first).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stMetric").filter(has_text="Test accuracy")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^\d → \d \("))).not_to_have_count(0)  # the mistakes, how sure of each
    assert "100.0%" not in page.get_by_test_id("stMain").text_content()  # nothing short of certain reads certain
    snapshot("train_evaluate.png", height=2400)

    # The fewest mistakes of a kind, one image as a rule, are painted apart from a cell of none; a clicked cell of the
    # diagonal holds right readings, and is titled so.
    matrix = page.locator(".st-key-confusion_matrix .js-plotly-plot")
    counts, cells = _confusion_cells(matrix)
    wrong = np.where(np.eye(10, dtype=bool), 0, counts)
    fewest = min(zip(*np.nonzero(wrong)), key=lambda cell: wrong[cell])
    empty = next(zip(*np.nonzero((wrong == 0) & ~np.eye(10, dtype=bool))))
    picture = np.asarray(Image.open(io.BytesIO(matrix.screenshot())).convert("RGB"), dtype=int)
    fewest_colour, empty_colour = (picture[round(y), round(x)] for x, y in (cells(*cell, corner=True)
                                                                             for cell in (fewest, empty)))
    assert np.abs(fewest_colour - empty_colour).sum() > 60, (
        f"a cell of {wrong[fewest]} mistake(s) is painted {fewest_colour}, hardly apart from an empty one's {empty_colour}")

    digit = int(np.argmax(counts.diagonal()))
    x, y = cells(digit, digit)
    matrix.hover(position={"x": x, "y": y})  # Plotly picks the point a click selects as it hovers
    page.wait_for_timeout(300)
    matrix.click(position={"x": x, "y": y})
    expect(page.get_by_role("heading", name=f"Read right as {digit} ({counts[digit, digit]:,} images)")).to_be_visible(
        timeout=30_000)
    expect(page.get_by_role("heading", name=re.compile("mistake|misclassified", re.IGNORECASE))).to_have_count(0)
    expect_no_exception(page)


def _confusion_cells(chart):
    """The counts of a confusion matrix drawn in the browser (10×10), and where its cell (true, predicted) lies in
    the chart, in pixels from its top left: at its centre, or at a corner of it, away from the written count."""
    drawn = chart.evaluate("""plot => {
        const layout = plot._fullLayout;
        return {counts: Array.from(plot._fullData[2].customdata),
                x: [0, 1].map(d => layout.xaxis._offset + layout.xaxis.l2p(d)),
                y: [0, 1].map(d => layout.yaxis._offset + layout.yaxis.l2p(d))};
    }""")
    counts = np.asarray(drawn["counts"], dtype=int).reshape(10, 10)

    def cell(true: int, predicted: int, corner: bool = False) -> tuple[float, float]:
        width, height = drawn["x"][1] - drawn["x"][0], drawn["y"][1] - drawn["y"][0]
        off = 0.3 if corner else 0.0
        return drawn["x"][0] + (predicted - off) * width, drawn["y"][0] + (true - off) * height

    return counts, cell


def test_a_quick_training_with_the_defaults_never_sits_still_and_names_its_steps_and_their_times(page, settle):
    """Issue 33: after its last batch a quick run sat 7–14 s at "batch 58/58 · about 0 s left" with no word of what
    it did, then said "Training time 9 s" for a 20–30 s wait. The page's text is read every 0.1 s from the click on
    Train to the results."""
    open_page(page, "Train & evaluate", "Train & evaluate")
    expect(page.locator(".st-key-epochs_compact_quick input")).to_be_visible(timeout=30_000)  # the defaults: quick
    page.get_by_label("Model name", exact=True).fill("quick-defaults")
    main, results = page.get_by_test_id("stMain"), page.get_by_role("heading", name="Results of quick-defaults")
    page.get_by_role("button", name="Train", exact=True).click()
    clicked = last_change = time.monotonic()
    texts, still = [main.inner_text()], []
    while not results.count():
        assert time.monotonic() - clicked < FIRST_BATCH_TIMEOUT / 1000, "no results"
        page.wait_for_timeout(100)
        text, now = main.inner_text(), time.monotonic()
        if text != texts[-1]:
            still.append(now - last_change)
            texts.append(text)
            last_change = now
    waited = time.monotonic() - clicked
    expect_no_exception(page)

    lines = [line for text in texts for line in text.splitlines()]
    assert any(line.startswith("Epoch 3/3 · batch") for line in lines)
    after_learning = training.STEPS_AFTER_LEARNING + (training.HANDING_OVER,)
    assert [step for step in after_learning if any(line.startswith(f"{step} (step ") for line in lines)], \
        "no step after the last batch was named"
    assert not [line for line in lines if "· about 0 s left" in line]
    longest = max(range(len(still)), key=still.__getitem__)
    assert still[longest] <= LONGEST_STILL_SECONDS, (
        f"the page sat still for {still[longest]:.1f} s {waited:.1f} s after the click, from "
        f"{_progress(texts[longest])!r} to {_progress(texts[longest + 1])!r}")

    shown = page.get_by_test_id("stMetric").filter(has_text="Training time")
    seconds = float(re.search(r"(\d+) s", shown.inner_text()).group(1))
    assert waited * 0.75 - 1 <= seconds <= waited + 1, f"{seconds} s shown for a wait of {waited:.1f} s"
    timing = page.get_by_text(re.compile(r"^Training time: [\d.]+ s from the click to the results: "))
    expect(timing).to_contain_text("learning ")
    expect(timing).to_contain_text('fitting the "not a digit" rule ')
    expect(page.locator(".js-plotly-plot").filter(has_text="validation (held out)").first).to_be_visible()


def _progress(text: str) -> str:
    """The progress line in the page's ``text``, else its first line (the results' heading, say)."""
    lines = text.splitlines()
    return next((line for line in lines if " elapsed" in line), lines[0] if lines else "")


def test_a_run_too_short_to_learn_is_named_in_the_browser(page, settle):
    start_training(page, settle, "too-short-in-browser", epochs=1, images=100, architecture="compact")
    warning = page.get_by_text(re.compile(r"^A run of 7 training steps .* learns little"))
    expect(warning).to_be_visible(timeout=30_000)  # as it starts
    wait_for_results(page, "too-short-in-browser")
    expect(warning).to_be_visible()  # and beside its results
    expect(page.get_by_test_id("stMetric").filter(has_text="Test accuracy")).to_be_visible()


def test_a_saved_model_becomes_the_model_for_drawings(page, settle):
    """Save once crashed in the browser (the page set the sidebar's widget after it was drawn)."""
    start_training(page, settle, "saved-in-browser", epochs=1, images=300)
    wait_for_results(page, "saved-in-browser")
    page.get_by_role("button", name="Save as saved-in-browser").click()
    expect(page.get_by_text("Saved as saved-in-browser with its model card")).to_be_visible(timeout=30_000)
    expect_no_exception(page)
    expect(page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model for drawings")
           ).to_have_value("saved-in-browser")

    open_page(page, "Draw a digit", "Draw a digit")
    expect(page.get_by_text(re.compile("^Read by saved-in-browser"))).to_be_visible(timeout=30_000)
    canvas = page.locator("canvas.upper-canvas").first
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.52, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.85, steps=12)
    page.mouse.up()
    expect(page.get_by_role("status", name="predicted digit")).to_have_text(re.compile(r"^\d$"), timeout=30_000)
    expect_no_exception(page)


def test_a_result_is_saved_under_a_name_typed_beside_save(page, settle):
    """A result could be saved only under the name it was trained under: one refused at the save lost the work.
    The new name is typed and Save clicked at once, as people do (the click is what commits the field)."""
    start_training(page, settle, "to-be-renamed", epochs=1, images=100)
    wait_for_results(page, "to-be-renamed")
    page.get_by_role("textbox", name="Name to save under").fill("renamed-in-browser")
    page.get_by_role("button", name=re.compile("^Save as ")).click()
    expect(page.get_by_text("Saved as renamed-in-browser with its model card")).to_be_visible(timeout=30_000)
    expect_no_exception(page)
    expect(page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model for drawings")
           ).to_have_value("renamed-in-browser")


def test_picking_a_digit_shows_its_images_above_the_fold_and_a_click_opens_one_as_its_row(page, settle, embedded):
    page.set_viewport_size({"width": 1400, "height": 900})
    open_page(page, "Dataset browser", "Dataset browser")
    samples = page.get_by_text(re.compile(r"^500 images of \d"))
    expect(samples.first).to_have_text(re.compile("^500 images of 0"), timeout=30_000)
    page.get_by_role("radiogroup", name="Digit").get_by_role("radio", name="7", exact=True).click()
    expect(samples.first).to_have_text(re.compile("^500 images of 7"), timeout=30_000)
    settle()  # until the run ends, the grid of 0s may still be on the page beside the grid of 7s

    # Above the fold: the title, the digit picker and the first row of samples, without scrolling.
    grid = page.locator(".st-key-samples .js-plotly-plot")
    expect(grid).to_be_visible(timeout=30_000)
    tiles = page.locator(".st-key-samples .heatmaplayer image")  # the picture of the 4 rows of 10 samples
    box = tiles.bounding_box()
    for shown in (page.get_by_role("heading", name="Dataset browser", exact=True),
                  page.get_by_role("radiogroup", name="Digit")):
        place = shown.bounding_box()
        assert 0 <= place["y"] and place["y"] + place["height"] <= box["y"]
    first_row_bottom = box["y"] + box["height"] / 4
    assert box["y"] >= 0 and first_row_bottom <= 900, f"the first row of samples ends {first_row_bottom:.0f} px down"

    # The third sample of 7 opens as its row: large, and as pixel values.
    tile = box["width"] / 10
    page.mouse.click(box["x"] + 2.5 * tile, box["y"] + tile / 2)
    row = int(np.flatnonzero(embedded.labels == 7)[2])
    expect(page.get_by_label("Row index")).to_have_value(str(row), timeout=30_000)
    expect(page.get_by_role("paragraph").filter(has_text=re.compile(f"^row {row}: label 7$"))).to_be_visible()
    expect_no_exception(page)


def test_a_saved_models_litert_file_downloads_and_reads_a_digit_as_the_app_does(page, settle, e2e_models_dir, embedded):
    open_page(page, "Train & evaluate", "Train & evaluate")
    downloaded = download_litert(page, settle, "default")
    check_litert_reads_as_the_app_does(downloaded, "default", e2e_models_dir, embedded.images[0])
    expect_no_exception(page)


def test_a_model_deleted_after_the_page_showed_it_downloads_nothing_and_says_why(page, settle, e2e_models_dir):
    """Streamlit's own toast said only "Failed to generate file for download"."""
    import dataclasses

    from digitcnn.storage import registry

    model, card = registry.load_model("default", e2e_models_dir)
    registry.save_model(model, dataclasses.replace(card, name="going-away"), e2e_models_dir)
    open_page(page, "Train & evaluate", "Train & evaluate")
    page.get_by_text("Take a model away").click()
    choose(page, "Model to download", "going-away")
    settle()
    for path in e2e_models_dir.glob("going-away.*"):  # deleted by hand, or by another user's hand, meanwhile
        path.unlink()
    page.get_by_role("button", name="Download going-away.keras").click()
    expect(page.get_by_text("going-away was deleted after this page showed it: nothing was downloaded.")
           ).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Download going-away.keras")).to_have_count(0)
    expect_no_exception(page)
