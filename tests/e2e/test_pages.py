"""Each page opened from the navigation, as a user would, with its main content checked."""

import pytest
from playwright.sync_api import expect

from benchmarks.common import running_app
from digitcnn import config

PAGES = [
    # (navigation link, the page's title, something only that page shows, screenshot file)
    ("Dataset browser", "Dataset browser", "Click one to open its row below", "dataset_browser.png"),
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


def test_a_page_opened_by_its_address_on_a_fresh_server_has_the_navigation_and_the_sidebar(browser, e2e_models_dir,
                                                                                             tmp_path):
    """A bookmark opened first after the server (re)started: Streamlit ran that page's file on its own, with the
    files of pages/ for navigation and no sidebar, until someone opened the entry point (see ui.navigation)."""
    environment = {config.MODELS_DIR_VARIABLE: str(e2e_models_dir), config.DATA_DIR_VARIABLE: str(tmp_path),
                   "TF_CPP_MIN_LOG_LEVEL": "2"}
    with running_app(environment, tmp_path / "streamlit.log") as (url, _, _server):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            for attempt in range(2):  # the first visit, and a reload of it
                page.goto(f"{url}/train_evaluate") if attempt == 0 else page.reload()
                expect(page.get_by_role("heading", name="Train & evaluate", exact=True)).to_be_visible(timeout=60_000)
                navigation = page.get_by_test_id("stSidebarNav")
                expect(navigation.get_by_role("link", name="Draw a digit")).to_be_visible()  # the app's titles…
                expect(navigation.get_by_text("train evaluate", exact=True)).to_have_count(0)  # …not file names
                expect(page.get_by_test_id("stSidebar").get_by_text("Model for drawings")).to_be_visible()
                assert page.url == f"{url}/train_evaluate"
                assert page.get_by_test_id("stException").count() == 0
        finally:
            page.close()
