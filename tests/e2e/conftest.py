"""The app in a real browser: a `streamlit run` server on a free loopback port, driven by
Playwright through Debian's chromium. Screenshots go to $DIGITCNN_SCREENSHOTS_DIR (default:
a folder under pytest's temporary folder, printed at the end), and are kept on failure."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, running_app
from digitcnn import config

SCREENSHOTS_VARIABLE = "DIGITCNN_SCREENSHOTS_DIR"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_models_dir(tmp_path_factory) -> Path:
    """A models folder holding a copy of the shipped default model, so tests never write into models/."""
    shipped_model, shipped_card, shipped_record = (
        config.PROJECT_ROOT / "models" / f"{config.DEFAULT_MODEL_NAME}{suffix}" for suffix in (".keras", ".json", ".seen"))
    if not shipped_model.is_file():
        pytest.skip("the shipped default model models/default.keras is missing")
    folder = tmp_path_factory.mktemp("e2e_models")
    for path in (shipped_model, shipped_card, shipped_record):
        shutil.copy2(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def e2e_data_dir(tmp_path_factory) -> Path:
    """The app's data folder: the datasets it offers beside the embedded sample, and its drawings' database."""
    return tmp_path_factory.mktemp("e2e_data")


@pytest.fixture(scope="session")
def app_url(e2e_models_dir, e2e_data_dir, tmp_path_factory):
    """The URL of a fresh `streamlit run streamlit_app.py`; the server is stopped at the end, whatever happens."""
    environment = {config.MODELS_DIR_VARIABLE: str(e2e_models_dir), "TF_CPP_MIN_LOG_LEVEL": "2",
                   config.DATA_DIR_VARIABLE: str(e2e_data_dir),
                   config.DRAWINGS_DB_VARIABLE: str(e2e_data_dir / "drawings.sqlite"),
                   "DIGITCNN_MAX_TRAININGS": "2"}  # two users' trainings run side by side; test_sessions tests the line
    with running_app(environment, tmp_path_factory.mktemp("server") / "streamlit.log") as (url, _, _server):
        yield url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no chromium at {CHROMIUM}: `apt-get install -y chromium` (or set DIGITCNN_CHROMIUM)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


_SCREENSHOTS = pytest.StashKey[Path]()


@pytest.fixture(scope="session")
def screenshots_dir(tmp_path_factory, pytestconfig) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_VARIABLE) or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    pytestconfig.stash[_SCREENSHOTS] = folder
    return folder


def pytest_terminal_summary(terminalreporter, config):
    if _SCREENSHOTS in config.stash:
        terminalreporter.write_line(f"browser screenshots: {config.stash[_SCREENSHOTS]}")


@pytest.fixture
def page(browser, app_url, screenshots_dir, request):
    """A new browser tab on the app's home page; a screenshot of it is saved when the test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.goto(app_url)
    tab.get_by_role("heading", name="DigitCNN").wait_for()
    yield tab
    failed = getattr(request.node, "failed_call", False)
    if failed:
        tab.screenshot(path=screenshots_dir / f"FAILED-{request.node.name}.png", full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.failed_call = True
    return report


@pytest.fixture
def settle(page):
    """Wait until the app has finished its current run (its "running" indicator is gone)."""

    def wait() -> None:
        page.wait_for_timeout(400)
        page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)

    return wait


@pytest.fixture
def snapshot(page, settle, screenshots_dir):
    """Save a picture of the page as ``name`` (the app scrolls inside its own pane, so the window is
    made ``height`` tall for the picture instead of asking for a full-page shot)."""

    def take(name: str, height: int = 1000) -> Path:
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"], "height": height})
        settle()
        page.wait_for_timeout(800)  # let charts finish their transitions
        path = screenshots_dir / name
        page.screenshot(path=path)
        page.set_viewport_size(size)
        return path

    return take
