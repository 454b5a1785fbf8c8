"""Comparing saved models in the browser: the table, the verdict and where they differ."""

import dataclasses

import numpy as np
from browser_steps import choose, expect_no_exception, open_page
from playwright.sync_api import expect

from digitcnn import data
from digitcnn.storage import registry


def test_two_saved_models_are_compared_with_a_verdict_on_images_neither_trained_on(page, settle, e2e_models_dir,
                                                                                   e2e_data_dir, embedded, snapshot):
    model, card = registry.load_model("default", e2e_models_dir)
    registry.save_model(model, dataclasses.replace(card, name="default-again"), e2e_models_dir,
                        trained_on=registry.load_training_record("default", e2e_models_dir))
    # Digits neither model trained on: the embedded sample's, one pixel to the right (other pictures)
    shifted = data.Dataset(np.roll(embedded.images[::8], 1, axis=2), embedded.labels[::8], "shifted")
    data.write_csv(shifted, e2e_data_dir / "shifted-digits.csv")
    page.reload()  # the sidebar lists the new model and the new data
    expect(page.get_by_role("heading", name="DigitCNN")).to_be_visible(timeout=60_000)
    choose(page, "Data", "shifted-digits.csv")
    settle()
    open_page(page, "Compare models", "Compare models")
    expect(page.get_by_text("no significant difference between default and default-again (p = 1)")).to_be_visible(
        timeout=120_000)
    expect(page.get_by_text("None of the models trained on any of them.")).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text("Seen in training by default: none of these 625 images.")
           ).to_be_visible()
    # The table is whole at 1400 px: no column hidden past the edge, no row below it, nothing to scroll.
    page.set_viewport_size({"width": 1400, "height": 900})
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    page.wait_for_timeout(500)  # the grid lays its columns out again at the new width
    scroller = table.locator(".dvn-scroller")
    width, shown_width, height, shown_height = scroller.evaluate(
        "element => [element.scrollWidth, element.clientWidth, element.scrollHeight, element.clientHeight]")
    assert width <= shown_width, f"the table is {width} px wide in {shown_width} px: it scrolls sideways"
    assert height <= shown_height, f"the table is {height} px tall in {shown_height} px: it scrolls down"
    expect(page.get_by_role("heading", name="Where they differ")).to_be_visible()
    expect(page.locator(".st-key-confusion_difference .js-plotly-plot")).to_be_visible(timeout=30_000)
    expect_no_exception(page)
    snapshot("compare_models.png", height=1600)
