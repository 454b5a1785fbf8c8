"""The command line, run as users run it: ``python -m digitcnn …`` in a fresh process."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from digitcnn import cli, config, data

ROOT = config.PROJECT_ROOT


def run(*arguments, cwd=ROOT, **environment):
    """``python -m digitcnn ARGUMENTS`` in a fresh process, from ``cwd``, with extra environment variables."""
    return subprocess.run(
        [sys.executable, "-m", "digitcnn", *map(str, arguments)], cwd=cwd, capture_output=True, text=True,
        timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), **environment},
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
    assert "learns little" not in output  # 2 epochs of 26 steps: long enough for article


def test_train_warns_of_a_run_too_short_to_learn(small_dataset, tmp_path):
    csv = data.write_csv(small_dataset.subset(slice(0, 60)), tmp_path / "sixty.csv")
    completed = run("train", "--data", csv, "--arch", "article", "--epochs", "1", "--no-save")
    assert completed.returncode == 0, completed.stderr
    assert ("warning: A run of 3 training steps (1 epoch of 40 digits in batches of 16) learns little: article "
            "needs about 10 steps to learn much. Give it at least 4 epochs, or more images.") in completed.stdout


def test_evaluate_reproduces_the_test_accuracy_of_the_card(trained, capsys):
    _, csv, models = trained
    assert cli.main(["evaluate", "--model", "tiny", "--data", str(csv), "--models-dir", str(models)]) == 0
    output = capsys.readouterr().out
    card = json.loads((models / "tiny.json").read_text())
    assert f"accuracy: {card['test_accuracy']:.2%}" in output
    assert "198 test images" in output

    refused = card["refusal"]["test_refused"]
    assert card["refusal"]["score"] == "digit-likeness × top probability"
    assert (f"refused as not a digit: {refused:.2%} of the images (below {card['refusal']['threshold']:.3f} "
            f"digit-likeness × top probability); accuracy on the {1 - refused:.2%} answered: ") in output

    assert cli.main(["evaluate", "--model", "tiny", "--data", str(csv), "--models-dir", str(models), "--all"]) == 0
    assert "all 600 images" in capsys.readouterr().out


def test_reread_scores_a_saved_model_again_read_with_three_pens_and_saves_its_card(trained, tmp_path, capsys):
    import shutil

    from digitcnn import registry, training
    from digitcnn.inference import THREE_PENS, predict_probabilities

    _, csv, models = trained
    folder = tmp_path / "models"
    shutil.copytree(models, folder)
    assert cli.main(["reread", "--model", "tiny", "--reading", "three-pens", "--data", str(csv),
                     "--models-dir", str(folder), "--name", "tiny-pens"]) == 0
    output = capsys.readouterr().out
    model, card = registry.load_model("tiny-pens", folder)
    _, plain = registry.load_model("tiny", folder)
    assert plain.reading == "plain" and card.reading == THREE_PENS  # saved under the new name; the old one stays
    test = training.make_split(data.load_dataset(str(csv)), card.training_config).test
    read = predict_probabilities(model, test.images, reading=THREE_PENS)
    assert card.test_accuracy == (read.argmax(axis=1) == test.labels).mean()
    assert f"tiny, read three-pens: train accuracy {card.train_accuracy:.2%}, test accuracy " \
           f"{card.test_accuracy:.2%}, not a digit below {card.refusal_rule.threshold:.3f}" in output
    assert "saved: " in output and "tiny-pens.keras" in output
    assert card.refusal_rule.likeness == plain.refusal_rule.likeness  # the same network: the same likeness
    assert card.refusal_rule.test_refused <= 0.01
    assert card.temperature == plain.temperature and card.training_seconds == plain.training_seconds

    assert cli.main(["evaluate", "--model", "tiny-pens", "--data", str(csv), "--models-dir", str(folder)]) == 0
    output = capsys.readouterr().out
    assert "reading: three-pens" in output and f"accuracy: {card.test_accuracy:.2%}" in output

    assert cli.main(["reread", "--model", "tiny", "--reading", "three-pens", "--models-dir", str(folder)]) == 1
    error = capsys.readouterr().err
    assert f"tiny was trained on {plain.data_source}, not embedded sample" in error and "with --data" in error


def test_predict_says_not_a_digit_below_the_models_threshold(trained, small_dataset, tmp_path, capsys):
    import shutil

    _, _, models = trained
    strict = tmp_path / "models"
    shutil.copytree(models, strict)
    card = json.loads((strict / "tiny.json").read_text())
    card["refusal"]["threshold"] = 1.0  # a model that is never sure enough: every picture is refused
    (strict / "tiny.json").write_text(json.dumps(card))
    Image.fromarray(small_dataset.images[0]).resize((140, 140)).save(tmp_path / "digit.png")
    assert cli.main(["predict", "--models-dir", str(strict), "--model", "tiny", str(tmp_path / "digit.png")]) == 0
    assert re.search(r"digit\.png: not a digit \(closest: \d, (?:\d+\.\d|< 0\.1|> 99\.9)%\)",
                     capsys.readouterr().out)


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
    shown = r"\((?:> 99\.9|\d+\.\d|< 0\.1)%\)"  # never a rounded "100.0%" (see charts.probability_text)
    assert re.search(rf"light_on_dark\.png: 1 {shown}; next: ", captured.out)
    assert re.search(rf"dark_on_light\.jpg: 1 {shown}", captured.out)
    assert "blank.png: nothing is drawn" in captured.err


def test_models_lists_saved_models(trained, capsys):
    _, _, models = trained
    assert cli.main(["models", "--models-dir", str(models)]) == 0
    assert re.search(r"^tiny: article, test accuracy \d+\.\d\d% on 198 images of sample\.csv, 2 epochs, reading plain, ",
                     capsys.readouterr().out)


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


def test_reread_fit_refusal_gives_a_model_saved_before_rules_a_rule_fitted_as_training_fits_it(trained, tmp_path,
                                                                                                 capsys):
    """A model trained before the way rules are fitted changed (here, before there were rules at all) gets one
    fitted now, the network unchanged, refusing at most 1% of its test digits."""
    import shutil

    from digitcnn import registry, training
    from digitcnn.inference import predict_probabilities, predict_with_features

    _, csv, models = trained
    folder = tmp_path / "models"
    shutil.copytree(models, folder)
    card_file = folder / "tiny.json"
    card = json.loads(card_file.read_text())
    del card["refusal"]
    card_file.write_text(json.dumps(card))
    before_model, before = registry.load_model("tiny", folder)
    assert not before.refusal_rule.fitted

    assert cli.main(["reread", "--model", "tiny", "--reading", "plain", "--data", str(csv), "--models-dir",
                     str(folder), "--fit-refusal"]) == 0
    output = capsys.readouterr().out
    model, after = registry.load_model("tiny", folder)
    rule = after.refusal_rule
    assert rule.fitted and rule.likeness is not None and rule.test_refused <= 0.01
    assert f"not a digit below {rule.threshold:.3f}" in output
    test = training.make_split(data.load_dataset(str(csv)), after.training_config).test
    np.testing.assert_allclose(predict_probabilities(model, test.images), predict_probabilities(before_model,
                                                                                                test.images))
    features = predict_with_features(model, test.images[:1])[1]
    assert len(rule.likeness.weights) == features.shape[1]  # what it refuses: see test_refusal
    assert after.test_accuracy == before.test_accuracy and after.training_seconds == before.training_seconds


@pytest.mark.parametrize("command", ["train", "evaluate", "reread", "predict", "models", "export-csv"])
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


def _one_line_error(completed, *fragments):
    """The command failed with status 1 and one ``error: …`` line naming every fragment, no traceback."""
    assert completed.returncode == cli.EXIT_USER_ERROR, completed.stderr[-2000:]
    assert "Traceback" not in completed.stderr, completed.stderr[-2000:]
    last = completed.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and all(fragment in last for fragment in fragments), last


@pytest.mark.parametrize("make_target", [lambda tmp: tmp / "absent", lambda tmp: tmp / "a-file"],
                         ids=["a missing folder that cannot be made", "a file instead of a folder"])
def test_train_refuses_a_models_folder_it_cannot_write_before_it_trains(tmp_path, make_target):
    """It used to train for the whole run, then die with a traceback: the trained model was lost."""
    (tmp_path / "a-file").write_text("not a folder")
    target = make_target(tmp_path)
    if target.name == "absent":
        target = tmp_path / "a-file" / "models"  # under a file: cannot be made
    completed = run("train", "--arch", "article", "--epochs", "1", "--models-dir", target)
    _one_line_error(completed, "models folder")
    assert "epoch 1/1" not in completed.stdout  # refused before training


@pytest.mark.parametrize("target", ["missing-folder/out.csv", ".", "/proc/digitcnn-export.csv"],
                         ids=["into a missing folder", "onto a folder", "onto a read-only file system"])
def test_export_csv_to_a_place_it_cannot_write_is_a_one_line_error(tmp_path, target):
    completed = run("export-csv", "--out", target, "--count", "3", cwd=tmp_path)
    _one_line_error(completed)
    assert sorted(path.name for path in tmp_path.iterdir()) == []  # nothing half-written left behind


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_a_seed_out_of_range_is_a_one_line_error(seed, capsys):
    assert cli.main(["train", "--seed", seed, "--no-save", "--data", "embedded", "--test-set", "holdout"]) == 1
    assert "seed must be a whole number from 0 to 4294967295" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["train", "--no-save", "--epochs", "1"], ["evaluate"], ["predict", "x.png"]])
def test_every_model_command_refuses_a_bad_thread_count(command):
    completed = run(*command, DIGITCNN_THREADS="99999999999999999999")
    _one_line_error(completed, "DIGITCNN_THREADS='99999999999999999999'")
    completed = run(*command, "--threads", "0")
    _one_line_error(completed, "threads must be a whole number from 1 to 1024")


# -- keeping drawings, and fine-tuning on them


def _digit_pictures(small_dataset, folder, digits):
    """Pictures of the first embedded image of each of ``digits``, enlarged, in ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, digit in enumerate(digits):
        image = small_dataset.images[np.flatnonzero(small_dataset.labels == digit)[number]]
        paths.append(folder / f"{digit}-{number}.png")
        Image.fromarray(image).resize((112, 112), Image.Resampling.BILINEAR).save(paths[-1])
    return paths


def test_drawings_are_added_listed_exported_and_imported(small_dataset, tmp_path, capsys):
    database = tmp_path / "kept" / "drawings.sqlite"
    threes = _digit_pictures(small_dataset, tmp_path / "threes", [3, 3])
    assert cli.main(["drawings", "add", "--label", "3", "--db", str(database), *map(str, threes)]) == 0
    assert "kept 2 drawings of a 3 by me in drawings.sqlite (id 1, 2)" in capsys.readouterr().out
    assert cli.main(["drawings", "--db", str(database), "add", "--label", "Not-a-digit", "--writer", "ana",
                     str(threes[0])]) == 0  # --db before the sub-command, too
    assert "kept 1 drawing of not a digit by ana" in capsys.readouterr().out
    folder = tmp_path / "pictures"
    for digit in (1, 7):
        _digit_pictures(small_dataset, folder / str(digit), [digit])
    assert cli.main(["drawings", "import", str(folder), "--writer", "ana", "--db", str(database)]) == 0
    assert "imported 2 drawings by ana from pictures/ into drawings.sqlite" in capsys.readouterr().out

    completed = run("drawings", "list", DIGITCNN_DRAWINGS_DB=str(database))  # the database named by the variable
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "drawings.sqlite: 5 drawings by 2 writers"
    assert lines[1].split() == ["writer", *map(str, range(10)), "not", "a", "digit", "total"]
    assert lines[2].split() == ["ana", "0", "1", "0", "0", "0", "0", "0", "1", "0", "0", "1", "3"]
    assert lines[3].split() == ["me", "0", "0", "0", "2", "0", "0", "0", "0", "0", "0", "0", "2"]
    assert re.fullmatch(r"  #5 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 ana: 7", lines[-1])
    assert re.search(r"#3 \S+ ana: not a digit$", completed.stdout, re.M)

    out = tmp_path / "mine.csv"
    assert cli.main(["drawings", "export", "--db", str(database), "--out", str(out)]) == 0
    assert f"wrote 4 drawings of digits (My drawings) to {out}" in capsys.readouterr().out
    exported = data.load_csv(out)
    assert exported.labels.tolist() == [3, 3, 1, 7]
    from digitcnn import preprocess

    first = preprocess.photo_to_mnist(preprocess.read_image(threes[0]))
    np.testing.assert_array_equal(exported.images[0], np.rint(first * 255).astype(np.uint8))
    assert cli.main(["drawings", "export", "--db", str(database), "--out", str(out), "--writer", "me"]) == 0
    assert data.load_csv(out).labels.tolist() == [3, 3]


def test_drawings_mistakes_are_one_line_errors_and_a_foreign_file_is_left_as_it_is(small_dataset, tmp_path, capsys):
    picture = _digit_pictures(small_dataset, tmp_path, [5])[0]
    database = tmp_path / "drawings.sqlite"
    _one_line_error(run("drawings", "add", "--label", "12", "--db", database, picture),
                    "label '12' is not a digit 0–9 or none / not-a-digit")
    assert not database.exists()  # refused before the store was opened

    notes = tmp_path / "notes.txt"
    notes.write_text("my shopping list\n")
    _one_line_error(run("drawings", "add", "--label", "5", "--db", notes, picture),
                    "notes.txt: not an SQLite database")
    assert notes.read_text() == "my shopping list\n"

    assert cli.main(["drawings", "add", "--label", "5", "--db", str(database), str(picture), "missing.png"]) == 1
    assert capsys.readouterr().err.strip() == "error: missing.png: no such file; nothing kept"
    assert cli.main(["drawings", "list", "--db", str(database)]) == 0  # the good picture was not kept either
    assert capsys.readouterr().out == "drawings.sqlite: no drawings yet\n"
    assert cli.main(["drawings", "export", "--db", str(database), "--out", str(tmp_path / "x.csv")]) == 1
    assert "error: My drawings: no drawings yet" in capsys.readouterr().err


def test_fine_tune_needs_drawings_before_it_loads_anything(tmp_path, capsys):
    database = tmp_path / "drawings.sqlite"
    status = cli.main(["fine-tune", "--name", "mine", "--writer", "ana", "--db", str(database),
                       "--models-dir", str(tmp_path / "models")])
    assert status == cli.EXIT_USER_ERROR
    assert capsys.readouterr().err.startswith("error: My drawings (ana): no drawings yet")
    assert cli.main(["fine-tune", "--name", "../x", "--db", str(database)]) == cli.EXIT_USER_ERROR
    assert "model name '../x' is not allowed" in capsys.readouterr().err


def test_fine_tune_counts_the_drawings_before_it_loads_the_model_or_the_data(small_dataset, tmp_path, capsys):
    database = tmp_path / "drawings.sqlite"
    assert cli.main(["drawings", "add", "--label", "3", "--writer", "ana", "--db", str(database),
                     *map(str, _digit_pictures(small_dataset, tmp_path / "threes", [3, 3, 3]))]) == 0
    capsys.readouterr()
    status = cli.main(["fine-tune", "--name", "mine", "--writer", "ana", "--db", str(database), "--model", "nowhere",
                       "--data", str(tmp_path / "no-such-data"), "--models-dir", str(tmp_path / "models")])
    assert status == cli.EXIT_USER_ERROR
    assert capsys.readouterr().err.startswith("error: teaching needs at least 10 drawings")


def test_the_same_picture_added_again_is_kept_once_and_said_so(small_dataset, tmp_path, capsys):
    database = tmp_path / "drawings.sqlite"
    [picture] = _digit_pictures(small_dataset, tmp_path, [4])
    assert cli.main(["drawings", "add", "--label", "4", "--db", str(database), *[str(picture)] * 3]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "kept 1 drawing of a 4 by me in drawings.sqlite (id 1)",
        "2 of the pictures were kept already (the same picture of the same label by the same writer): a picture "
        "is kept once"]
    assert cli.main(["drawings", "add", "--label", "4", "--db", str(database), str(picture)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "kept 0 drawings of a 4 by me in drawings.sqlite"
    assert cli.main(["drawings", "list", "--db", str(database)]) == 0
    assert capsys.readouterr().out.startswith("drawings.sqlite: 1 drawing by 1 writer\n")


def test_drawings_list_refuses_an_empty_writer_before_printing_and_aligns_wide_names(small_dataset, tmp_path,
                                                                                        capsys):
    database = tmp_path / "drawings.sqlite"
    pictures = _digit_pictures(small_dataset, tmp_path, [1, 2])
    for writer, picture in zip(["数字を書く人", "ana"], pictures):
        assert cli.main(["drawings", "add", "--label", "1", "--writer", writer, "--db", str(database),
                         str(picture)]) == 0
    capsys.readouterr()
    assert cli.main(["drawings", "list", "--writer", "", "--db", str(database)]) == cli.EXIT_USER_ERROR
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.startswith("error: writer '' is not a name")

    assert cli.main(["drawings", "list", "--db", str(database)]) == 0
    header, ana, wide = capsys.readouterr().out.splitlines()[1:4]
    assert wide.startswith("数字を書く人 ")
    # Each row's counts end in the same terminal column as the header's: a wide character takes two
    width = cli._display_width
    assert width(header) == width(ana) == width(wide) and len(wide) == len(ana) - 6


def test_a_writers_name_of_ten_thousand_characters_is_not_echoed_whole(tmp_path):
    completed = run("drawings", "list", "--writer", "\t" + "x" * 10_000, "--db", tmp_path / "drawings.sqlite")
    assert completed.returncode == cli.EXIT_USER_ERROR
    assert len(completed.stderr) < 200 and "(10,001 characters)" in completed.stderr, completed.stderr


@pytest.mark.parametrize("command", [["fine-tune"], ["drawings"], ["drawings", "add"], ["drawings", "list"],
                                     ["drawings", "export"], ["drawings", "import"]])
def test_the_drawings_commands_and_fine_tune_have_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: python -m digitcnn " + " ".join(command) in capsys.readouterr().out
