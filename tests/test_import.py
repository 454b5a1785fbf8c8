"""Importing a Keras model made elsewhere: networks in the shapes tutorials give them (Keras's ``mnist_convnet`` with
other layer names, logits and a flat input; a (28, 28) input; one that expects pixels 0–255), each imported through
the command line, then read, looked inside, compared and fine-tuned; files that cannot be imported refused with a
message that says why, and nothing written."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import zipfile

import numpy as np
import pytest

from digitcnn import comparison
from digitcnn.cli import main
from digitcnn.data import Dataset, nondigits
from digitcnn.data.seen import card_score_text
from digitcnn.errors import ModelFileError, SettingsError, TrainingCancelled
from digitcnn.reading import explain
from digitcnn.storage import export, importing, registry
from digitcnn.storage.card import ModelCard
from digitcnn.training.finetune import fine_tune
from digitcnn.training.finetune_config import FineTuneConfig
from keras_networks import NETWORKS, keras_layers
from outside import snippet_probabilities

TRAINED_ACCURACY = 0.85  # each network below, trained two epochs, scores 93–97% on the data's test images


@pytest.fixture(scope="module")
def imported(keras_files, tmp_path_factory):
    """Each file imported through the command line into one models folder; what each printed."""
    folder = tmp_path_factory.mktemp("models")
    printed = {}
    for name, path in keras_files.items():
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = main(["import", str(path), "--name", name, "--models-dir", str(folder)])
        assert status == 0, out.getvalue()
        printed[name] = out.getvalue()
    return folder, printed


EXPECTED = {"convnet": ([784], "0–1", "logits"), "square": ([28, 28], "0–1", "probabilities"),
            "raw-pixels": ([28, 28, 1], "0–255", "probabilities"), "neurons": ([784], "0–1", "probabilities")}


FEATURES = {"convnet": 5 * 5 * 16, "square": 12 * 12 * 8, "raw-pixels": 13 * 13 * 8, "neurons": 64}


@pytest.mark.parametrize("name", NETWORKS)
def test_an_import_finds_the_shape_pixels_and_outputs_and_scores_it_without_calling_it_a_test(imported, name):
    folder, printed = imported
    card = registry.load_model(name, folder)[1]
    shape, pixels, outputs = EXPECTED[name]
    assert (card.imported["input_shape"], card.imported["pixels"], card.imported["outputs"]) == (shape, pixels,
                                                                                                 outputs)
    other = next(range_ for range_ in card.imported["accuracy_by_pixels"] if range_ != pixels)
    if name != "neurons":  # whose accuracies are within a point of each other: its sureness told them apart
        assert card.imported["accuracy_by_pixels"][other] < card.imported["accuracy_by_pixels"][pixels]
    assert card.test_accuracy > TRAINED_ACCURACY and card.test_size == 1650  # the embedded sample's 33%
    assert card.test_images_seen is None and card.epochs is None and card.architecture == "imported"
    assert "not a test" in card_score_text(card) and "not a test" in printed[name]
    assert f"expects pixels {pixels}" in printed[name]
    # Its "not a digit" rule reads what its last Dense layer reads (a separate softmax folded into that layer).
    assert len(card.refusal_rule.likeness.weights) == FEATURES[name]
    assert card.refusal_rule.test_refused <= 0.01
    assert ModelCard.from_json(card.to_json()) == card


@pytest.mark.parametrize("name", NETWORKS)
def test_an_imported_model_reads_drawings_as_the_file_does(imported, keras_files, embedded, name):
    """The drawing page's reader (LiteRT) gives the probabilities the file's own network gives, softmax added."""
    keras, _ = keras_layers()
    from scipy.special import softmax

    folder, _ = imported
    predictor, card = registry.load_predictor(name, folder)
    original = keras.saving.load_model(keras_files[name])
    images = embedded.images[-20:]
    scale = 255.0 if card.imported["pixels"] == "0–255" else 1.0
    expected = np.asarray(original.predict(
        (images.astype("float32") / 255 * scale).reshape(-1, *card.imported["input_shape"]), verbose=0))
    if card.imported["outputs"] == "logits":
        expected = softmax(expected, axis=1)
    read = np.stack([predictor.probabilities(image) for image in images])
    np.testing.assert_allclose(read, expected, atol=1e-4)
    readings = [predictor.read(image) for image in images]
    assert sum(reading.digit == label for reading, label in zip(readings, embedded.labels[-20:])) >= 15
    others = nondigits.generate(200, seed=99).images  # drawn with a seed no fit drew from
    refused = np.mean([predictor.read(image).digit is None for image in others])
    # Its own "not a digit" rule refuses them, several times as often as the 1% of its test digits it refuses:
    # measured 13% (neurons alone) to 75%. A network that trained two epochs, on no non-digit, tells them apart less
    # well than the shipped one.
    assert refused > 0.05


@pytest.mark.parametrize("name, stages", [("convnet", ["edges", "halved", "strokes", "halved_again"]),
                                          ("square", ["looks", "max_pooling2d"]),
                                          ("raw-pixels", ["first_look", "max_pooling2d_1"]), ("neurons", [])])
def test_looking_inside_an_imported_model_shows_its_own_layers(imported, embedded, name, stages):
    folder, _ = imported
    model = registry.load_model(name, folder)[0]
    names = [stage for stage, _ in explain.activation_maps(model, embedded.images[0])]
    assert names[:1] == stages[:1] and len(names) == len(stages)  # a network of neurons alone has no stage
    assert "pixels_scaled" not in names and "pixels_shaped" not in names
    attribution = explain.attribution(model, embedded.images[0])
    assert attribution.shape == (28, 28) and np.abs(attribution).sum() > 0


def test_imported_models_are_compared_with_one_another(imported, embedded):
    folder, _ = imported
    cards = {name: registry.load_model(name, folder)[1] for name in NETWORKS}
    test_set, _ = comparison.comparison_test_set(embedded, cards["convnet"])
    scores = {name: comparison.score_model(registry.load_predictor(name, folder)[0], card, test_set)
              for name, card in cards.items()}
    assert scores["convnet"].evaluation.accuracy == pytest.approx(cards["convnet"].test_accuracy, abs=1e-3)
    assert all(each.seen_in_training is None for each in scores.values())
    # Their scores stand side by side; a verdict, which needs images neither trained on, is refused and says why.
    with pytest.raises(SettingsError, match="it is not known which images convnet trained on"):
        comparison.compare_pair(scores["convnet"], scores["square"])


@pytest.mark.parametrize("name", NETWORKS)
def test_an_imported_model_is_taught_a_writers_drawings_and_saved(imported, embedded, name):
    folder, _ = imported
    model, card = registry.load_model(name, folder)
    chosen = np.concatenate([np.flatnonzero(embedded.labels == digit)[:15] for digit in range(10)])
    drawings = Dataset(embedded.images[chosen], embedded.labels[chosen], "my drawings")
    settings = FineTuneConfig(epochs=1, replay=2, batch_size=32, augment=False, max_accuracy_drop=1.0, seed=3)
    result = fine_tune(model, card, drawings, embedded, settings, writer="ana")
    taught = ModelCard.from_fine_tune(f"{name}-ana", result)
    registry.save_model(result.model, taught, folder)
    loaded = registry.load_model(f"{name}-ana", folder)[1]
    assert loaded.architecture == "imported" and loaded.fine_tuned["base_model"] == name
    assert loaded.test_images_seen is None  # the base's training is not known: still no test
    learned = registry.load_model(f"{name}-ana", folder)[0]
    assert any(not np.allclose(after, before) for after, before in zip(learned.get_weights(), model.get_weights()))
    assert registry.load_predictor(f"{name}-ana", folder)[0].read(embedded.images[0]).probabilities.shape == (10,)


def test_an_imported_model_taken_away_reads_outside_digitcnn_as_here(imported, embedded, tmp_path):
    """Exported, an imported network is the one rebuilt here (28×28×1, pixels 0–1, probabilities): the app's snippets
    read a picture with it, in plain Keras and in LiteRT, as the app does."""
    folder, _ = imported
    predictor, card = registry.load_predictor("convnet", folder)
    for format in ("keras", "tflite"):
        export.write_export("convnet", format, tmp_path / export.export_filename("convnet", format), folder)
    image = embedded.images[-1].astype(np.float32) / 255
    np.save(tmp_path / "digit.npy", image)
    for snippet in export.snippets("convnet", card.reading):
        assert np.abs(snippet_probabilities(snippet, tmp_path) - predictor.probabilities(image)).max() < 1e-5


# --- Refused --------------------------------------------------------------------------------------------

def _refused(request: importing.ImportRequest, folder, embedded) -> str:
    folder.mkdir(exist_ok=True)
    with pytest.raises((ModelFileError, SettingsError)) as raised:
        importing.import_model(request, "refused", embedded, folder)
    assert [entry for entry in os.listdir(folder) if not entry.startswith(".")] == []  # nothing written
    return str(raised.value)


def _saved(model, path) -> importing.ImportRequest:
    model.save(path)
    return importing.ImportRequest(path.name, path.read_bytes())


def test_a_lambda_layer_is_refused_before_keras_reads_it(tmp_path, embedded):
    keras, layers = keras_layers()
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Lambda(lambda x: x * 2, name="doubled"),
                              layers.Flatten(), layers.Dense(10, activation="softmax")])
    message = _refused(_saved(model, tmp_path / "code.keras"), tmp_path / "models", embedded)
    assert "code.keras: has a Lambda layer (doubled)" in message and "safe mode" in message


def test_a_network_with_one_output_is_refused_naming_its_shape_and_the_shapes_it_may_have(tmp_path, embedded):
    keras, layers = keras_layers()
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(1, activation="sigmoid")])
    message = _refused(_saved(model, tmp_path / "one.keras"), tmp_path / "models", embedded)
    assert "reads (28, 28, 1) and gives (1,)" in message
    assert "(28, 28, 1), (28, 28), (784,)" in message and "(10,)" in message


def test_a_colour_picture_network_is_refused_naming_its_input(tmp_path, embedded):
    keras, layers = keras_layers()
    model = keras.Sequential([keras.Input((32, 32, 3)), layers.Flatten(), layers.Dense(10)])
    assert "reads (32, 32, 3) and gives (10,)" in _refused(_saved(model, tmp_path / "cifar.keras"),
                                                           tmp_path / "models", embedded)


def test_a_file_over_50_mb_is_refused_unread(tmp_path, embedded):
    request = importing.ImportRequest("huge.keras", b"\0" * (importing.MAX_IMPORT_BYTES + 1))
    assert "huge.keras: larger than 50 MB" in _refused(request, tmp_path / "models", embedded)


def test_a_file_that_is_not_a_keras_model_is_refused(tmp_path, embedded):
    assert "not a .keras file" in _refused(importing.ImportRequest("weights.h5", b"HDF5"), tmp_path / "models",
                                           embedded)
    assert "not a zip archive" in _refused(importing.ImportRequest("broken.keras", b"not a zip"), tmp_path / "models",
                                           embedded)


def test_a_layer_of_custom_code_is_refused(tmp_path, keras_files, embedded):
    """A file whose configuration names a class of its own (registered by its author's code) says so."""
    edited = tmp_path / "custom.keras"
    with zipfile.ZipFile(keras_files["raw-pixels"]) as original, zipfile.ZipFile(edited, "w") as copy:
        for item in original.infolist():
            content = original.read(item)
            if item.filename == "config.json":
                config = json.loads(content)
                config["config"]["layers"][-1].update(registered_name="Custom>Answer", module=None)
                content = json.dumps(config).encode()
            copy.writestr(item, content)
    message = _refused(importing.ImportRequest(edited.name, edited.read_bytes()), tmp_path / "models", embedded)
    assert "has a layer of its own (Dense" in message


def test_a_cancelled_import_stops_before_its_next_step_and_saves_nothing(keras_files, embedded, tmp_path):
    cancel, steps = threading.Event(), []

    def on_progress(progress):
        steps.append(progress.step)
        if progress.step == importing.FITTING_REFUSAL:
            cancel.set()  # as the page's Cancel does, while its rule is fitted

    request = importing.ImportRequest("square.keras", keras_files["square"].read_bytes())
    with pytest.raises(TrainingCancelled, match="nothing was saved"):
        importing.import_model(request, "cancelled", embedded, tmp_path, on_progress, cancel)
    assert steps == [importing.READING_FILE, importing.MEASURING_PIXELS, importing.FITTING_REFUSAL]
    assert not any(tmp_path.iterdir())


def test_a_name_in_use_is_refused_and_the_saved_model_kept(imported, keras_files, embedded):
    folder, _ = imported
    before = (folder / "square.keras").read_bytes()
    request = importing.ImportRequest("raw-pixels.keras", keras_files["raw-pixels"].read_bytes())
    with pytest.raises(SettingsError, match="'square' is saved already"):
        importing.import_model(request, "square", embedded, folder)
    assert (folder / "square.keras").read_bytes() == before


def test_an_edited_card_that_lies_about_the_import_is_refused(imported):
    folder, _ = imported
    card = registry.load_model("convnet", folder)[1]
    broken = dataclasses.replace(card, imported={**card.imported, "pixels": "0–9"})
    with pytest.raises(ModelFileError, match="imported"):
        ModelCard.from_json(broken.to_json())
    with pytest.raises(ModelFileError, match="an imported network's settings hold only"):
        ModelCard.from_json(dataclasses.replace(card, settings={**card.settings, "epochs": 3}).to_json())


def test_the_suggested_name_is_a_valid_model_name():
    assert importing.suggested_name("my model (2).keras") == "my-model-2"
    assert importing.suggested_name("ü.keras") == "imported"
    assert registry.validate_model_name(importing.suggested_name("x" * 100 + ".keras"))


def test_the_command_line_says_where_an_imported_model_comes_from_and_never_calls_its_score_a_test(imported, capsys):
    folder, _ = imported
    assert main(["evaluate", "--model", "convnet", "--models-dir", str(folder)]) == 0
    shown = capsys.readouterr().out
    assert "model: convnet (imported, imported from convnet.keras, trained elsewhere; reading: plain)" in shown
    assert "not known which images convnet trained on (imported, or saved before" in shown
    assert "accuracy (not known to be a test)" in shown and "test accuracy" not in shown
    assert main(["reread", "--model", "convnet", "--reading", "three-pens", "--models-dir", str(folder)]) == 1
    assert "convnet was imported from convnet.keras" in capsys.readouterr().err


def test_the_command_line_says_what_it_refused_and_writes_nothing(tmp_path, capsys):
    keras, layers = keras_layers()
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Lambda(lambda x: x + 1), layers.Flatten(),
                              layers.Dense(10)])
    model.save(tmp_path / "code.keras")
    status = main(["import", str(tmp_path / "code.keras"), "--name", "code", "--models-dir", str(tmp_path / "m")])
    assert status == 1 and "error: code.keras: has a Lambda layer" in capsys.readouterr().err
    assert not (tmp_path / "m" / "code.keras").exists()
    status = main(["import", str(tmp_path / "missing.keras"), "--name", "x", "--models-dir", str(tmp_path / "m")])
    assert status == 1 and "missing.keras" in capsys.readouterr().err

