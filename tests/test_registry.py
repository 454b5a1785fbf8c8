import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digitcnn import config
from digitcnn.reading import inference
from digitcnn.storage import registry
from digitcnn.errors import ModelFileError, SettingsError


def test_saved_model_predicts_as_before_and_its_card_tells_its_story(saved, small_dataset):
    result, folder = saved
    model, card = registry.load_model("tiny", folder)

    before = inference.predict_probabilities(result.model, small_dataset.images[:20])
    after = inference.predict_probabilities(model, small_dataset.images[:20])
    np.testing.assert_allclose(after, before, atol=1e-6)

    assert card.architecture == "article" and card.parameter_count == 607_394
    assert card.data_source == "small sample"
    assert (card.train_size, card.test_size, card.split_method) == (402, 198, "holdout")
    settings = card.training_config
    assert (card.epochs, settings.batch_size, settings.seed) == (2, 16, 7)  # batches of 32 fitted to 402 digits
    assert card.test_accuracy == result.test_evaluation.accuracy
    assert card.train_accuracy == result.train_evaluation.accuracy
    assert np.array(card.confusion_matrix).sum() == 198
    assert card.training_seconds > 0
    assert {"python", "tensorflow", "keras", "numpy", "digitcnn"} <= set(card.versions)
    assert card.created.startswith("20") and card.created.endswith("+00:00")
    assert len(card.model_sha256) == 64
    assert json.loads((folder / "tiny.json").read_text())["test_accuracy"] == card.test_accuracy
    assert card.temperature == result.temperature == 1.0  # the tutorial's loss is not smoothed: no calibration


def test_saving_leaves_no_temporary_files_and_no_optimizer_state(saved):
    _, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == [".tiny.lock", "tiny.json", "tiny.keras"]
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
    with pytest.raises(ModelFileError, match="tiny.keras: cannot be saved .*disk full") as error:
        registry.save_model(result.model, card, folder)

    assert str(folder) not in str(error.value)
    assert ((folder / "tiny.keras").read_bytes(), (folder / "tiny.json").read_text()) == before
    assert sorted(p.name for p in folder.iterdir()) == [".tiny.lock", "tiny.json", "tiny.keras"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "tiny.keras").write_bytes((f / "tiny.keras").read_bytes()[:5000]),
         "does not match its model card"),
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
    with pytest.raises(ModelFileError, match=message) as error:
        registry.load_model("tiny", folder)
    assert str(folder) not in str(error.value)  # users see file names, not the server's paths
    [entry] = registry.list_models(folder)
    assert entry.card is None and message in entry.problem and str(folder) not in entry.problem


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


# --- Saves and readers at once, and saves cut short -----------------------------------------------

@pytest.fixture
def second_model(tiny_result):
    """Another model of the same shape with other weights, and its card: what a second save brings."""
    import keras

    result, _ = tiny_result
    model = keras.models.clone_model(result.model)
    model.set_weights([weights * 0.5 for weights in result.model.get_weights()])
    card = dataclasses.replace(registry.ModelCard.from_training("tiny", result), data_source="second")
    return model, card


def test_listings_during_saves_never_see_a_model_apart_from_its_card(saved, second_model):
    result, folder = saved
    models = [(result.model, registry.ModelCard.from_training("tiny", result)), second_model]
    saving, failures, problems, listings = threading.Event(), [], [], 0

    def save_forty_times():
        try:
            for turn in range(40):
                registry.save_model(*models[turn % 2], folder)
        except Exception as error:  # reported by the main thread
            failures.append(error)
        finally:
            saving.clear()

    saving.set()
    saver = threading.Thread(target=save_forty_times)
    saver.start()
    while saving.is_set() or listings < 2000:
        problems += [entry.problem for entry in registry.list_models(folder) if entry.problem]
        listings += 1
    saver.join()
    assert failures == [] and problems == []
    assert sorted(p.name for p in folder.iterdir()) == [".tiny.lock", "tiny.json", "tiny.keras"]


def test_a_whole_save_between_reading_the_card_and_the_model_is_read_again_not_called_broken(
        saved, second_model, monkeypatch):
    """The interleaving behind a rare failure of the test above under load (CI, two test workers on two cores):
    a reader reads the card, a whole save of the name lands (both renames, its lock let go), then the reader
    reads the new model file against the old card. Listing and loading both read again and give the new pair."""
    result, folder = saved
    first_model = result.model, registry.ModelCard.from_training("tiny", result)
    read_card, saves_to_land = registry._read_card, []

    def read_card_then_let_a_save_land(path):
        card = read_card(path)
        if saves_to_land:
            registry.save_model(*saves_to_land.pop(), folder)  # popped first: the save reads cards too
        return card

    monkeypatch.setattr(registry, "_read_card", read_card_then_let_a_save_land)
    saves_to_land.append(second_model)
    [entry] = registry.list_models(folder)
    assert entry.problem is None and entry.card.data_source == "second"
    saves_to_land.append(first_model)
    _, card = registry.load_model("tiny", folder)
    assert not saves_to_land and card.data_source == first_model[1].data_source != "second"


_SAVE_KILLED_AT_A_RENAME = """
import os, signal, sys
from pathlib import Path

from digitcnn.storage import registry

source, target, killing_rename = sys.argv[1:]
model, card = registry.load_model("tiny", source)
record = registry.load_training_record("tiny", source)
rename = os.replace


def rename_or_die(old, new):
    if Path(new).name == killing_rename:
        os.kill(os.getpid(), signal.SIGKILL)
    rename(old, new)


os.replace = rename_or_die
registry.save_model(model, card, target, trained_on=record)
"""


def _save_killed_at(killing_rename, source, folder):
    """Save the model in ``source`` into ``folder`` in a process of its own, killed at the rename to ``killing_rename``."""
    script = source / "save_and_die.py"
    script.write_text(_SAVE_KILLED_AT_A_RENAME)
    environment = {**os.environ, "PYTHONPATH": str(config.PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.run([sys.executable, str(script), str(source), str(folder), killing_rename],
                             env=environment, capture_output=True, text=True, timeout=300)
    assert process.returncode == -signal.SIGKILL, process.stderr[-2000:]


def _hidden_temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.suffix in (".keras", ".json",
                                                                                                ".seen"))


@pytest.mark.parametrize("killing_rename, survivor", [("tiny.keras", "first"), ("tiny.json", "second")],
                         ids=["killed before the model's rename", "killed between the two renames"])
def test_a_save_killed_at_a_rename_leaves_a_whole_model(saved, second_model, tmp_path_factory, killing_rename,
                                                        survivor):
    result, folder = saved
    source = tmp_path_factory.mktemp("source")
    registry.save_model(*second_model, source)
    _save_killed_at(killing_rename, source, folder)
    assert _hidden_temporaries(folder)  # what the killed save left behind

    [entry] = registry.list_models(folder)
    assert entry.problem is None and entry.card.data_source == {"first": "small sample", "second": "second"}[survivor]
    model, card = registry.load_model("tiny", folder)
    expected = {"first": result.model, "second": second_model[0]}[survivor]
    np.testing.assert_array_equal(model.get_weights()[-1], expected.get_weights()[-1])
    assert _hidden_temporaries(folder) == []


@pytest.fixture
def saved_with_record(tiny_result, tmp_path):
    """The tiny model saved as 'tiny' with the record of the images it trained on."""
    result, _ = tiny_result
    registry.save_model(result.model, registry.ModelCard.from_training("tiny", result), tmp_path,
                        trained_on=result.trained_on)
    return result, tmp_path


def test_a_model_keeps_the_record_of_the_images_it_trained_on(saved_with_record):
    result, folder = saved_with_record
    assert sorted(p.name for p in folder.iterdir()) == [".tiny.lock", "tiny.json", "tiny.keras", "tiny.seen"]
    record = registry.load_training_record("tiny", folder)
    assert len(record) == 402 and record.seen(result.split.train).all() and not record.seen(result.split.test).any()
    content = (folder / "tiny.seen").read_bytes()
    [entry] = registry.list_models(folder)
    assert entry.card.trained_on == {"images": 402, "sha256": hashlib.sha256(content).hexdigest()}
    assert entry.card.test_seen == 0 and len(content) == 16 + 8 * 402

    _, card = registry.load_model("tiny", folder)
    registry.save_model(result.model, card, folder)  # saved again without a record: the old one goes
    assert registry.load_training_record("tiny", folder) is None and not (folder / "tiny.seen").exists()
    assert registry.list_models(folder)[0].card.trained_on is None


def _flip_a_byte(path):
    content = bytearray(path.read_bytes())
    content[-1] ^= 1
    path.write_bytes(bytes(content))


@pytest.mark.parametrize("damage, message", [
    (lambda f: _flip_a_byte(f / "tiny.seen"), "tiny.seen: does not match its model card tiny.json"),
    (lambda f: (f / "tiny.seen").write_bytes((f / "tiny.seen").read_bytes()[:100]), "tiny.seen: does not match"),
    (lambda f: (f / "tiny.seen").unlink(), "tiny.seen: no record of the images tiny trained on"),
], ids=["a byte changed", "truncated", "missing"])
def test_a_changed_or_missing_record_is_caught(saved_with_record, damage, message):
    _, folder = saved_with_record
    damage(folder)
    for read in (registry.load_model, registry.load_training_record):
        with pytest.raises(ModelFileError, match=message):
            read("tiny", folder)
    [entry] = registry.list_models(folder)
    assert entry.card is None and message in entry.problem


@pytest.mark.parametrize("killing_rename, survivor", [("tiny.seen", "first"), ("tiny.keras", "second"),
                                                      ("tiny.json", "second")],
                         ids=["killed before any rename", "killed after the record's", "killed before the card's"])
def test_a_save_killed_at_a_rename_leaves_a_model_whole_with_its_record(saved_with_record, second_model, embedded,
                                                                        tmp_path_factory, killing_rename, survivor):
    from digitcnn.data.seen import TrainingRecord

    result, folder = saved_with_record
    source = tmp_path_factory.mktemp("source")
    second_record = TrainingRecord.of(embedded.subset(np.arange(1000, 1100)))
    registry.save_model(*second_model, source, trained_on=second_record)
    _save_killed_at(killing_rename, source, folder)

    [entry] = registry.list_models(folder)
    assert entry.problem is None and entry.card.data_source == {"first": "small sample", "second": "second"}[survivor]
    expected = {"first": result.trained_on, "second": second_record}[survivor]
    np.testing.assert_array_equal(registry.load_training_record("tiny", folder).digests, expected.digests)
    assert _hidden_temporaries(folder) == []


def test_leftovers_of_a_dead_save_are_removed_and_those_of_a_running_save_kept(saved):
    _, folder = saved
    dead = folder / ".tiny.dead1234.keras"
    dead.write_bytes(b"PK\x03\x04 the start of a model")
    (folder / ".tiny.dead1234.json").write_text("{")
    running = folder / ".tiny.live5678.keras"
    with open(running, "wb") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)  # as a running save holds its files
        assert [entry.name for entry in registry.list_models(folder)] == ["tiny"]
        assert _hidden_temporaries(folder) == [".tiny.live5678.keras"]
    registry.load_model("tiny", folder)
    assert _hidden_temporaries(folder) == []


# --- Cards that must not crash a page -------------------------------------------------------------

def test_a_card_copied_under_another_name_is_listed_as_broken(saved):
    _, folder = saved
    shutil.copy(folder / "tiny.keras", folder / "copy.keras")
    shutil.copy(folder / "tiny.json", folder / "copy.json")
    listing = {entry.name: entry for entry in registry.list_models(folder)}
    assert listing["tiny"].problem is None
    assert "card names 'tiny' but the file is copy.json" in listing["copy"].problem
    with pytest.raises(ModelFileError, match="card names 'tiny' but the file is copy.json"):
        registry.load_model("copy", folder)


@pytest.mark.parametrize("pipe", ["tiny.json", "tiny.keras", "pipe.json"])
def test_a_named_pipe_in_the_models_folder_is_listed_as_broken_not_waited_for(saved, pipe):
    _, folder = saved
    (folder / pipe).unlink(missing_ok=True)
    os.mkfifo(folder / pipe)
    listings = []
    lister = threading.Thread(target=lambda: listings.append(registry.list_models(folder)), daemon=True)
    lister.start()
    lister.join(30)
    if lister.is_alive():  # blocked opening the pipe: let it go before failing
        os.close(os.open(folder / pipe, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"listing waited on the named pipe {pipe}")
    [listing] = listings
    problems = {entry.name: entry.problem for entry in listing}
    assert f"{pipe}: cannot be read (it is a named pipe, not a regular file)" in problems[pipe.split(".")[0]]


def test_a_zip_bomb_is_refused_before_keras_unpacks_it(saved):
    _, folder = saved
    with zipfile.ZipFile(folder / "tiny.keras", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("model.weights.h5", "w", force_zip64=True) as member:
            for _ in range(210):
                member.write(bytes(1_000_000))
    assert (folder / "tiny.keras").stat().st_size < 2_000_000
    card = json.loads((folder / "tiny.json").read_text())
    card["model_sha256"] = hashlib.sha256((folder / "tiny.keras").read_bytes()).hexdigest()
    (folder / "tiny.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match=r"tiny.keras: unpacks to 210 MB, more than the 200 MB"):
        registry.load_model("tiny", folder)


# --- Where models cannot be saved -----------------------------------------------------------------

def test_the_shipped_model_is_replaced_only_when_allowed(saved):
    result, folder = saved
    card = registry.ModelCard.from_training(config.DEFAULT_MODEL_NAME, result)
    with pytest.raises(SettingsError, match="'default' is the shipped model.*save under another name"):
        registry.save_model(result.model, card, folder, protect_shipped=True)
    assert not (folder / "default.keras").exists()
    registry.save_model(result.model, card, folder)  # the command line makes the shipped model so
    assert registry.load_model("default", folder)[1].name == "default"


def _unwritable_folders(tmp_path):
    (tmp_path / "a-file").write_text("a file where the models folder should be")
    return [tmp_path / "a-file", Path("/proc/digitcnn-models")]  # /proc is not writable even by root


def test_an_unwritable_models_folder_is_named_before_training(tmp_path):
    assert registry.check_writable(tmp_path / "new") == tmp_path / "new"
    assert list((tmp_path / "new").iterdir()) == []
    for folder in _unwritable_folders(tmp_path):
        with pytest.raises(ModelFileError, match=rf"the models folder '{folder.name}' cannot be written \(.+\): "):
            registry.check_writable(folder)


def test_saving_into_an_unwritable_models_folder_raises_the_documented_error(saved, tmp_path_factory):
    result, _ = saved
    card = registry.ModelCard.from_training("tiny", result)
    for unwritable in _unwritable_folders(tmp_path_factory.mktemp("elsewhere")):
        with pytest.raises(ModelFileError, match=rf"the models folder '{unwritable.name}' cannot be written"):
            registry.save_model(result.model, card, unwritable)


_READ_ONLY_CHECKS = """
import ctypes, json, os, sys

libc = ctypes.CDLL(None, use_errno=True)
PR_CAPBSET_READ, PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 23, 24, 1
if os.geteuid() == 0 and libc.prctl(PR_CAPBSET_READ, CAP_DAC_OVERRIDE) == 1:  # root, who writes anywhere:
    if libc.prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:             # give that up, start again
        sys.exit(77)
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])

from digitcnn.storage import registry
from digitcnn.errors import ModelFileError

folder = sys.argv[1]
problems = [entry.problem for entry in registry.list_models(folder)]
model, card = registry.load_model("tiny", folder)
try:
    registry.check_writable(folder)
    writable = True
except ModelFileError:
    writable = False
print(json.dumps({"problems": problems, "name": card.name, "writable": writable}))
"""


def test_a_read_only_models_folder_still_lists_and_loads(saved):
    result, folder = saved
    (folder / ".tiny.lock").unlink()  # as a folder of models copied in place would be
    (folder / ".tiny.dead1234.json").write_text("{")  # a killed save's leftover, which cannot be removed here
    folder.chmod(0o555)
    try:
        environment = {**os.environ, "PYTHONPATH": str(config.PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
        process = subprocess.run([sys.executable, "-c", _READ_ONLY_CHECKS, str(folder)], env=environment,
                                 capture_output=True, text=True, timeout=300)
    finally:
        folder.chmod(0o755)
    if process.returncode == 77:
        pytest.skip("root here cannot give up its right to write anywhere (CAP_DAC_OVERRIDE)")
    assert process.returncode == 0, process.stderr[-2000:]
    assert json.loads(process.stdout.splitlines()[-1]) == {"problems": [None], "name": "tiny", "writable": False}
    assert sorted(p.name for p in folder.iterdir()) == [".tiny.dead1234.json", "tiny.json", "tiny.keras"]


def test_listing_never_imports_keras(saved):
    _, folder = saved
    script = ("import sys; from digitcnn.storage import registry; "
              f"print([e.problem for e in registry.list_models({str(folder)!r})], 'keras' in sys.modules)")
    process = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(config.PROJECT_ROOT)},
                             capture_output=True, text=True, timeout=120)
    assert process.stdout.split() == ["[None]", "False"], process.stderr[-2000:]


def test_a_predictor_reads_from_its_kept_conversion_and_loads_its_keras_model_only_when_asked(
        saved, second_model, small_dataset, monkeypatch):
    """Issue 33: the draw page made its predictor from the Keras model, converting it each time: TensorFlow's import
    and the conversion (8 s) on a server's first drawing."""
    _, folder = saved
    predictor, card = registry.load_predictor("tiny", folder)
    converted = folder / registry.CONVERTED_FOLDER
    assert [path.name for path in converted.iterdir()] == [f"{card.model_sha256}-{card.reading}-features.tflite"]
    assert registry.list_models(folder)[0].name == "tiny" and len(registry.list_models(folder)) == 1

    def never(*_, **__):
        raise AssertionError("a kept conversion was made again, or the Keras model loaded unasked")

    monkeypatch.setattr(inference, "litert_flatbuffer", never)
    monkeypatch.setattr(registry, "load_model", never)
    again, _ = registry.load_predictor("tiny", folder)
    images = small_dataset.images[:5]
    for image in images:
        np.testing.assert_allclose(again.probabilities(image), predictor.probabilities(image), atol=1e-6)
    monkeypatch.undo()
    np.testing.assert_allclose(inference.predict_probabilities(again.model, images),  # loaded now, asked for
                               [predictor.probabilities(image) for image in images], atol=1e-5)

    stale, _ = registry.load_predictor("tiny", folder)
    registry.save_model(*second_model, folder)  # saved again: its conversion is made anew, under its checksum
    newer, newer_card = registry.load_predictor("tiny", folder)
    assert newer_card.model_sha256 != card.model_sha256 and len(list(converted.iterdir())) == 2
    with pytest.raises(ModelFileError, match="saved again since it was picked"):
        stale.model
