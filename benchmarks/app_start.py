"""How fast the app opens: seconds from `streamlit run` to a healthy server, then to the first
page drawn in a browser (headless Chromium), and whether that first page waited on TensorFlow.

    python -m benchmarks.app_start [--runs 3]

Needs Debian's chromium (`apt-get install -y chromium`) and Playwright for Python.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, first_pages_in_a_fresh_process, machine, running_app


def one_start(browser) -> tuple[float, float]:
    """Seconds until the server is healthy, and until the home page shows its title."""
    started = time.perf_counter()
    with running_app() as (url, healthy, _server):
        page = browser.new_page()
        page.goto(url)
        page.get_by_role("heading", name="DigitCNN").wait_for(timeout=60_000)
        shown = time.perf_counter() - started
        page.close()
    return healthy, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            starts = [one_start(browser) for _ in range(arguments.runs)]
        finally:
            browser.close()
    print(f"{machine()}; {arguments.runs} cold starts of `streamlit run streamlit_app.py`")
    print(f"server healthy after     {statistics.median(s[0] for s in starts):.2f} s (median)")
    print(f"first page shown after   {statistics.median(s[1] for s in starts):.2f} s (median)")
    _, heavy_imports = first_pages_in_a_fresh_process()
    print(f"first pages import TensorFlow: {'yes' if heavy_imports else 'no'}")


if __name__ == "__main__":
    main()
