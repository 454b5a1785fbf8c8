"""The command line, run as users run it: ``python -m digitcnn …`` in a fresh process."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from digitcnn import cli, config, data

ROOT = config.PROJECT_ROOT


def run(*arguments, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "digitcnn", *map(str, arguments)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def trained(small_dataset, tmp_path_factory):
    """A model trained by `python -m digitcnn train` on a CSV of the small sample."""
    folder = tmp_path_factory.mktemp("cli")
    csv = data.write_csv(small_dataset, folder / "sample.csv")
    models = folder / "models"
    completed = run("train", "--data", csv, "--arch", "article", "--epochs", "2", "--name", "tiny",
                    "--models-dir", models)
    return completed, csv, models


def test_train_prints_progress_and_a_summary_and_saves_the_model(trained):
    completed, _, models = trained
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout
    assert "epoch 1/2" in output and "epoch 2/2" in output
    assert "402 training images, 198 test images (held out at random)" in output
    accuracy = float(re.search(r"^test accuracy: (\d+\.\d\d)%$", output, re.M).group(1))
    card = json.loads((models / "tiny.json").read_text())
    assert accuracy == pytest.approx(100 * card["test_accuracy"], abs=0.005)
    assert "classification report" in output and "confusion matrix" in output
    assert (models / "tiny.keras").is_file()
    assert "weight averaging off, label smoothing off" in output  # the tutorial's recipe
    assert "smoothed" not in output


def test_evaluate_reproduces_the_test_accuracy_of_the_card(trained, capsys):
    _, csv, models = trained
    assert cli.main(["evaluate", "--model", "tiny", "--data", str(csv), "--models-dir", str(models)]) == 0
    output = capsys.readouterr().out
    card = json.loads((models / "tiny.json").read_text())
    assert f"accuracy: {card['test_accuracy']:.2%}" in output
    assert "198 test images" in output

    assert cli.main(["evaluate", "--model", "tiny", "--data", str(csv), "--models-dir", str(models), "--all"]) == 0
    assert "all 600 images" in capsys.readouterr().out


def test_predict_reads_digits_in_pictures_of_any_size_and_polarity(trained, small_dataset, tmp_path, capsys):
    _, _, models = trained
    index = int(np.flatnonzero(small_dataset.labels == 1)[0])  # a 1: the easiest digit for a tiny model
    image = Image.fromarray(small_dataset.images[index])
    image.resize((300, 300), Image.Resampling.BILINEAR).save(tmp_path / "light_on_dark.png")
    Image.fromarray(255 - np.asarray(image.resize((90, 120)))).convert("RGB").save(tmp_path / "dark_on_light.jpg")
    Image.new("L", (64, 64), 255).save(tmp_path / "blank.png")

    status = cli.main(["predict", "--models-dir", str(models), "--model", "tiny",
                       str(tmp_path / "light_on_dark.png"), str(tmp_path / "dark_on_light.jpg"),
                       str(tmp_path / "blank.png")])

    captured = capsys.readouterr()
    assert status == cli.EXIT_USER_ERROR  # one picture held no digit
    assert re.search(r"light_on_dark\.png: 1 \(\d+\.\d%\); next: ", captured.out)
    assert re.search(r"dark_on_light\.jpg: 1 \(\d+\.\d%\)", captured.out)
    assert "blank.png: nothing is drawn" in captured.err


def test_models_lists_saved_models(trained, capsys):
    _, _, models = trained
    assert cli.main(["models", "--models-dir", str(models)]) == 0
    assert re.search(r"^tiny: article, test accuracy \d+\.\d\d% on 198 images of sample\.csv", capsys.readouterr().out)


def test_malformed_csv_exits_non_zero_with_one_line_and_no_traceback(tmp_path, small_dataset):
    csv = data.write_csv(small_dataset.subset(slice(0, 30)), tmp_path / "broken.csv")
    lines = csv.read_text().splitlines()
    lines[17] = lines[17].replace(",0,", ",300,", 1)
    csv.write_text("\n".join(lines) + "\n")

    completed = run("train", "--data", csv, "--epochs", "1", "--no-save")

    assert completed.returncode == cli.EXIT_USER_ERROR
    assert "Traceback" not in completed.stderr
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert errors and re.fullmatch(
        r"error: broken\.csv, line 18, column \d+ \('pixel\d+'\): pixel value 300 is not a whole number 0–255",
        errors[0],
    )


def test_export_csv_writes_the_tutorials_format(tmp_path, capsys):
    out = tmp_path / "part.csv"
    assert cli.main(["export-csv", "--out", str(out), "--first", "1", "--count", "25"]) == 0
    assert "wrote 25 rows" in capsys.readouterr().out
    header = out.read_text().splitlines()[0].split(",")
    assert header[0] == "Result" and len(header) == 785
    exported, embedded = data.load_csv(out), data.load_embedded()
    np.testing.assert_array_equal(exported.images, embedded.images[1:26])
    assert cli.main(["export-csv", "--out", str(out), "--first", "4999", "--count", "5"]) == cli.EXIT_USER_ERROR


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "models", "export-csv"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: python -m digitcnn " + command in capsys.readouterr().out


def test_bad_settings_and_missing_models_are_one_line_errors(tmp_path, capsys):
    assert cli.main(["train", "--epochs", "0", "--no-save"]) == cli.EXIT_USER_ERROR
    assert "epochs must be" in capsys.readouterr().err
    assert cli.main(["train", "--name", "../x", "--no-save"]) == cli.EXIT_USER_ERROR
    assert "not allowed" in capsys.readouterr().err
    assert cli.main(["evaluate", "--models-dir", str(tmp_path), "--model", "absent"]) == cli.EXIT_USER_ERROR
    assert "no model card" in capsys.readouterr().err
