"""What the browser tests do again and again, as a person would: open a page, pick an option, train."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from digitcnn.networks import architectures

# A training's first batch comes after its worker has imported TensorFlow and traced the network: over a minute in
# a clean clone's CI run on a busy 2-core machine (two test workers, a server, a training worker and a browser).
FIRST_BATCH_TIMEOUT = 180_000


def open_page(page, link: str, heading: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=60_000)


def choose(page, label: str, option) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
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
