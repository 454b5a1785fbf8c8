"""How fast the Compare models page answers: two saved models (the shipped default and a copy of it) on
MNIST's 10,000 test images, the page run under Streamlit's AppTest as a user's reruns would run it: the first
run scores both models (loading the data and the models too), the next ones come from the cache.

    python -m benchmarks.compare_page [--data PATH/TO/mnist] [--runs 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from streamlit.testing.v1 import AppTest

from benchmarks.common import PROJECT_ROOT, machine
from digitcnn import config
from digitcnn.storage import registry


def _compare_page(data: str, page: str) -> None:
    import runpy  # AppTest runs this function's source alone: what it uses, it imports

    from ui import state

    if state.active_source() != data:
        state.set_active_source(data)
    runpy.run_path(page, run_name="__main__")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get(config.MNIST_DIR_VARIABLE),
                        help="the folder of MNIST's IDX files (default: $DIGITCNN_MNIST_DIR)")
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    if not arguments.data:
        parser.error("needs MNIST: --data PATH/TO/mnist or $DIGITCNN_MNIST_DIR")

    folder = tempfile.mkdtemp(prefix="digitcnn-compare-")
    model, card = registry.load_model(config.DEFAULT_MODEL_NAME)
    record = registry.load_training_record(config.DEFAULT_MODEL_NAME)  # a verdict needs it, as in the app
    registry.save_model(model, card, folder, trained_on=record)
    registry.save_model(model, dataclasses.replace(card, name=f"{card.name}-copy"), folder, trained_on=record)
    os.environ[config.MODELS_DIR_VARIABLE] = folder

    page_file = str(PROJECT_ROOT / "pages" / "compare_models.py")
    page = AppTest.from_function(_compare_page, args=(str(arguments.data), page_file), default_timeout=600)
    print(f"Compare models, 2 models on MNIST's 10,000 test images; {machine()}")
    for run in range(arguments.runs):
        started = time.perf_counter()
        page.run()
        if page.exception:
            raise SystemExit(f"the page failed: {page.exception}")
        label = "first (scores both)" if run == 0 else "again (cached)"
        print(f"run {run + 1}, {label:20} {time.perf_counter() - started:6.2f} s", flush=True)


if __name__ == "__main__":
    main()
