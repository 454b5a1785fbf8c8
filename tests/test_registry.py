import json
import zipfile

import numpy as np
import pytest

from digitcnn import inference, registry
from digitcnn.errors import ModelFileError, SettingsError


@pytest.fixture
def saved(tiny_result, tmp_path):
    """The tiny model saved as 'tiny' in a fresh models folder."""
    result, _ = tiny_result
    card = registry.ModelCard.from_training("tiny", result)
    registry.save_model(result.model, card, tmp_path)
    return result, tmp_path


def test_saved_model_predicts_as_before_and_its_card_tells_its_story(saved, small_dataset):
    result, folder = saved
    model, card = registry.load_model("tiny", folder)

    before = inference.predict_probabilities(result.model, small_dataset.images[:20])
    after = inference.predict_probabilities(model, small_dataset.images[:20])
    np.testing.assert_allclose(after, before, atol=1e-6)

    assert card.architecture == "article" and card.parameter_count == 607_394
    assert card.data_source == "small sample"
    assert (card.train_size, card.test_size, card.split_method) == (402, 198, "holdout")
    assert (card.epochs, card.batch_size, card.seed) == (2, 32, 7)
    assert card.test_accuracy == result.test_evaluation.accuracy
    assert card.train_accuracy == result.train_evaluation.accuracy
    assert np.array(card.confusion_matrix).sum() == 198
    assert card.training_seconds > 0
    assert {"python", "tensorflow", "keras", "numpy", "digitcnn"} <= set(card.versions)
    assert card.created.startswith("20") and card.created.endswith("+00:00")
    assert len(card.model_sha256) == 64
    assert json.loads((folder / "tiny.json").read_text())["test_accuracy"] == card.test_accuracy
    assert card.temperature == result.temperature == 1.0  # the tutorial's loss is not smoothed: no calibration


def test_a_card_written_before_calibration_reads_as_uncalibrated(saved):
    _, folder = saved
    fields = json.loads((folder / "tiny.json").read_text())
    del fields["temperature"]
    assert registry.ModelCard.from_json(json.dumps(fields)).temperature == 1.0


def test_saving_leaves_no_temporary_files_and_no_optimizer_state(saved):
    _, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == ["tiny.json", "tiny.keras"]
    with zipfile.ZipFile(folder / "tiny.keras") as archive:
        assert archive.getinfo("model.weights.h5").file_size < 3_000_000  # 607k float32 weights, no Adam moments


def test_failed_save_keeps_the_previous_model(saved, monkeypatch):
    result, folder = saved
    before = (folder / "tiny.keras").read_bytes(), (folder / "tiny.json").read_text()

    def crash_midway(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"PK\x03\x04 half a model")
        raise OSError("disk full")

    monkeypatch.setattr(type(result.model), "save", crash_midway)
    card = registry.ModelCard.from_training("tiny", result)
    with pytest.raises(OSError, match="disk full"):
        registry.save_model(result.model, card, folder)

    assert ((folder / "tiny.keras").read_bytes(), (folder / "tiny.json").read_text()) == before
    assert sorted(p.name for p in folder.iterdir()) == ["tiny.json", "tiny.keras"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "tiny.keras").write_bytes((f / "tiny.keras").read_bytes()[:5000]), "does not match its model card"),
        (lambda f: (f / "tiny.json").unlink(), "no model card"),
        (lambda f: (f / "tiny.json").write_text("{not json"), "not valid JSON"),
        (lambda f: (f / "tiny.json").write_text('{"name": "tiny"}'), "missing field 'architecture'"),
        (lambda f: (f / "tiny.keras").unlink(), "no model file"),
    ],
    ids=["truncated model", "no card", "card not JSON", "card incomplete", "no model file"],
)
def test_damaged_models_give_clear_errors_and_are_listed_as_unusable(saved, damage, message):
    _, folder = saved
    damage(folder)
    with pytest.raises(ModelFileError, match=message):
        registry.load_model("tiny", folder)
    [entry] = registry.list_models(folder)
    if entry.card is None:  # listing reads only cards: a damaged model file shows when loading
        assert entry.problem


def test_foreign_or_truncated_keras_files_are_refused_even_without_a_checksum(saved):
    _, folder = saved
    card = json.loads((folder / "tiny.json").read_text())
    card["model_sha256"] = ""
    (folder / "tiny.json").write_text(json.dumps(card))
    original = (folder / "tiny.keras").read_bytes()

    (folder / "tiny.keras").write_bytes(original[: len(original) // 2])
    with pytest.raises(ModelFileError, match="not a readable Keras model"):
        registry.load_model("tiny", folder)
    (folder / "tiny.keras").write_text("this is a text file, not a model")
    with pytest.raises(ModelFileError, match="not a readable Keras model"):
        registry.load_model("tiny", folder)


def test_a_model_of_the_wrong_shape_is_refused(saved):
    import keras

    result, folder = saved
    wrong = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    registry.save_model(wrong, registry.ModelCard.from_training("tiny", result), folder)
    with pytest.raises(ModelFileError, match=r"takes \(32, 32, 3\).*expected 28×28×1"):
        registry.load_model("tiny", folder)


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "..", ".hidden", "x" * 65, "naïve", "a b"])
def test_model_names_cannot_escape_the_models_folder(name, tmp_path):
    with pytest.raises(SettingsError, match="not allowed"):
        registry.model_paths(name, tmp_path)


def test_listing_shows_good_and_broken_models_sorted(saved):
    _, folder = saved
    (folder / "stray.json").write_text("[]")
    (folder / "lonely.keras").write_bytes(b"nothing")
    entries = registry.list_models(folder)
    assert [e.name for e in entries] == ["lonely", "stray", "tiny"]
    lonely, stray, tiny = entries
    assert tiny.card is not None and tiny.problem is None
    assert lonely.card is None and "no model card" in lonely.problem
    assert stray.card is None and "expected a JSON object" in stray.problem


def test_listing_an_absent_folder_is_empty(tmp_path):
    assert registry.list_models(tmp_path / "none") == []
