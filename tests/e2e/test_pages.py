"""Each page opened from the navigation, as a user would, with its main content checked."""

import pytest
from playwright.sync_api import expect

PAGES = [
    # (navigation link, the page's title, something only that page shows, screenshot file)
    ("Dataset browser", "Dataset browser", "Images per digit", "dataset_browser.png"),
    ("Train & evaluate", "Train & evaluate", "Saved models", "train_evaluate_settings.png"),
    ("Draw a digit", "Draw a digit", "Draw a digit (0–9) on the canvas", "draw_digit_empty.png"),
]


@pytest.mark.parametrize("link, title, content, screenshot", PAGES, ids=[link for link, *_ in PAGES])
def test_each_page_opens_from_the_navigation(page, settle, snapshot, link, title, content, screenshot):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_text(content).first).to_be_visible(timeout=60_000)
    settle()
    assert page.get_by_test_id("stException").count() == 0
    snapshot(screenshot, height=1800)


def test_the_home_page_names_the_data_and_the_shipped_model(page, snapshot):
    expect(page.get_by_text("Active model: default")).to_be_visible()
    expect(page.get_by_text("5,000").first).to_be_visible()
    snapshot("home.png")
