"""A first model: how long the train page's quick run takes and what it scores, on the embedded sample (the page's
default settings: compact, 33% held out with seed 42) and on full MNIST (its own 10,000 test digits), next to the
full recipe on the embedded sample. Seconds are the whole of a training as the page runs it, in a warm worker
process (see digitcnn.jobs.process_training): sending the data, split, build, fit, calibration, scoring, the refusal
rule, and the model and scores back; `fit s` is the median of the fit alone, the network's learning.

    python -m benchmarks.first_model [--data PATH/TO/mnist] [--recipe] [--repeat N] [--page N]

Without --data or $DIGITCNN_MNIST_DIR, the full-MNIST row is skipped. --recipe adds the full recipe on full MNIST
(about a quarter of an hour on 2 cores). --repeat runs each training N times, one after the other, and prints the
first run's time (the one after the worker started), the median, and the ranges of times and accuracies: a small
cloud machine's speed varies by a fifth from one run to the next.

--page N adds the page's own path, as a user meets it: a fresh `streamlit run`, the train page opened in headless
Chromium and read for 20 s, then Train clicked with the defaults N times (each result dismissed before the next
click), timed from the click until the results' heading shows. A user's browser runs on their own computer, and
here it shares the server's 2 cores (it took 5–10 s of processor time a training with 4 augmented epochs):
so its processes run at the lowest priority (nice 19), taking the cores the server and the worker leave.
Needs Debian's chromium and Playwright, as the browser tests do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, machine, running_app
from digitcnn import config, data
from digitcnn.jobs.process_training import ProcessTrainer
from digitcnn.training import TrainingConfig, fitted_to_run, make_split, quick_settings, train_size


def timed_runs(trainer: ProcessTrainer, dataset, label: str, quick: bool, repeat: int) -> None:
    settings = TrainingConfig()  # the page's defaults
    if quick:
        settings = TrainingConfig(**quick_settings(settings.architecture, train_size(dataset, settings)))
    seconds, fit_seconds, accuracies = [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        result = trainer(dataset, settings)
        seconds.append(time.perf_counter() - started)
        fit_seconds.append(result.training_seconds)
        accuracies.append(result.test_evaluation.accuracy)
    print_row(label, result.split.train, result.config, seconds, accuracies, fit_seconds)


def print_row(label: str, train_set, settings: TrainingConfig, seconds: list[float], accuracies: list[float],
              fit_seconds: list[float] | None = None) -> None:
    """A row of the table; ``fit_seconds``, the fit alone in each run (the learning, without the steps before and
    after it), where the run says it (a click on the page does not)."""
    times = f"{min(seconds):.1f}–{max(seconds):.1f}" if len(seconds) > 1 else ""
    scores = f"{min(accuracies):.2%}–{max(accuracies):.2%}" if len(accuracies) > 1 else f"{accuracies[0]:.2%}"
    fit = f"{statistics.median(fit_seconds):.1f}" if fit_seconds else "—"
    print(f"{label:34} {len(train_set):>7,} {settings.epochs:>6} {settings.batch_size:>6} "
          f"{'on' if settings.augment else 'off':>8} {seconds[0]:>7.1f} {statistics.median(seconds):>8.1f} "
          f"{times:>11} {fit:>7} {scores:>15}",
          flush=True)


def clicked_runs(dataset, clicks: int) -> None:
    """The embedded sample's quick run by clicking Train on the page, ``clicks`` times on one fresh server."""
    import re
    import tempfile

    from playwright.sync_api import expect, sync_playwright

    environment = {"DIGITCNN_MODELS_DIR": tempfile.mkdtemp(), "DIGITCNN_DATA_DIR": tempfile.mkdtemp()}
    seconds, accuracies = [], []
    with running_app(environment) as (url, _, _server), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train & evaluate").click()
        name = page.get_by_label("Model name", exact=True).input_value()
        _lowest_priority_for_the_browser()
        time.sleep(20)  # a user reads the page: the worker loads and warms up meanwhile
        for _ in range(clicks):
            _lowest_priority_for_the_browser()  # again: any thread or process started since
            started = time.perf_counter()
            page.get_by_role("button", name="Train", exact=True).click()
            expect(page.get_by_role("heading", name=f"Results of {name}")).to_be_visible(timeout=300_000)
            seconds.append(time.perf_counter() - started)
            shown = page.get_by_test_id("stMetric").filter(has_text="Test accuracy").inner_text()
            accuracies.append(float(re.search(r"([\d.]+)%", shown).group(1)) / 100)
            page.get_by_role("button", name="Dismiss these results").first.click()
            # Gone, not only the button back: a heading left from the run before would end the next timing at once.
            expect(page.get_by_role("heading", name=f"Results of {name}")).to_have_count(0, timeout=60_000)
            expect(page.get_by_role("button", name="Train", exact=True)).to_be_visible(timeout=60_000)
        browser.close()
    train_set = make_split(dataset, TrainingConfig()).train
    settings = fitted_to_run(TrainingConfig(**quick_settings("compact", len(train_set))), len(train_set))
    print_row("embedded quick, by clicking Train", train_set, settings, seconds, accuracies)


def _lowest_priority_for_the_browser() -> None:
    """nice 19 for every thread of Chromium's processes and of Playwright's driver (see the module's notes): on Linux
    a nice value is a thread's, and threads and processes started later take their starter's."""
    for process in Path("/proc").iterdir():
        try:
            command = (process / "cmdline").read_bytes()
            if process.name.isdigit() and (b"chrom" in command or b"playwright" in command):
                for thread in (process / "task").iterdir():
                    os.setpriority(os.PRIO_PROCESS, int(thread.name), 19)
        except OSError:  # gone, or not ours
            continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get(config.MNIST_DIR_VARIABLE),
                        help="the folder of MNIST's IDX files (default: $DIGITCNN_MNIST_DIR)")
    parser.add_argument("--recipe", action="store_true", help="also the full recipe on full MNIST")
    parser.add_argument("--repeat", type=int, default=1, choices=range(1, 21), metavar="N",
                        help="run each training N times (1 to 20; default 1): the median time, and the ranges")
    parser.add_argument("--page", type=int, default=0, choices=range(0, 21), metavar="N",
                        help="also click Train on the page N times (0 to 20; default 0: not)")
    arguments = parser.parse_args()

    print(f"compact, the train page's defaults; {machine()}")
    print(f"{'run':34} {'images':>7} {'epochs':>6} {'batch':>6} {'augment':>8} {'first s':>7} {'median s':>8} "
          f"{'range s':>11} {'fit s':>7} {'test acc':>15}")
    # As in the app's server, TensorFlow is in use before the first training: the result's model is unpickled
    # here, and a first import of TensorFlow would otherwise be timed with it.
    import keras  # noqa: F401

    trainer = ProcessTrainer(1)
    trainer.prestart(wait=120)  # as the app's, started before its first training
    embedded = data.load_embedded()
    timed_runs(trainer, embedded, "embedded sample, quick (default)", True, arguments.repeat)
    timed_runs(trainer, embedded, "embedded sample, full recipe", False, arguments.repeat)
    if arguments.data:
        mnist = data.load_dataset(arguments.data)
        timed_runs(trainer, mnist, "full MNIST, quick", True, arguments.repeat)
        if arguments.recipe:
            timed_runs(trainer, mnist, "full MNIST, full recipe", False, arguments.repeat)
    trainer.close()
    if arguments.page:
        clicked_runs(embedded, arguments.page)


if __name__ == "__main__":
    main()
