"""The benchmark scripts stay runnable: each is a module with a ``main`` whose command line answers ``--help``.
(They run for minutes, so the suite does not run them; a ``main`` lost in an edit once went unseen until a
benchmark run.)"""

import json
import os
import subprocess
import sys

from digitcnn import config

_EACH_SCRIPTS_HELP = """
import contextlib, io, json, pkgutil, runpy, sys
import benchmarks

answers = {}
for script in sorted(module.name for module in pkgutil.iter_modules(benchmarks.__path__)):
    if script == "common":
        continue
    sys.argv = [script, "--help"]
    shown = io.StringIO()
    try:
        with contextlib.redirect_stdout(shown):
            runpy.run_module(f"benchmarks.{script}", run_name="__main__")
        answers[script] = ["no exit", shown.getvalue()]
    except SystemExit as exit:
        answers[script] = [exit.code, shown.getvalue()]
print(json.dumps(answers))
"""


def test_every_benchmark_script_answers_help():
    finished = subprocess.run([sys.executable, "-c", _EACH_SCRIPTS_HELP], capture_output=True, text=True,
                              cwd=config.PROJECT_ROOT, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert finished.returncode == 0, finished.stderr[-3000:]
    answers = json.loads(finished.stdout.strip().splitlines()[-1])
    assert {"first_model", "latency", "not_a_digit", "drawn_digits", "class_at_once"} <= set(answers)
    for script, (status, shown) in answers.items():
        assert status == 0 and f"usage: {script}" in shown, (script, status, shown[-500:])
