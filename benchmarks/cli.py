"""How long the command line takes to answer: the wall time of whole `python -m digitcnn …` commands, each in a
fresh process as a shell starts it, several runs of each (median and slowest), against the targets of issue 34.

    python -m benchmarks.cli [--runs 5]

The pictures are ten MNIST digits of the embedded sample (0 to 9) saved as 84×84 PNGs; the model is the shipped
one, read through its kept LiteRT conversion (models/.litert/). One row, for comparison, reads with a copy of the
shipped model whose conversion is not kept (what the first `predict` of a newly trained model takes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import PROJECT_ROOT, machine

PREDICT_TARGET, QUICK_TARGET = 3.0, 2.0  # seconds: issue 34's targets
HELPS = [[], ["train"], ["evaluate"], ["reread"], ["predict"], ["models"], ["record"], ["export-csv"],
         ["download-mnist"], ["fine-tune"], ["drawings"], ["drawings", "add"], ["drawings", "list"],
         ["drawings", "export"], ["drawings", "import"]]
START_UP_LINES = ("absl::InitializeLog", "oneDNN custom operations", "XNNPACK", "cpu_feature_guard")


def pictures(folder: Path) -> list[str]:
    """Ten pictures of the digits 0 to 9, as a user would give them."""
    from PIL import Image

    from digitcnn import data

    dataset = data.load_embedded()
    paths = []
    for digit in range(10):
        path = folder / f"{digit}.png"
        Image.fromarray(dataset.images[list(dataset.labels).index(digit)]).resize((84, 84)).save(path)
        paths.append(str(path))
    return paths


def timed(arguments: list[str], status: int, prepare=None) -> tuple[float, bool]:
    """Seconds ``python -m digitcnn ARGUMENTS`` took, from its start to its exit, and whether it printed a start-up
    line; raises if it exits with another status than ``status``."""
    if prepare is not None:
        prepare()
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "digitcnn", *arguments], cwd=PROJECT_ROOT, capture_output=True,
                               text=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    seconds = time.perf_counter() - started
    if completed.returncode != status:
        raise RuntimeError(f"{arguments}: status {completed.returncode}\n{completed.stderr[-2000:]}")
    printed = completed.stdout + completed.stderr
    return seconds, any(line in printed for line in START_UP_LINES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default: 5)")
    arguments = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="digitcnn-cli-"))
    try:
        paths = pictures(folder)
        unconverted = folder / "models"

        def fresh_copy():  # the shipped model without its kept conversion, each run
            shutil.rmtree(unconverted, ignore_errors=True)
            unconverted.mkdir()
            for suffix in (".keras", ".json", ".seen"):
                shutil.copyfile(PROJECT_ROOT / "models" / f"default{suffix}", unconverted / f"default{suffix}")

        rows = [("predict, 1 picture", ["predict", paths[0]], 0, PREDICT_TARGET, None),
                ("predict, 10 pictures", ["predict", *paths], 0, PREDICT_TARGET, None),
                ("models", ["models"], 0, QUICK_TARGET, None),
                ("predict --model nosuch (unknown model)", ["predict", "--model", "nosuch", paths[0]], 1, QUICK_TARGET,
                 None)]
        rows += [(f"{' '.join(command) or '(no command)'} --help", [*command, "--help"], 0, QUICK_TARGET, None)
                 for command in HELPS]
        rows.append(("predict, 1 picture, conversion not kept (for comparison)",
                     ["predict", "--models-dir", str(unconverted), paths[0]], 0, None, fresh_copy))
        print(f"{machine()}; {arguments.runs} runs of each command, each a fresh `python -m digitcnn …` process")
        print(f"{'command':58} {'median s':>8} {'max s':>7} {'target':>7}  met")
        chatty = []
        for label, command, status, target, prepare in rows:
            runs = [timed(command, status, prepare) for _ in range(arguments.runs)]
            seconds = [run[0] for run in runs]
            if any(run[1] for run in runs):
                chatty.append(label)
            met = "—" if target is None else "yes" if max(seconds) <= target else "no"
            shown = "—" if target is None else f"≤ {target:g}"
            print(f"{label:58} {statistics.median(seconds):8.2f} {max(seconds):7.2f} {shown:>7}  {met}")
        print(f"TensorFlow's or LiteRT's start-up lines printed by: {', '.join(chatty) or 'none'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
