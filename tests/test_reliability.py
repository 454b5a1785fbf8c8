"""What users bring and what can go wrong: malformed files, broken models, interrupted saves,
many users at once. Each either works or fails with the documented error, and loses nothing."""

import io
import json
import threading
import tomllib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from digitcnn import config, data
from digitcnn.data import preprocess
from digitcnn.storage import registry
from digitcnn.errors import DataError, EmptyDrawingError, ImageError, ModelFileError, SettingsError

HEADER = ",".join(["Result"] + [f"pixel{i}" for i in range(784)])


# --- Bad data ------------------------------------------------------------------------------------

def test_a_csv_over_the_size_limit_is_refused_before_it_is_read(make_csv, csv_lines, monkeypatch):
    path = make_csv(csv_lines)
    monkeypatch.setenv(config.MAX_CSV_MB_VARIABLE, "0.01")
    with pytest.raises(DataError, match=r"digits.csv: .* over the 0 MB limit .*DIGITCNN_MAX_CSV_MB"):
        data.load_csv(path)


@pytest.mark.parametrize("setting", ["lots", "0", "-5", "nan", "inf"])
def test_a_size_limit_that_is_not_a_positive_number_is_named(make_csv, csv_lines, monkeypatch, setting):
    monkeypatch.setenv(config.MAX_CSV_MB_VARIABLE, setting)
    with pytest.raises(SettingsError, match=rf"DIGITCNN_MAX_CSV_MB='{setting}' is not a size in megabytes"):
        data.load_csv(make_csv(csv_lines))


_cell = st.one_of(
    st.integers(-300, 300).map(str),
    st.sampled_from(["", "nan", "NaN", "x", "3.5", "1e3", " 7 ", "\"12\"", "Result", "inf", "0x1F", "١٢"]),
)


@st.composite
def _malformed_csv(draw):
    rows = draw(st.integers(1, 4))
    lines = [HEADER] if draw(st.booleans()) else []
    for _ in range(rows):
        width = draw(st.sampled_from([785, 785, 785, 784, 786, 1, 0]))
        cells = [str(draw(st.integers(0, 9)))] + ["0"] * max(0, width - 1)
        for _ in range(draw(st.integers(0, 3))):
            if cells:
                cells[draw(st.integers(0, len(cells) - 1))] = draw(_cell)
        lines.append(",".join(cells[:width]))
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n", "\r\n"]))
    if draw(st.integers(0, 9)) == 0:
        cut = draw(st.integers(0, len(text)))
        text = text[:cut]
    return text.encode("utf-8") if draw(st.integers(0, 9)) else text.encode("utf-8") + b"\x00\xff"


@given(content=_malformed_csv())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_csvs_either_load_or_raise_the_documented_error(content):
    try:
        dataset = data.load_csv_bytes(content, "generated.csv")
    except DataError as error:
        assert str(error).startswith("generated.csv")
    else:
        assert dataset.images.shape[1:] == (28, 28) and dataset.images.dtype == np.uint8
        assert ((dataset.labels >= 0) & (dataset.labels <= 9)).all()


# --- Bad images -----------------------------------------------------------------------------------

def _encoded(image: Image.Image, format: str, **options) -> io.BytesIO:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    buffer.seek(0)
    buffer.name = f"upload.{format.lower()}"
    return buffer


def _noisy_picture():
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8))


def _digit_picture(mode="L", size=(120, 160)):
    picture = Image.new("L", size, 235)
    picture.paste(20, (55, 20, 65, 140))  # a dark "1" on light paper
    return picture.convert(mode)


@pytest.mark.parametrize(
    "make, outcome",
    [
        (lambda: io.BytesIO(b"certainly not a picture"), ImageError),
        (lambda: io.BytesIO(_encoded(_noisy_picture(), "PNG").getvalue()[:5000]), ImageError),  # truncated
        (lambda: _encoded(Image.new("L", (1, 1), 0), "PNG"), EmptyDrawingError),
        (lambda: _encoded(_digit_picture("CMYK"), "JPEG"), None),
        (lambda: _encoded(_digit_picture("RGBA"), "PNG"), None),
        (lambda: _encoded(_digit_picture(), "GIF", save_all=True,
                          append_images=[Image.new("L", (120, 160), 235)]), None),  # animated: its first frame
    ],
    ids=["not an image", "truncated", "1x1", "CMYK", "alpha", "animated"],
)
def test_bad_pictures_give_a_clear_message_or_a_digit(make, outcome):
    def read():
        return preprocess.photo_to_mnist(preprocess.read_image(make()))

    if outcome is None:
        digit = read()
        assert digit.shape == (28, 28) and digit.max() == pytest.approx(1.0)
    else:
        with pytest.raises(outcome):
            read()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL warns of the size this test feeds it
def test_a_gigantic_picture_is_refused_before_it_is_decoded():
    huge = _encoded(Image.new("L", (10_000, 10_000), 255), "PNG")  # 100 megapixels, a small file
    with pytest.raises(ImageError, match="10000×10000 pixels is more than"):
        preprocess.read_image(huge)


# --- Model files ----------------------------------------------------------------------------------

@pytest.fixture
def models_folder(tiny_result, tmp_path):
    result, _ = tiny_result
    registry.save_model(result.model, registry.ModelCard.from_training("good", result), tmp_path)
    return tmp_path


def test_broken_models_are_listed_with_the_reason_and_the_good_ones_still_work(models_folder, tiny_result):
    result, _ = tiny_result
    good_card = (models_folder / "good.json").read_text()
    (models_folder / "truncated.keras").write_bytes((models_folder / "good.keras").read_bytes()[:5000])
    (models_folder / "truncated.json").write_text(good_card.replace('"good"', '"truncated"'))
    (models_folder / "foreign.keras").write_bytes(b"PK\x03\x04 this is no Keras archive")
    (models_folder / "foreign.json").write_text(good_card.replace('"good"', '"foreign"')
                                                .replace(json.loads(good_card)["model_sha256"], ""))
    (models_folder / "no-card.keras").write_bytes((models_folder / "good.keras").read_bytes())
    (models_folder / "bad-json.keras").write_bytes((models_folder / "good.keras").read_bytes())
    (models_folder / "bad-json.json").write_text("{ not json")

    listing = {entry.name: entry for entry in registry.list_models(models_folder)}
    assert listing["good"].card is not None and listing["good"].problem is None
    assert "does not match its model card" in listing["truncated"].problem
    assert "no-card.json" in listing["no-card"].problem
    assert "bad-json.json" in listing["bad-json"].problem
    with pytest.raises(ModelFileError, match="foreign.keras: not a readable Keras model"):
        registry.load_model("foreign", models_folder)
    model, card = registry.load_model("good", models_folder)
    assert card.name == "good"


def test_a_model_of_the_wrong_shape_is_refused(models_folder):
    import keras

    other = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ModelFileError, match=r"takes \(32, 32, 3\)"):
        registry.check_model_shape(other, "other.keras")


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "", "x" * 65, "name.keras", "/etc/passwd"])
def test_model_names_cannot_leave_the_models_folder(name, models_folder):
    with pytest.raises(SettingsError, match="not allowed"):
        registry.model_paths(name, models_folder)


# --- Interrupted training and saving --------------------------------------------------------------

def test_a_failed_save_leaves_the_previous_model_whole(models_folder, tiny_result, monkeypatch):
    result, _ = tiny_result
    before = {path.name: path.read_bytes() for path in models_folder.iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    import keras

    monkeypatch.setattr(keras.Model, "save", crash)
    with pytest.raises((OSError, ModelFileError)):
        registry.save_model(result.model, registry.ModelCard.from_training("good", result), models_folder)
    after = {path.name: path.read_bytes() for path in models_folder.iterdir()}
    assert after == before  # nothing half-written, no temporary file left behind
    registry.load_model("good", models_folder)


def test_a_training_killed_mid_run_saves_nothing(tmp_path, small_dataset):
    """The command line, killed while it trains, leaves the models folder as it was."""
    import os
    import signal
    import subprocess
    import sys
    import time

    environment = {**os.environ, config.MODELS_DIR_VARIABLE: str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-m", "digitcnn", "train", "--arch", "article", "--epochs", "50",
                                "--name", "killed"], cwd=config.PROJECT_ROOT, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = ""
        deadline = time.monotonic() + 120
        while "epoch 1/50" not in output and time.monotonic() < deadline:
            output += process.stdout.read(200)
        assert "epoch 1/50" in output, output[-2000:]
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    assert list(tmp_path.iterdir()) == []


# --- Many users at once ---------------------------------------------------------------------------

def test_two_trainings_at_once_both_save_correct_files(small_dataset, tmp_path):
    from digitcnn.jobs.board import FINISHED, JobBoard
    from digitcnn.training import TrainingConfig

    board = JobBoard()
    jobs = [board.start(name, name, small_dataset, TrainingConfig(architecture="article", epochs=1, seed=seed))
            for name, seed in (("alice", 1), ("bob", 2))]
    assert all(job.wait(180) for job in jobs)
    saving = [threading.Thread(target=registry.save_model, args=(job.snapshot().result.model,
              registry.ModelCard.from_training(job.name, job.snapshot().result), tmp_path)) for job in jobs]
    for thread in saving:
        thread.start()
    for thread in saving:
        thread.join()
    for job in jobs:
        assert job.snapshot().status == FINISHED
        model, card = registry.load_model(job.name, tmp_path)
        expected = job.snapshot().result.test_evaluation.probabilities[:5]
        images = job.snapshot().result.split.test.images[:5]
        from digitcnn.reading.inference import predict_probabilities

        np.testing.assert_allclose(predict_probabilities(model, images), expected, atol=1e-5)
        assert card.test_accuracy == job.snapshot().result.test_evaluation.accuracy


# --- Server settings ------------------------------------------------------------------------------

def test_server_settings_limit_uploads_keep_xsrf_on_and_send_no_statistics():
    settings_file = tomllib.loads((config.PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert 110 <= settings_file["server"]["maxUploadSize"] <= config.DEFAULT_MAX_CSV_MB
    assert settings_file["server"]["enableXsrfProtection"] is True
    assert settings_file["browser"]["gatherUsageStats"] is False
