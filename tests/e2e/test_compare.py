"""Comparing saved models in the browser: the table, the verdict and where they differ."""

import dataclasses

from browser_steps import expect_no_exception, open_page
from playwright.sync_api import expect

from digitcnn import registry


def test_two_saved_models_are_compared_with_a_verdict(page, e2e_models_dir, snapshot):
    model, card = registry.load_model("default", e2e_models_dir)
    registry.save_model(model, dataclasses.replace(card, name="default-copy"), e2e_models_dir)
    page.reload()  # the sidebar lists the new model
    open_page(page, "Compare models", "Compare models")
    expect(page.get_by_text("no significant difference between default and default-copy (p = 1)")).to_be_visible(
        timeout=120_000)
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
