"""What watching a training costs the server: the processor time of the `streamlit run` process (its training
workers not counted) while browsers show trainings' progress, redrawn twice a second, and wait in line.

    python -m benchmarks.watching [--seconds 15]

Each row starts a fresh server with one training at a time (``DIGITCNN_MAX_TRAININGS=1``), opens that many
browsers (each a user of its own), starts a long training in each (one trains, the others wait in line, their
pages redrawn as often), and measures the server's processor seconds per second. Side by side in one run: the
app as it is, and the same with Streamlit's garbage collection after each run turned off
(``runner.postScriptGC``), the floor of what that collection can cost. Needs Debian's chromium and Playwright.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, PROJECT_ROOT, machine, running_app

_TICKS = os.sysconf("SC_CLK_TCK")


def processor_seconds(pid: int) -> float:
    """The processor seconds the process ``pid`` itself has used (its children not counted)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def start_a_long_training(page, url: str, name: str) -> None:
    """Open Train & evaluate in ``page`` and start a training of ``name`` that outlasts the measurement."""
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train & evaluate").click()
    epochs = page.locator(".st-key-epochs_compact_quick input")
    expect(epochs).to_be_visible(timeout=60_000)
    page.get_by_label("Model name", exact=True).fill(name)
    epochs.fill("200")
    page.locator(".st-key-train_limit input").fill("1500")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(f"^(Training {name}|{name} is number \\d+ in line)$"))
           ).to_be_visible(timeout=60_000)


def server_share(browser, watchers: int, seconds: float, environment: dict) -> float:
    """The server's processor seconds per second while ``watchers`` browsers each watch a training of their own."""
    models = Path(tempfile.mkdtemp(prefix="digitcnn-watching-"))
    for path in (PROJECT_ROOT / "models").glob("default.*"):
        shutil.copy2(path, models / path.name)
    environment = {"DIGITCNN_MODELS_DIR": str(models), "DIGITCNN_MAX_TRAININGS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
                   **environment}
    contexts = []
    try:
        with running_app(environment) as (url, _, server):
            for user in range(watchers):
                contexts.append(browser.new_context(viewport={"width": 1400, "height": 1000}))
                start_a_long_training(contexts[-1].new_page(), url, f"watched-{user}")
            time.sleep(5)  # past the first epoch's start and the pages' first redraws
            started, used = time.monotonic(), processor_seconds(server.pid)
            time.sleep(seconds)
            return (processor_seconds(server.pid) - used) / (time.monotonic() - started)
    finally:
        for context in contexts:
            context.close()
        shutil.rmtree(models, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="how long each row is measured")
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    settings = {"the app": {}, "no collection after runs": {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "false"}}
    with sync_playwright() as playwright:
        # Only the server's own processor time is counted: the browsers' (on users' computers) is left out.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            print(f"The server's processor time while browsers watch trainings; {machine()}")
            print(f"{'watching':>8}  " + "  ".join(f"{name:>26}" for name in settings))
            for watchers in (1, 4):
                shares = [server_share(browser, watchers, arguments.seconds, setting) for setting in settings.values()]
                print(f"{watchers:>8}  " + "  ".join(f"{share:>20.1%} of a core" for share in shares), flush=True)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
