"""Exporting a saved model (digitcnn.storage.export and `python -m digitcnn export`): the files read outside DigitCNN
— in a Python that cannot import it — exactly as the app reads, for a model that reads plain (the tiny one) and one
that reads with three pens (the shipped one)."""

import io
import json
import zipfile

import numpy as np
import pytest

from digitcnn import cli, config
from digitcnn.errors import ModelNotFoundError, SettingsError
from digitcnn.storage import export, registry
from outside import run_outside, snippet_probabilities

SHIPPED = config.PROJECT_ROOT / "models"


def test_digitcnn_cannot_be_imported_where_the_exports_are_read(tmp_path):
    finished = run_outside("import digitcnn", tmp_path)
    assert finished.returncode != 0 and "No module named 'digitcnn'" in finished.stderr


@pytest.mark.parametrize("model", ["tiny", "default"])
def test_both_files_read_outside_digitcnn_as_the_app_reads(model, saved, small_dataset, tmp_path):
    models_dir = saved[1] if model == "tiny" else SHIPPED
    predictor, card = registry.load_predictor(model, models_dir)
    assert card.reading == ("plain" if model == "tiny" else "three-pens")
    archive = export.export_model(model, "zip", models_dir)
    assert archive.filename == f"{model}.zip"
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    with zipfile.ZipFile(io.BytesIO(archive.content)) as packed:
        assert sorted(packed.namelist()) == sorted([f"{model}.keras", f"{model}.tflite", f"{model}.json", "README.txt"])
        packed.extractall(folder)
    guide = (folder / "README.txt").read_text()
    keras_snippet, litert_snippet = export.snippets(model, card.reading)
    assert keras_snippet in guide and litert_snippet in guide
    assert json.loads((folder / f"{model}.json").read_text())["model_sha256"] == card.model_sha256

    # The digit the model is least sure of, of 100: where the ways of reading differ most (a sure one's differ by
    # less than the 1e-5 allowed, so a snippet that did not read as the app does could pass on it).
    images = small_dataset.images[:100].astype(np.float32) / 255
    image = images[np.argmin([predictor.probabilities(each).max() for each in images])]
    np.save(folder / "digit.npy", image)
    app = predictor.probabilities(image)
    for snippet in (keras_snippet, litert_snippet):
        assert np.abs(snippet_probabilities(snippet, folder) - app).max() < 1e-5


def test_the_keras_file_is_the_saved_one_with_its_card_beside_it(saved, tmp_path):
    _, models_dir = saved
    out = tmp_path / "out"
    out.mkdir()
    written = export.write_export("tiny", "keras", out / "mine.keras", models_dir)
    assert written == [out / "mine.keras", out / "mine.json"]
    assert (out / "mine.keras").read_bytes() == (models_dir / "tiny.keras").read_bytes()
    assert json.loads((out / "mine.json").read_text()) == json.loads((models_dir / "tiny.json").read_text())


def test_the_command_writes_each_format_and_says_how_to_read_it(saved, tmp_path, capsys):
    _, models_dir = saved
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    for format, written in (("keras", ["tiny.keras", "tiny.json"]), ("tflite", ["tiny.tflite"]), ("zip", ["tiny.zip"])):
        output = tmp_path / written[0]
        assert cli.main(["export", "tiny", "--format", format, "--models-dir", str(models_dir),
                         "--output", str(output)]) == 0
        shown = capsys.readouterr().out
        assert all(f"wrote {tmp_path / name}" in shown for name in written), shown
    assert (tmp_path / "tiny.keras").read_bytes() == (models_dir / "tiny.keras").read_bytes()


def test_an_unknown_model_or_format_is_refused_and_nothing_is_written(saved, tmp_path, capsys):
    _, models_dir = saved
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    with pytest.raises(ModelNotFoundError):
        export.export_model("nosuch", "keras", models_dir)
    with pytest.raises(SettingsError, match="format must be one of keras, tflite, zip"):
        export.export_model("tiny", "onnx", models_dir)
    assert cli.main(["export", "nosuch", "--models-dir", str(models_dir), "--output", str(tmp_path / "x.keras")]) == 1
    assert "no saved model named 'nosuch'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
