"""Bringing in a Keras model made elsewhere (a ``.keras`` file, at most :data:`MAX_IMPORT_BYTES`), so that it reads
drawings, is looked inside, compared and taught here like a model trained here (:func:`import_model`).

What it takes, step by step:

1. the file is read in Keras's safe mode, which runs no code of its own: a ``Lambda`` layer (Python code) is refused
   with that reason before Keras reads it, and so is a layer Keras does not know;
2. it must read one 28×28 gray picture, shaped (28, 28, 1), (28, 28) or (784,), and give ten outputs
   (:func:`digitcnn.networks.adapting.check_shapes`);
3. which pixels it expects, 0–1 or 0–255, is measured: the data's test images are read both ways and the one that
   scores higher is kept (both figures go on its card, and are said); whether its outputs are probabilities or logits
   is seen on those answers (rows of non-negative numbers that sum to 1 are probabilities);
4. it is rebuilt to read as this project's networks read (:func:`digitcnn.networks.adapting.adapted`: 28×28×1 in,
   pixels 0–1, probabilities out), checked to give the same answers as the file, to 1e-4;
5. its "not a digit" rule is fitted on its own features as a training fits one (:mod:`digitcnn.training.likeness`),
   and it is scored on the data's test images: a score the card never calls a test score, since what it trained on
   is not known (the embedded sample is part of MNIST's training set, which a tutorial's model learned);
6. it is saved with its card, under a name no other model has: nothing is written before every step has passed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitcnn import files
from digitcnn.data import Dataset
from digitcnn.errors import ModelFileError, SettingsError, TrainingCancelled
from digitcnn.networks.adapting import (LOGITS, PIXEL_RANGES, PROBABILITIES, adapted, check_shapes,
                                        shape_text)
from digitcnn.storage import registry
from digitcnn.storage.card import MODEL_SUFFIX, ModelCard, model_paths
from digitcnn.training.progress import first_step

MAX_IMPORT_BYTES = 50_000_000
READING_FILE = "Reading the file"
MEASURING_PIXELS = "Finding which pixels it expects"
FITTING_REFUSAL = 'Fitting its "not a digit" rule'
SCORING = "Scoring it on the data's test images"
SAVING = "Saving it with its card"
FEW_RIGHT = 0.5  # an imported network that reads fewer of the test images right is asked whether it learned MNIST's
_SAME_ANSWERS = 1e-4  # how far the rebuilt network's probabilities may be from the file's…
_CHECKED_IMAGES = 64  # …on this many test images
_CUSTOM_CODE = "Lambda"  # the layer whose Python code safe mode refuses to run


@dataclass(frozen=True)
class ImportRequest:
    """A ``.keras`` file to import, as a job carries it to where it runs: its name as the user's computer called
    it, and its bytes."""

    filename: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class ImportResult:
    """What an import saved: the card (whose ``imported`` says what was found in the file), its scores on the
    data's test images (with its refusal rule's scores) and those images, whose mistakes a page shows."""

    card: ModelCard
    test_evaluation: object = field(repr=False)
    test_images: np.ndarray = field(repr=False)

    @property
    def findings(self) -> list[str]:
        """What was found in the file, in words, one line each."""
        found = self.card.imported
        others = [f"{pixels}: {share * 100:.2f}%" for pixels, share in found["accuracy_by_pixels"].items()
                  if pixels != found["pixels"]]
        pixels = found["pixels"]
        accuracy = found["accuracy_by_pixels"][pixels]
        lines = [f"It reads a picture shaped {shape_text(found['input_shape'])}.",
                 f"It expects pixels {pixels}: read so, it scored {accuracy * 100:.2f}% on the data's test images"
                 + (f" ({', '.join(others)} read the other way)." if others else "."),
                 "It gives ten probabilities." if found["outputs"] == PROBABILITIES
                 else "It gives ten logits: a softmax was added to read them as probabilities."]
        if accuracy < FEW_RIGHT:
            lines.append("It reads few of them right: was it trained on digits like MNIST's (white on black, centred "
                         "in 28×28 pixels), and for long enough?")
        return lines


def import_file(path: str | os.PathLike, name: str, dataset: Dataset, models_dir=None, on_progress=None
                ) -> ImportResult:
    """:func:`import_model` of the file ``path`` (read only if it is a regular file of at most
    :data:`MAX_IMPORT_BYTES`)."""
    path = Path(path)
    try:
        with files.open_regular(path) as opened:
            content = opened.read(MAX_IMPORT_BYTES + 1)
    except OSError as error:
        raise ModelFileError(f"{path.name}: cannot be read ({files.reason(error)})") from None
    return import_model(ImportRequest(path.name, content), name, dataset, models_dir, on_progress)


def import_model(request: ImportRequest, name: str, dataset: Dataset, models_dir=None, on_progress=None,
                 cancel=None) -> ImportResult:
    """Import the Keras model in ``request`` as the saved model ``name``, scored on ``dataset``'s test images (the
    steps are in the module's notes); ``on_progress`` gets a :class:`~digitcnn.training.Progress` as each begins.
    What cannot be imported raises :class:`ModelFileError` or :class:`SettingsError` saying why, and writes
    nothing. Setting ``cancel`` (a :class:`threading.Event`) stops it before its next step, before the save at the
    latest, with :class:`~digitcnn.errors.TrainingCancelled`."""
    from digitcnn.reading.inference import PLAIN
    from digitcnn.runtime import apply_thread_setting
    from digitcnn.training import TrainingConfig, evaluate_model, fit_digit_likeness, make_split
    from digitcnn.training.likeness import refusal_on_test_digits
    from digitcnn.training.splits import train_score_sample

    def step(what: str) -> None:
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("the import was cancelled; nothing was saved")
        if on_progress is not None:
            on_progress(first_step(what))

    check_name_free(name, models_dir)
    apply_thread_setting()
    step(READING_FILE)
    with tempfile.TemporaryDirectory() as folder:
        model = _read_model(request, Path(folder))
    reads = check_shapes(model, request.filename)
    settings = TrainingConfig(augment=False, label_smoothing=0.0, non_digit_share=0.0, reading=PLAIN)
    split = make_split(dataset, settings)
    step(MEASURING_PIXELS)
    pixels, accuracies, outputs, probabilities = _measure_pixels(model, reads, split.test)
    network = adapted(model, PIXEL_RANGES[pixels], add_softmax=outputs == LOGITS)
    _check_same_answers(network, split.test, probabilities, request.filename)
    step(FITTING_REFUSAL)
    # What it learned from is not known: its digit-likeness learns as that of a network that never saw coarse scans.
    likeness = fit_digit_likeness(network, split.train, settings.seed, learned_scans=False)
    step(SCORING)
    refusal, test_evaluation = refusal_on_test_digits(network, split.test, likeness, PLAIN)
    train_evaluation = evaluate_model(network, train_score_sample(split.train, settings.seed))
    found = {"file": request.filename, "sha256": hashlib.sha256(request.content).hexdigest(),
             "input_shape": list(reads), "pixels": pixels, "outputs": outputs,
             "accuracy_by_pixels": {range_: round(share, 6) for range_, share in accuracies.items()}}
    card = ModelCard.from_import(name, network, split, train_evaluation, test_evaluation, refusal, settings, found)
    step(SAVING)
    check_name_free(name, models_dir)  # again: another import or training may have taken it meanwhile
    registry.save_model(network, card, models_dir, protect_shipped=True)
    return ImportResult(card, test_evaluation, split.test.images)


def import_job(name: str, models_dir, dataset: Dataset, request: ImportRequest, on_progress=None, cancel=None
               ) -> ImportResult:
    """:func:`import_model` as a job's work (``functools.partial(import_job, name, models_dir)``, called with the
    job's dataset and its request)."""
    return import_model(request, name, dataset, models_dir, on_progress, cancel)


def check_name_free(name: str, models_dir=None) -> str:
    """``name`` if an imported model may be saved under it: a valid name no saved model has (an import never
    replaces a model) and not the shipped model's. Raises :class:`SettingsError`."""
    registry.check_new_name(name)
    if any(path.exists() for path in model_paths(name, models_dir)):
        raise SettingsError(f"a model called {name!r} is saved already: import under another name")
    return name


def suggested_name(filename: str) -> str:
    """A model name made from an uploaded file's name: its letters, digits, '-' and '_' ("my model (2).keras" →
    "my-model-2"), "imported" when none are left."""
    import re

    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(filename).stem).strip("-_")[:64].rstrip("-_")
    return stem or "imported"


# --- The file ------------------------------------------------------------------------------------------

def _read_model(request: ImportRequest, folder: Path):
    """The Keras model in ``request``, read in safe mode once its size and its layers are checked."""
    where = request.filename
    if len(request.content) > MAX_IMPORT_BYTES:
        raise ModelFileError(f"{where}: larger than {MAX_IMPORT_BYTES // 1_000_000} MB, more than a model may be here")
    if Path(where).suffix.lower() != MODEL_SUFFIX:
        raise ModelFileError(f"{where}: not a .keras file: save the model with Keras 3's model.save('NAME.keras') "
                             f"(an .h5 file or a SavedModel folder: load it in Keras and save it so)")
    path = folder / f"model{MODEL_SUFFIX}"
    path.write_bytes(request.content)
    _check_layers(path, where)
    return registry.read_keras_model(path, where)


def _check_layers(path: Path, where: str) -> None:
    """Raise :class:`ModelFileError` if the model in ``path`` holds a ``Lambda`` layer (Python code, which safe
    mode does not run) or a layer that is not one of Keras's own (custom code, not here to run)."""
    registry.check_unpacked_size(path, where)
    try:
        with zipfile.ZipFile(path) as archive, archive.open("config.json") as config_file:
            config = json.load(config_file)
    except KeyError:
        raise ModelFileError(f"{where}: not a Keras model (no config.json inside)") from None
    except (zipfile.BadZipFile, ValueError, RecursionError) as error:
        raise ModelFileError(f"{where}: not a readable Keras model ({type(error).__name__})") from None
    for layer in _layers_in(config):
        if layer.get("class_name") == _CUSTOM_CODE:
            raise ModelFileError(f"{where}: has a Lambda layer ({layer.get('config', {}).get('name', 'unnamed')}), "
                                 f"which is Python code: Keras's safe mode, which reads every model here, does not "
                                 f"run code from a file. Rebuild the network with Keras's own layers")
        module = layer.get("module") or ""
        if layer.get("registered_name") or not module.startswith("keras"):
            raise ModelFileError(f"{where}: has a layer of its own ({layer.get('class_name')}, from "
                                 f"{module or 'custom code'}), whose code is not here to run: rebuild the network "
                                 f"with Keras's own layers")


def _layers_in(config) -> list[dict]:
    """Every layer a model's configuration describes, those of models inside it too."""
    found = []
    if isinstance(config, dict):
        inner = config.get("config")
        if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
            for layer in inner["layers"]:
                found.append(layer)
                found.extend(_layers_in(layer))
    return found


# --- What it expects and gives -------------------------------------------------------------------------

def _measure_pixels(model, reads: tuple[int, ...], test_set: Dataset
                    ) -> tuple[str, dict[str, float], str, np.ndarray]:
    """Which pixel range ``model`` reads the test images best in, its accuracy in each, whether its outputs (in that
    range) are probabilities or logits, and the probabilities they say for each test image. Best is the lowest
    cross-entropy, not the highest accuracy: a network of ReLU layers gives nearly the same answers to pictures 255
    times brighter (0.2 points apart, measured), but far surer ones, and its wrong answers then cost it dearly."""
    from digitcnn.reading.inference import as_network_input

    pictures = as_network_input(test_set.images).reshape(-1, *reads)
    accuracies, losses, kinds, said = {}, {}, {}, {}
    for pixels, scale in PIXEL_RANGES.items():
        answers = _outputs(model, pictures * scale)
        kinds[pixels], said[pixels] = _as_probabilities(answers)
        accuracies[pixels] = float((answers.argmax(axis=1) == test_set.labels).mean())
        chosen = said[pixels][np.arange(len(test_set.labels)), test_set.labels]
        losses[pixels] = float(-np.log(np.clip(chosen, 1e-12, 1)).mean())
    best = min(PIXEL_RANGES, key=lambda pixels: losses[pixels])
    return best, accuracies, kinds[best], said[best]


def _as_probabilities(answers: np.ndarray) -> tuple[str, np.ndarray]:
    """Whether a network's ``answers`` (N, 10) are probabilities (rows of numbers from 0 that sum to 1) or logits,
    and the probabilities they say."""
    from scipy.special import softmax

    if (answers >= -1e-6).all() and np.allclose(answers.sum(axis=1), 1, atol=1e-3):
        return PROBABILITIES, answers
    return LOGITS, softmax(answers, axis=1)


def _outputs(model, inputs: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(inputs.astype(np.float32), batch_size=512, verbose=0), dtype=np.float64)


def _check_same_answers(network, test_set: Dataset, probabilities: np.ndarray, where: str) -> None:
    """Raise :class:`ModelFileError` unless the rebuilt ``network`` gives on a few test images the ``probabilities``
    the file's network gave (:func:`_measure_pixels`)."""
    from digitcnn.reading.inference import as_network_input

    pictures = as_network_input(test_set.images[:_CHECKED_IMAGES])
    difference = float(np.abs(_outputs(network, pictures) - probabilities[:_CHECKED_IMAGES]).max())
    if not difference <= _SAME_ANSWERS:
        raise ModelFileError(f"{where}: could not be rebuilt to read here (its answers moved by {difference:.2g})")
