"""Training a tiny model by clicking, and browsing the digits of the data."""

import re

from playwright.sync_api import expect


def _open(page, link, heading):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=60_000)


def _choose(page, label, option):
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option", name=option).click()


def test_training_by_clicking_shows_progress_then_a_confusion_matrix(page, settle, snapshot):
    _open(page, "Train & evaluate", "Train & evaluate")
    _choose(page, "Architecture", re.compile("^article"))
    settle()
    epochs = page.locator(".st-key-epochs_article input")  # the field of the article's recipe
    expect(epochs).to_have_value("10", timeout=30_000)  # the tutorial's
    page.get_by_label("Model name", exact=True).fill("browser-trained")
    epochs.fill("3")
    page.locator(".st-key-train_limit input").fill("1500")
    page.get_by_role("button", name="Train", exact=True).click()

    progress = page.get_by_test_id("stProgress")
    expect(progress).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(r"Epoch \d/3 · batch \d+/47"))).to_be_visible(timeout=60_000)
    seen = set()
    while page.get_by_role("heading", name="Results of browser-trained").count() == 0 and len(seen) < 3:
        if progress.count():
            seen.add(progress.get_by_role("progressbar").get_attribute("aria-valuenow"))
        page.wait_for_timeout(300)
    expect(page.get_by_role("heading", name="Results of browser-trained")).to_be_visible(timeout=120_000)
    assert len(seen) >= 2, f"the progress bar did not move: {seen}"

    expect(page.get_by_role("heading", name="Confusion matrix")).to_be_visible()
    expect(page.locator(".js-plotly-plot .heatmaplayer").first).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stMetric").filter(has_text="Test accuracy")).to_be_visible()
    snapshot("train_evaluate.png", height=2400)


def test_picking_a_digit_shows_its_images(page):
    _open(page, "Dataset browser", "Dataset browser")
    samples = page.get_by_text(re.compile(r"^500 images of \d"))
    expect(samples.first).to_have_text(re.compile("^500 images of 0"), timeout=30_000)
    page.get_by_role("radiogroup", name="Digit").get_by_role("radio", name="7", exact=True).click()
    expect(samples.first).to_have_text(re.compile("^500 images of 7"), timeout=30_000)
