"""Bringing your own model in the browser: a Keras tutorial's network, uploaded on Train & evaluate, reads a drawing
and is taken away as a LiteRT file that reads as the app does."""

import re

import pytest
from browser_steps import (STROKES, check_litert_reads_as_the_app_does, download_litert, draw, expect_no_exception,
                           open_draw_page, open_page)
from keras_networks import made_elsewhere
from playwright.sync_api import expect

from digitcnn.storage.card import CARD_SUFFIX, MODEL_SUFFIX, RECORD_SUFFIX

# A name no other browser test saves under, after "default" and "default-again" in the sorted list of models: Compare
# offers the first two, which other tests expect to be those.
NAME = "tutorial-convnet"
IMPORT_TIMEOUT = 180_000  # a worker's start (TensorFlow's import) and the import, on a busy 2-core machine


@pytest.fixture
def imported_name(e2e_models_dir):
    """:data:`NAME`, whose model is removed from the models folder the browser tests share once the test is over."""
    yield NAME
    for suffix in (MODEL_SUFFIX, CARD_SUFFIX, RECORD_SUFFIX):
        (e2e_models_dir / f"{NAME}{suffix}").unlink(missing_ok=True)


def test_an_uploaded_model_reads_a_drawing_and_is_taken_away_as_litert(imported_name, page, settle, snapshot,
                                                                          e2e_models_dir, embedded, tmp_path):
    tutorial_file = made_elsewhere(embedded, tmp_path, ["convnet"])["convnet"]  # logits out, a flat row of pixels in
    open_page(page, "Train & evaluate", "Train & evaluate")
    page.get_by_text("Bring your own model").click()
    page.locator(".st-key-model_upload input[type=file]").set_input_files(tutorial_file)
    name_field = page.get_by_role("textbox", name="Name it")
    expect(name_field).to_have_value("convnet", timeout=30_000)  # the file's name until the user says otherwise
    name_field.fill(imported_name)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name=f"Importing {imported_name}")).to_be_visible(timeout=30_000)
    expect_no_exception(page)

    expect(page.get_by_role("heading", name=f"Imported {imported_name}")).to_be_visible(timeout=IMPORT_TIMEOUT)
    expect_no_exception(page)
    expect(page.get_by_text(f"Saved as {imported_name} with its model card, from convnet.keras; drawings are now read "
                            f"by it.")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text=re.compile("^It expects pixels 0–1"))).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Accuracy (not a test)")).to_be_visible()
    expect(page.locator(".st-key-confusion_matrix .js-plotly-plot .heatmaplayer")).to_be_visible(timeout=30_000)
    assert "100.0%" not in page.get_by_test_id("stMain").text_content()
    expect(page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model for drawings")
           ).to_have_value(imported_name)
    page.get_by_role("heading", name=f"Imported {imported_name}").evaluate("heading => heading.scrollIntoView()")
    snapshot("import_model.png", height=1300)

    canvas = open_draw_page(page)
    expect(page.get_by_text(re.compile(rf"^Read by {imported_name} \(Imported Keras model, "))).to_be_visible()
    draw(page, canvas, STROKES[7])
    expect(page.get_by_role("status", name="predicted digit")).to_have_text(
        re.compile(r"^(\d|That doesn't look like a digit)$"), timeout=30_000)  # which: up to a briefly trained net
    expect_no_exception(page)

    open_page(page, "Train & evaluate", "Train & evaluate")
    downloaded = download_litert(page, settle, imported_name)  # it reads drawings: offered first
    check_litert_reads_as_the_app_does(downloaded, imported_name, e2e_models_dir, embedded.images[0])
    expect_no_exception(page)

    page.get_by_role("button", name="Dismiss these results").click()
    expect(page.get_by_role("heading", name=f"Imported {imported_name}")).to_have_count(0, timeout=30_000)
    expect_no_exception(page)
