"""Bringing your own Keras model in the app, through streamlit_app.py under AppTest: a file uploaded on Train &
evaluate is imported (in a worker, as a job), says what it found, reads drawings, and stands in the comparison;
a file that cannot be imported says why and leaves nothing behind."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from digitcnn import config
from digitcnn.storage import registry
from ui.markup import literal
from keras_networks import keras_layers

APP = str(config.PROJECT_ROOT / "streamlit_app.py")
IMPORT_SECONDS = 180  # a worker's start (TensorFlow's import) and the import on a busy 2-core machine


@pytest.fixture
def train_page(tiny_result, tmp_path, monkeypatch):
    """Train & evaluate in a fresh session, over a models folder of its own holding the tiny model as 'default'."""
    result, _ = tiny_result
    folder = tmp_path / "models"
    registry.save_model(result.model, registry.ModelCard.from_training("default", result), folder,
                        trained_on=result.trained_on)
    monkeypatch.setenv(config.MODELS_DIR_VARIABLE, str(folder))
    monkeypatch.setenv(config.DATA_DIR_VARIABLE, str(tmp_path))
    test = AppTest.from_file(APP, default_timeout=120)
    test.switch_page("pages/train_evaluate.py")
    return test.run(), folder


def _import(test, path, name: str) -> None:
    """Upload the file at ``path``, name it ``name`` and press Import; rerun the page until the import ends."""
    test.get("file_uploader")[0].set_value((path.name, path.read_bytes(), "application/octet-stream")).run()
    assert not test.exception, test.exception
    [field] = [field for field in test.text_input if field.label == "Name it"]
    assert field.value == path.stem  # named after its file until the user says otherwise
    field.set_value(name)
    [button] = [button for button in test.button if button.label == "Import"]
    button.click().run()
    assert not test.exception, test.exception
    deadline = time.monotonic() + IMPORT_SECONDS
    while any(heading.value.startswith("Importing") for heading in test.subheader):
        assert time.monotonic() < deadline, "the import did not end in time"
        time.sleep(0.5)
        test.run()
        assert not test.exception, test.exception


def test_an_uploaded_model_is_imported_reads_drawings_and_is_compared(train_page, keras_files):
    test, folder = train_page
    # Two files between them show each finding the page can say (a square input is the library tests' concern).
    for name, pixels, outputs in (("convnet", "0–1", "logits"), ("raw-pixels", "0–255", "probabilities")):
        _import(test, keras_files[name], f"my-{name}")
        assert [header.value for header in test.header if header.value.startswith("Imported")] == [f"Imported my-{name}"]
        [offered] = [box for box in test.selectbox if box.label == "Model to download"]
        assert offered.value == f"my-{name}"  # it reads drawings now: offered first, though the list was shown before
        found = " ".join(markdown.value for markdown in test.markdown)
        assert f"It expects pixels {pixels}" in found and ("ten logits" in found) == (outputs == "logits")
        assert [metric.label for metric in test.metric][0] == "Accuracy (not a test)"
        assert any("images (not a test: what it trained on is not known) are read wrong" in caption.value
                   for caption in test.caption)  # its mistakes, below the confusion matrix
        assert test.get("image") and " → " in test.get("image")[-1].proto.imgs[0].caption  # the surest of them
        assert registry.load_model(f"my-{name}", folder)[1].imported["file"] == f"{name}.keras"
        [dismiss] = [button for button in test.button if button.label == "Dismiss these results"]
        dismiss.click().run()
        assert not test.exception, test.exception

    saved = test.dataframe[0].value.set_index("name")
    assert saved.loc["my-convnet", "architecture"] == "Imported Keras model"
    assert saved.loc["my-convnet", "train / test images"] == "not known / 1,650"
    assert saved.loc["my-convnet", "accuracy"].endswith("% (not known whether it trained on them: not a test)")

    test.switch_page("pages/draw_digit.py").run()  # the last import reads drawings now
    assert not test.exception, test.exception
    assert any(caption.value.startswith("Read by **my-raw-pixels** (Imported Keras model") and "not a test" in
               caption.value for caption in test.caption)
    paper = Image.new("L", (120, 160), 235)
    ImageDraw.Draw(paper).line([(60, 20), (62, 140)], fill=20, width=9)
    test.get("file_uploader")[0].set_value(("one.png", _png(paper), "image/png")).run()
    assert not test.exception, test.exception

    test.switch_page("pages/compare_models.py").run()
    assert not test.exception, test.exception
    test.multiselect[0].set_value(["my-convnet", "my-raw-pixels"]).run()
    assert not test.exception, test.exception
    table = test.dataframe[0].value
    assert "accuracy (not a test)" in table.index and table.loc["trained on", "my-convnet"] == "not known (imported)"
    assert any("it is not known which images my-convnet trained on" in info.value for info in test.info)


def test_a_model_with_a_lambda_layer_is_refused_with_why_and_nothing_saved(train_page, tmp_path):
    test, folder = train_page
    keras, layers = keras_layers()
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Lambda(lambda x: x * 2), layers.Flatten(),
                              layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "with-code.keras")
    before = sorted(os.listdir(folder))
    _import(test, tmp_path / "with-code.keras", "with-code")
    assert any(literal("with-code.keras: has a Lambda layer") in error.value for error in test.error)
    assert sorted(os.listdir(folder)) == before


def test_a_name_in_use_is_refused_before_the_import_starts(train_page, keras_files):
    test, folder = train_page
    test.get("file_uploader")[0].set_value(("convnet.keras", keras_files["convnet"].read_bytes(),
                                            "application/octet-stream")).run()
    [field] = [field for field in test.text_input if field.label == "Name it"]
    field.set_value("default")
    [button] = [button for button in test.button if button.label == "Import"]
    button.click().run()
    assert not test.exception, test.exception
    assert [error.value for error in test.error] == [
        "'default' is the shipped model, which is not replaced from here; save under another name"]
    assert not any(heading.value.startswith("Importing") for heading in test.subheader)  # nothing started


def _reading_script(image_data, name):
    from ui import reading, state

    state.set_active_model(name)
    predictor, card = state.active_predictor()
    reading.read_drawing(predictor, card, image_data)


def test_looking_inside_an_imported_network_without_convolutions_says_so_and_shows_its_logits(train_page, keras_files):
    test, folder = train_page
    _import(test, keras_files["neurons"], "neurons")
    assert any("It expects pixels 0–1" in markdown.value for markdown in test.markdown)  # told apart by its sureness
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(canvas).line([(140, 50), (145, 230)], fill=(255, 255, 255, 255), width=20)
    drawing = AppTest.from_function(_reading_script, args=(np.asarray(canvas), "neurons"), default_timeout=60).run()
    assert not drawing.exception, drawing.exception
    drawing.toggle(key="drawing_inside").set_value(True).run()
    assert not drawing.exception, drawing.exception
    drawing.session_state["drawing_view"] = "Inside the network"
    drawing.run()
    assert not drawing.exception, drawing.exception
    assert any("no convolution or pooling layers" in info.value for info in drawing.info)
    drawing.session_state["drawing_logits_box"] = True
    drawing.run()
    assert not drawing.exception, drawing.exception
    assert {"drawing_logits", "drawing_softmax"} <= {chart.proto.id.split("-", 2)[-1]
                                                     for chart in drawing.get("plotly_chart")}


def _png(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
