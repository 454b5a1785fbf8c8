"""Saved models: ``models/NAME.keras`` plus ``models/NAME.json``, its model card.

Writes are atomic (a temporary file in the same folder, then a rename), so an interrupted
save never leaves a half-written file under a model's name. The card records the SHA-256
of the model file, so a model and a card that do not belong together are caught on load.
Loading uses Keras's safe mode.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from digitcnn import config
from digitcnn.errors import ModelFileError, SettingsError
from digitcnn.models import CLASS_COUNT, INPUT_SHAPE, fused_batch_normalization

CARD_FORMAT = "digitcnn-model-card/1"
MODEL_SUFFIX = ".keras"
CARD_SUFFIX = ".json"
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class ModelCard:
    """What a saved model is, what it learned from, how, and how well it scores."""

    name: str
    architecture: str
    parameter_count: int
    data_source: str
    train_size: int
    test_size: int
    split_method: str  # "holdout" or "own" (the source's own test set)
    settings: dict  # the TrainingConfig: epochs, batch_size, seed, test_fraction, …
    train_accuracy: float
    test_accuracy: float
    test_loss: float
    confusion_matrix: list  # 10×10 counts on the test set, rows = true digit
    training_seconds: float
    versions: dict
    created: str  # ISO 8601, UTC
    model_sha256: str = ""
    format: str = CARD_FORMAT
    temperature: float = 1.0  # the logits' divisor fitted after training (digitcnn.calibration); 1: none

    @property
    def epochs(self) -> int:
        return self.settings["epochs"]

    @property
    def batch_size(self) -> int:
        return self.settings["batch_size"]

    @property
    def seed(self) -> int:
        return self.settings["seed"]

    def to_json(self) -> str:
        """The card as indented JSON."""
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str, where: str = "model card") -> ModelCard:
        """Read a card; a missing field or a value of the wrong type raises :class:`ModelFileError`."""
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as error:
            raise ModelFileError(f"{where}: not valid JSON (line {error.lineno}, column {error.colno})") from None
        if not isinstance(fields, dict):
            raise ModelFileError(f"{where}: expected a JSON object")
        known = {field.name: field for field in dataclasses.fields(cls)}
        for name, field in known.items():
            if name not in fields and field.default is dataclasses.MISSING:
                raise ModelFileError(f"{where}: missing field {name!r}")
        expected_types = {"int": int, "float": (int, float), "str": str, "dict": dict, "list": list}
        for name, value in fields.items():
            if name in known and not isinstance(value, expected_types[known[name].type]):
                raise ModelFileError(f"{where}: field {name!r} should be {known[name].type}, got {value!r}")
        return cls(**{name: value for name, value in fields.items() if name in known})

    @classmethod
    def from_training(cls, name: str, result) -> ModelCard:
        """The card of a fresh :class:`~digitcnn.training.TrainingResult`."""
        split = result.split
        return cls(
            name=validate_model_name(name),
            architecture=result.config.architecture,
            parameter_count=int(result.model.count_params()),
            data_source=split.source,
            train_size=len(split.train),
            test_size=len(split.test),
            split_method=split.method,
            settings=result.config.to_dict(),
            train_accuracy=result.train_evaluation.accuracy,
            test_accuracy=result.test_evaluation.accuracy,
            test_loss=result.test_evaluation.loss,
            confusion_matrix=result.test_evaluation.confusion_matrix.tolist(),
            training_seconds=round(result.training_seconds, 2),
            temperature=round(result.temperature, 4),
            versions=library_versions(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )


@dataclass(frozen=True)
class SavedModel:
    """One entry of the models folder: its card, or why it cannot be used."""

    name: str
    card: ModelCard | None
    problem: str | None = None


def validate_model_name(name: str) -> str:
    """``name`` if it is a safe file name (letters, digits, ``-`` and ``_``; 64 at most)."""
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise SettingsError(
            f"model name {name!r} is not allowed: use 1–64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return name


def model_paths(name: str, models_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """The model file and the card file of the model called ``name``."""
    folder = config.models_dir(models_dir)
    name = validate_model_name(name)
    return folder / f"{name}{MODEL_SUFFIX}", folder / f"{name}{CARD_SUFFIX}"


def save_model(model, card: ModelCard, models_dir: str | os.PathLike | None = None) -> Path:
    """Save ``model`` and its ``card`` under the card's name, atomically; returns the model file."""
    model_path, card_path = model_paths(card.name, models_dir)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_path(model_path) as temporary_model, _temporary_path(card_path) as temporary_card:
        _without_optimizer(model).save(temporary_model)
        os.chmod(temporary_model, 0o644)
        signed = dataclasses.replace(card, model_sha256=_sha256(temporary_model))
        temporary_card.write_text(signed.to_json() + "\n", encoding="utf-8")
        os.chmod(temporary_card, 0o644)
        os.replace(temporary_model, model_path)
        os.replace(temporary_card, card_path)
    return model_path


def load_card(name: str, models_dir: str | os.PathLike | None = None) -> ModelCard:
    """The model card of the model called ``name``."""
    _, card_path = model_paths(name, models_dir)
    try:
        text = card_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFileError(f"{card_path}: no model card (was the model saved by digitcnn?)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{card_path}: cannot be read ({error})") from None
    return ModelCard.from_json(text, where=str(card_path))


def load_model(name: str, models_dir: str | os.PathLike | None = None):
    """Load the model called ``name`` in Keras's safe mode; returns ``(model, card)``."""
    import keras

    model_path, card = _model_file_and_card(name, models_dir)
    fused_batch_normalization()  # the project's own layer, registered before Keras reads the file
    try:
        model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a broken archive.
        raise ModelFileError(f"{model_path}: not a readable Keras model ({type(error).__name__}: {error})") from None
    check_model_shape(model, str(model_path))
    return model, card


def _model_file_and_card(name: str, models_dir) -> tuple[Path, ModelCard]:
    """The model's file and its card, once the card reads well and the file is there and matches it."""
    model_path, _ = model_paths(name, models_dir)
    card = load_card(name, models_dir)
    if not model_path.is_file():
        raise ModelFileError(f"{model_path}: no model file beside its card")
    if card.model_sha256 and _sha256(model_path) != card.model_sha256:
        raise ModelFileError(f"{model_path}: does not match its model card (changed or half-copied file?)")
    return model_path, card


def check_model_shape(model, where: str) -> None:
    """Raise :class:`ModelFileError` unless ``model`` maps 28×28×1 images to ten outputs."""
    input_shape = tuple(getattr(model, "input_shape", ()) or ())
    output_shape = tuple(getattr(model, "output_shape", ()) or ())
    if input_shape[1:] != INPUT_SHAPE or output_shape[1:] != (CLASS_COUNT,):
        raise ModelFileError(
            f"{where}: takes {input_shape[1:]} and gives {output_shape[1:]}, "
            f"expected 28×28×1 images in and {CLASS_COUNT} probabilities out"
        )


def list_models(models_dir: str | os.PathLike | None = None) -> list[SavedModel]:
    """Every model in the folder, sorted by name, each with its card or the reason it is unusable.

    Reads the cards and checks each model file against its card's checksum (remembered while the
    file is unchanged), so listing stays fast and never imports Keras.
    """
    folder = config.models_dir(models_dir)
    if not folder.is_dir():
        return []
    names = {
        path.stem
        for path in folder.iterdir()
        if path.suffix in (MODEL_SUFFIX, CARD_SUFFIX) and not path.name.startswith(".")
    }
    entries = []
    for name in sorted(names):
        try:
            entries.append(SavedModel(name, _model_file_and_card(name, folder)[1]))
        except (ModelFileError, SettingsError) as error:
            entries.append(SavedModel(name, None, str(error)))
    return entries


def library_versions() -> dict:
    """The versions of Python and the libraries a model was trained with."""
    import keras
    import numpy
    import tensorflow

    from digitcnn import __version__

    return {
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "digitcnn": __version__,
    }


def _without_optimizer(model):
    """A copy of ``model`` that shares its weights but not its optimizer's state (a third of the file)."""
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


@contextmanager
def _temporary_path(target: Path):
    """A fresh temporary file beside ``target`` (same suffix), removed at the end unless renamed away."""
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=target.suffix)
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    """The file's SHA-256, computed once for each version of the file (path, size, modification time)."""
    status = path.stat()
    return _sha256_of_version(str(path), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_of_version(path: str, size: int, modified_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
