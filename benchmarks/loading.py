"""What loading a CSV costs: CSVs in the tutorial's format of about 1, 10 and 100 MB (the embedded
sample's rows, repeated), one row followed by 100,000 blank lines, and 1 MB of nothing but blank
lines. Each is loaded in a fresh Python, from its path (`data.load_csv`, the command line) and as
bytes already in memory (`data.load_csv_bytes`, an upload in the app). Prints seconds and the
growth of peak memory (RSS) during the load, also as a multiple of the file's size.

    python -m benchmarks.loading [--folder PATH]

`--folder` keeps the generated files there (default: a temporary folder, removed afterwards).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from digitcnn import data

from benchmarks.common import PROJECT_ROOT, machine

MEGABYTE = 1_000_000

# Run in a fresh Python: pandas is warmed up on a one-row CSV first, then the peak RSS (VmHWM) is reset
# (Linux's clear_refs), so the growth measured is the load's own. For an upload, the bytes are in memory
# before the baseline, as Streamlit holds them.
LOAD_SCRIPT = """
import json, re, sys, time
from digitcnn import data
from digitcnn.errors import DataError
def peak_bytes():
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
path, how = sys.argv[1], sys.argv[2]
header = ",".join(["Result"] + [f"pixel{i}" for i in range(784)])
data.load_csv_bytes((header + "\\n" + ",".join(["0"] * 785) + "\\n").encode(), "warm-up.csv")
content = open(path, "rb").read() if how == "bytes" else None
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")
before = peak_bytes()
started = time.perf_counter()
try:
    rows = len(data.load_csv(path) if how == "path" else data.load_csv_bytes(content, "upload.csv"))
except DataError as error:
    rows = str(error)
seconds = time.perf_counter() - started
print(json.dumps([rows, seconds, peak_bytes() - before]))
"""


def tutorial_rows() -> list[bytes]:
    """The embedded sample as lines of a tutorial-format CSV: the header, then 5,000 rows."""
    with tempfile.TemporaryDirectory() as folder:
        return data.write_csv(data.load_embedded(), Path(folder) / "sample.csv").read_bytes().splitlines()


def write_files(folder: Path) -> list[Path]:
    header, *rows = tutorial_rows()
    files = []
    for megabytes in (1, 10, 100):
        path = folder / f"tutorial-{megabytes}mb.csv"
        with open(path, "wb") as out:
            out.write(header + b"\n")
            written, index = 0, 0
            while written < megabytes * MEGABYTE:
                line = rows[index % len(rows)] + b"\n"
                out.write(line)
                written, index = written + len(line), index + 1
        files.append(path)
    flood = folder / "one-row-then-100k-blank-lines.csv"
    flood.write_bytes(header + b"\n" + rows[0] + b"\n" + b"\n" * 100_000)
    blank = folder / "1mb-of-blank-lines.csv"
    blank.write_bytes(b"\n" * MEGABYTE)
    return files + [flood, blank]


def measure(path: Path, how: str) -> tuple[int | str, float, float]:
    """Rows loaded (or the error message), seconds, and bytes of peak-RSS growth."""
    result = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(path), how], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=600, check=True)
    rows, seconds, growth = json.loads(result.stdout.strip().splitlines()[-1])
    return rows, seconds, growth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="keep the generated CSVs here")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="digitcnn-loading-") as temporary:
        folder = arguments.folder or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        files = write_files(folder)
        print(f"CSV loading, each in a fresh Python; {machine()}")
        print(f"{'file':36} {'loaded from':12} {'bytes':>12} {'rows':>7} {'seconds':>8} {'peak RSS +MB':>13} "
              f"{'× file size':>12}")
        for path in files:
            size = path.stat().st_size
            for how in ("path", "bytes"):
                rows, seconds, growth = measure(path, how)
                shown = f"{rows:,}" if isinstance(rows, int) else "refused"
                print(f"{path.name:36} {how:12} {size:>12,} {shown:>7} {seconds:>8.2f} {growth / 1e6:>13.1f} "
                      f"{growth / size:>12.2f}", flush=True)
                if not isinstance(rows, int):
                    print(f"{'':36} ({rows})")


if __name__ == "__main__":
    main()
