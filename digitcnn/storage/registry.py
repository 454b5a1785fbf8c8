"""Saved models: ``models/NAME.keras`` plus ``models/NAME.json``, its model card, and ``models/NAME.seen``,
the record of the images it trained on (:mod:`digitcnn.data.seen`; a model saved without one has none).

The record is a file of its own, not a field of the card: full MNIST's 60,000 fingerprints are 480 kB
(about 1.1 MB as JSON text, over a card's limit), and listing the models reads every card, which stays a few kB.
The card records the SHA-256 of the model file and of the record, so files that do not belong together
are caught on load. Several people save and read at once, and a save can be killed at any moment,
so a model, its record and its card change together as readers see them:

- A save writes its files as hidden temporaries beside them (``.NAME.XXXXXXXX.keras``, ``.seen`` and
  ``.json``, the card signed with the new files' checksums), each locked (``flock``) by the save
  for as long as it runs, then renames the record and the model into place, then the card. Saves of one
  name take turns on the lock file ``.NAME.lock``.
- A reader that finds a model apart from its card while a save of that name holds the lock has
  looked between the save's two renames, and one that finds either file replaced since it read it
  has had a whole save land between its two reads: it reads again a few milliseconds later (for up
  to 2 s) instead of calling the model broken.
- Temporaries that no running save holds were left by a killed one. Listing, loading and saving
  finish its commit where leftovers complete the files a card names (a new model renamed in, its card
  still a temporary: "roll forward"), then remove the leftovers.

A card is checked field by field before anything uses it, and a file is read only if it is a
regular file of a bounded size, so no file dropped into the folder can crash or stall a page.
Loading uses Keras's safe mode. Messages name files, never the server's paths.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import re
import reprlib
import sys
import tempfile
import threading
import time
import types
import typing
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from digitcnn import config, files
from digitcnn.networks.calibration import TEMPERATURE_BOUNDS
from digitcnn.errors import ModelFileError, ModelNotFoundError, SettingsError, not_found
from digitcnn.data import IMAGE_SIDE
from digitcnn.networks.architectures import CLASS_COUNT, portable_copy, register_custom_objects
from digitcnn.reading.refusal import NEVER_REFUSE, RefusalRule
from digitcnn.data.seen import TrainingRecord
from digitcnn.training import TrainingConfig

CARD_FORMAT = "digitcnn-model-card/1"
MODEL_SUFFIX = ".keras"
CARD_SUFFIX = ".json"
RECORD_SUFFIX = ".seen"
SHIPPED_MODEL_NAMES = (config.DEFAULT_MODEL_NAME,)  # made by the command line; the app does not replace them
SPLIT_METHODS = ("holdout", "own")
MAX_CARD_BYTES = 1_000_000  # a card is a few kB
MAX_UNPACKED_MODEL_BYTES = 200_000_000  # the article network unpacks to 2.5 MB; a zip bomb to far more
MAX_RECORD_BYTES = 16_000_000  # 2 million images; a dataset holds at most 127,551 (data.MAX_PIXELS), fine-tunes add few
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_TEMPORARY_PATTERN = re.compile(  # tempfile.mkstemp's random part is made of [a-z0-9_]
    rf"\.(?P<name>{_NAME_PATTERN.pattern})\.[a-z0-9_]+"
    rf"({re.escape(MODEL_SUFFIX)}|{re.escape(CARD_SUFFIX)}|{re.escape(RECORD_SUFFIX)})"
)
_SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
_CARD_RANGES = {  # the lowest and highest value of each number on a card
    "parameter_count": (1, 10**10),
    "train_size": (1, 10**9),
    "test_size": (1, 10**9),
    "train_accuracy": (0, 1),
    "test_accuracy": (0, 1),
    "test_loss": (0, 1000),
    "training_seconds": (0, 10**8),
    "temperature": TEMPERATURE_BOUNDS,
}
_SAVE_PATIENCE_SECONDS = 2.0  # how long a reader waits for a running save to bring a model and its card together
_RETRY_SECONDS = 0.005
_LOAD_ATTEMPTS = 3  # loads of a model file that saves keep replacing while Keras reads it
_CHECKSUMS_KEPT = 256
_checksums: dict[tuple[int, int, int, int], str] = {}  # a file's version (see _version) → its SHA-256
_checksums_lock = threading.Lock()


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
    temperature: float = 1.0  # the logits' divisor fitted after training (digitcnn.networks.calibration); 1: none
    refusal: dict | None = None  # the "not a digit" rule fitted after training (digitcnn.reading.refusal); None: never refuses
    fine_tuned: dict | None = None  # how a fine-tuned model came from its base (see from_fine_tune); None: trained
    # The record of the images it trained on, NAME.seen: {"images": how many, "sha256": the file's}; set by the save.
    # None: not recorded (a card saved before records, or a model saved without one).
    trained_on: dict | None = None
    test_seen: int | None = None  # how many of its test images it trained on; None: a card saved before records

    @property
    def test_images_seen(self) -> int | None:
        """How many of the images its test scores are on it trained on (0: they are test scores); None when not
        known. A card from before records that was trained, not fine-tuned, held its test images out of its
        training (see :func:`digitcnn.training.make_split`): 0."""
        if self.test_seen is not None:
            return self.test_seen
        return 0 if self.fine_tuned is None else None

    @property
    def training_config(self):
        """The settings the model was trained with, as a :class:`~digitcnn.training.TrainingConfig`
        (a setting the card predates takes its default)."""
        from digitcnn.training import TrainingConfig

        return TrainingConfig(**self.settings)

    @property
    def reading(self) -> str:
        """How the model reads a picture (see :mod:`digitcnn.reading.inference`); a card that predates readings: plain."""
        return self.training_config.reading

    @property
    def refusal_rule(self) -> RefusalRule:
        """The model's rule for saying "not a digit"; a card written before there were rules never refuses."""
        return NEVER_REFUSE if self.refusal is None else RefusalRule.from_dict(self.refusal)

    @property
    def epochs(self) -> int:
        return self.training_config.epochs

    def to_json(self) -> str:
        """The card as indented JSON."""
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str, where: str = "model card") -> ModelCard:
        """Read a card and check each field's type and value: anyone can edit a card or drop one into
        the folder, and pages use its numbers and rebuild its ``TrainingConfig``. Anything wrong raises
        :class:`ModelFileError` starting with ``where``. Fields this version does not know are ignored
        (a newer digitcnn's)."""
        fields = _json_object(text, where)
        known = {field.name: field for field in dataclasses.fields(cls)}
        missing = [name for name, field in known.items() if name not in fields
                   and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING]
        if missing:
            raise ModelFileError(f"{where}: missing field {missing[0]!r}")
        values = {name: value for name, value in fields.items() if name in known}
        _check_types(values, _field_kinds(cls), f"{where}: field")
        card = cls(**values)
        _check_card_values(card, where)
        return card

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
            test_seen=int(result.trained_on.seen(split.test).sum()),
            split_method=split.method,
            settings=result.config.to_dict(),
            train_accuracy=result.train_evaluation.accuracy,
            test_accuracy=result.test_evaluation.accuracy,
            test_loss=result.test_evaluation.loss,
            confusion_matrix=result.test_evaluation.confusion_matrix.tolist(),
            training_seconds=round(result.training_seconds, 2),
            temperature=round(result.temperature, 4),
            refusal=None if result.refusal is None else result.refusal.to_dict(),
            versions=library_versions(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )


    @classmethod
    def from_fine_tune(cls, name: str, result) -> ModelCard:
        """The card of a :class:`~digitcnn.training.finetune.FineTuneResult` that passed its gate (one that did not
        raises :class:`SettingsError` with its message: such a model is not saved). It keeps the base
        model's architecture and training settings; its sizes are the images the fine-tune learned from
        (drawings, replayed digits and non-digits) and the data's test set, its scores the fine-tuned
        model's on that test set. ``fine_tuned`` records the base model, the writer, the drawings and the
        before/after figures."""
        if not result.passed:
            raise SettingsError(result.message)
        base, evaluation = result.base_card, result.data_test_evaluation
        return cls(
            name=validate_model_name(name),
            architecture=base.architecture,
            parameter_count=int(result.model.count_params()),
            data_source=result.data_source,
            train_size=result.train_size,
            test_size=len(evaluation.labels),
            test_seen=result.data_test_seen,
            split_method=result.split_method,
            settings=dict(base.settings),
            train_accuracy=result.train_accuracy,
            test_accuracy=evaluation.accuracy,
            test_loss=evaluation.loss,
            confusion_matrix=evaluation.confusion_matrix.tolist(),
            training_seconds=round(result.training_seconds, 2),
            temperature=round(result.temperature, 4),
            refusal=None if result.refusal is None else result.refusal.to_dict(),
            versions=library_versions(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            fine_tuned={
                "base_model": result.base_name,
                "writer": result.writer,
                "drawings": result.drawings_count,
                "personal_test_size": result.personal_test_size,
                "replayed": result.replayed,
                "settings": result.config.to_dict(),
                "before": result.before.to_dict(),
                "after": result.after.to_dict(),
            },
        )

    def read_as(self, reading: str, train_evaluation, test_evaluation, refusal: RefusalRule) -> ModelCard:
        """This card for the same model read the ``reading`` way, with the scores and the refusal rule measured so
        (see :func:`digitcnn.training.scores_read_as`); a card saved before refusal rules stays without one (its
        model never refuses). The model file's checksum is set again when it is saved."""
        return dataclasses.replace(
            self, settings={**self.settings, "reading": reading}, train_accuracy=train_evaluation.accuracy,
            test_accuracy=test_evaluation.accuracy, test_loss=test_evaluation.loss,
            confusion_matrix=test_evaluation.confusion_matrix.tolist(),
            refusal=None if self.refusal is None else refusal.to_dict())


@dataclass(frozen=True)
class SavedModel:
    """One entry of the models folder: its card, or why it cannot be used."""

    name: str
    card: ModelCard | None
    problem: str | None = None


class _TornPair(ModelFileError):
    """A model without its card, or with a card that does not match it: what a reader finds between a
    save's two renames, or when a whole save lands between its reading of the card and of the model, and then
    no damage. ``seen`` is the versions (:func:`_version`) of the model file and the card that it read, when it
    read both."""

    def __init__(self, message: str, seen: tuple | None = None):
        super().__init__(message)
        self.seen = seen


def validate_model_name(name: str) -> str:
    """``name`` if it is a safe file name (letters, digits, ``-`` and ``_``; 64 at most)."""
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise SettingsError(
            f"model name {name!r} is not allowed: use 1–64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return name


def check_new_name(name: str, *, protect_shipped: bool = True, starts_from: str | None = None) -> str:
    """``name`` if a model about to be made may be saved under it: a valid name (:func:`validate_model_name`);
    with ``protect_shipped`` (the app's saves, and fine-tunings), none of :data:`SHIPPED_MODEL_NAMES`, which
    only a training from the command line replaces; and not ``starts_from``, the model a fine-tuning starts
    from, which it would replace by a model whose card names itself as its base. Asked before the work
    starts, not only at its save: work under a name that cannot be saved would be lost. Raises
    :class:`SettingsError`."""
    validate_model_name(name)
    if protect_shipped and name in SHIPPED_MODEL_NAMES:
        raise SettingsError(f"{name!r} is the shipped model, which is not replaced from here; save under another name")
    if name == starts_from:
        raise SettingsError(f"{name!r} is the model it starts from, which it does not replace; save under another name")
    return name


def model_paths(name: str, models_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """The model file and the card file of the model called ``name``."""
    folder = config.models_dir(models_dir)
    name = validate_model_name(name)
    return folder / f"{name}{MODEL_SUFFIX}", folder / f"{name}{CARD_SUFFIX}"


def check_writable(models_dir: str | os.PathLike | None = None) -> Path:
    """The models folder, created if need be, once a file has been made in it and removed again.

    Only trying tells: permission bits do not bind root, and a virtual file system such as ``/proc``
    refuses files whatever they say. The command line and the app ask before a training rather than
    fail after it. Raises :class:`ModelFileError` naming the folder and why.
    """
    folder = config.models_dir(models_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=".write-check.")
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        reason = "not a folder" if isinstance(error, (FileExistsError, NotADirectoryError)) else _reason(error)
        raise ModelFileError(
            f"the models folder '{folder.name}' cannot be written ({reason}): "
            f"make it a writable folder, or set {config.MODELS_DIR_VARIABLE} to one"
        ) from None
    return folder


def save_model(model, card: ModelCard, models_dir: str | os.PathLike | None = None, *,
               trained_on: TrainingRecord | None = None, protect_shipped: bool = False) -> Path:
    """Save ``model`` and its ``card`` under the card's name, with ``trained_on``, the record of the images it
    trained on (a training's ``result.trained_on``; None: not recorded, and then whether it saw an image is
    never known); returns the model file.

    Readers see the previous files or the new ones, never a mix, and a save killed at any point leaves one
    of the two whole (see the module's description). Saves of one name take
    turns. ``protect_shipped`` (the app's saves) refuses the names of the shipped models, which the
    command line makes (see :func:`check_new_name`). Any failure to write raises :class:`ModelFileError`
    and leaves no temporary file behind.
    """
    check_new_name(card.name, protect_shipped=protect_shipped)
    model_path, card_path = model_paths(card.name, models_dir)
    folder = check_writable(model_path.parent)
    try:
        with _name_lock(card.name, folder, wait=True):
            _finish_killed_save(card.name, folder)
            _write_pair(model, card, model_path, card_path, trained_on)
    except OSError as error:
        raise ModelFileError(f"{model_path.name}: cannot be saved ({_reason(error)})") from None
    return model_path


def attach_training_record(name: str, record: TrainingRecord, test_seen: int,
                           models_dir: str | os.PathLike | None = None) -> Path:
    """Give the saved model ``name`` its ``record`` of the images it trained on, ``test_seen`` of its test images
    among them, its model file unchanged: for a model saved before models kept records (the command line's
    ``record``). Saved as :func:`save_model` saves; returns the record's file."""
    model_path, card_path = model_paths(name, models_dir)
    folder = check_writable(model_path.parent)
    try:
        with _name_lock(name, folder, wait=True):
            _finish_killed_save(name, folder)
            card = _checked_pair(name, folder)[1]
            _write_pair(None, dataclasses.replace(card, test_seen=test_seen), model_path, card_path, record)
    except OSError as error:
        raise ModelFileError(f"{name}{RECORD_SUFFIX}: cannot be saved ({_reason(error)})") from None
    return model_path.with_suffix(RECORD_SUFFIX)


def load_model(name: str, models_dir: str | os.PathLike | None = None):
    """Load the model called ``name`` in Keras's safe mode; returns ``(model, card)``, the two of one
    save: a model file that a save replaces while Keras reads it is read again."""
    register_custom_objects()  # the project's own classes, which older files name, before Keras reads one
    for _ in range(_LOAD_ATTEMPTS):
        model_path, card, version, _ = _model_file_and_card(name, models_dir)
        model = _read_keras_model(model_path)
        if _current_version(model_path) == version:
            check_model_shape(model, model_path.name)
            return model, card
    raise ModelFileError(f"{model_path.name}: replaced by other saves each time it was read; try again")


def load_training_record(name: str, models_dir: str | os.PathLike | None = None) -> TrainingRecord | None:
    """The record of the images the model called ``name`` trained on, checked against its card; None when its
    card says it has none (see :attr:`ModelCard.trained_on`)."""
    return _model_file_and_card(name, models_dir, read_record=True)[3]


CONVERTED_FOLDER = ".litert"  # in the models folder: each model as the app reads drawings with it, made once


def load_predictor(name: str, models_dir: str | os.PathLike | None = None):
    """The model called ``name`` ready to read drawings (a :class:`~digitcnn.reading.inference.Predictor`) and its card,
    without TensorFlow once it has been converted: the LiteRT flatbuffer its predictor runs is kept in the models
    folder's ``.litert/``, named by the model's checksum and how it reads (a model saved again is converted again),
    and the Keras model is loaded only when the predictor's ``model`` is asked for (looking inside a reading).
    Converting needs TensorFlow and Keras: 6-8 s of a core on a fresh server, where a kept one is read in
    milliseconds. A folder that cannot be written to only keeps nothing."""
    from digitcnn.reading.inference import Predictor, litert_flatbuffer

    model_path, card, _, _ = _model_file_and_card(name, models_dir)
    features = card.refusal_rule.likeness is not None
    converted = (model_path.parent / CONVERTED_FOLDER /
                 f"{card.model_sha256}-{card.reading}{'-features' if features else ''}.tflite")

    def keras_model():
        model, loaded = load_model(name, models_dir)
        if loaded.model_sha256 != card.model_sha256:
            raise ModelFileError(f"{name}{MODEL_SUFFIX}: saved again since it was picked; pick it again")
        return model

    try:
        with files.open_regular(converted) as kept:
            return Predictor(keras_model, card.refusal_rule, card.reading, flatbuffer=kept.read()), card
    except OSError:
        pass  # not converted yet (or unreadable): convert it
    model = keras_model()
    flatbuffer = litert_flatbuffer(model, card.reading, features)
    try:
        converted.parent.mkdir(exist_ok=True)
        with files.replaced_atomically(converted) as temporary:
            temporary.write_bytes(flatbuffer)
    except OSError:
        pass  # a read-only folder: converted again next time
    return Predictor(lambda: model, card.refusal_rule, card.reading, flatbuffer=flatbuffer), card


def check_model_shape(model, where: str) -> None:
    """Raise :class:`ModelFileError` unless ``model`` maps 28×28×1 images to ten outputs."""
    input_shape = tuple(getattr(model, "input_shape", ()) or ())
    output_shape = tuple(getattr(model, "output_shape", ()) or ())
    if input_shape[1:] != (IMAGE_SIDE, IMAGE_SIDE, 1) or output_shape[1:] != (CLASS_COUNT,):
        raise ModelFileError(
            f"{where}: takes {input_shape[1:]} and gives {output_shape[1:]}, "
            f"expected 28×28×1 images in and {CLASS_COUNT} probabilities out"
        )


def list_models(models_dir: str | os.PathLike | None = None) -> list[SavedModel]:
    """Every model in the folder, sorted by name, each with its card or the reason it is unusable.

    Reads the cards and checks each model file against its card's checksum (remembered while the
    file is unchanged), so listing stays fast and never imports Keras. What killed saves left is
    dealt with first; hidden files are never listed.
    """
    folder = config.models_dir(models_dir)
    if not folder.is_dir():
        return []
    try:
        names, interrupted = _scan(folder)
    except OSError as error:
        raise ModelFileError(f"the models folder cannot be read ({_reason(error)})") from None
    for name in interrupted:
        _recover(name, folder)
    return [_listed(name, folder) for name in sorted(names)]


def library_versions() -> dict:
    """The versions of Python and the libraries a model was trained with."""
    import numpy

    from digitcnn import __version__

    return {
        "python": platform.python_version(),
        "tensorflow": _installed_version("tensorflow"),
        "keras": _installed_version("keras"),
        "numpy": numpy.__version__,
        "digitcnn": __version__,
    }


def _installed_version(module: str) -> str:
    """The version of the library ``module``, without importing it: the app's server makes the card of a model a
    worker trained, and importing TensorFlow for its version would cost it seconds and 550 MB. Read from the
    installed distribution that provides it (TensorFlow's may be ``tensorflow-cpu``)."""
    if module in sys.modules:
        return sys.modules[module].__version__
    distributions = importlib.metadata.packages_distributions().get(module, [module])
    return importlib.metadata.version(distributions[0])


# --- Checking a card -------------------------------------------------------------------------------

def _json_object(text: str, where: str) -> dict:
    """``text`` parsed as a JSON object. Whatever the parser refuses raises :class:`ModelFileError`: bad
    syntax, a number of thousands of digits (Python's limit), arrays nested past the recursion limit."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{where}: not valid JSON (line {error.lineno}, column {error.colno})") from None
    except ValueError as error:  # the limit on an integer's digits; its advice to raise it is not the user's to take
        raise ModelFileError(f"{where}: not valid JSON ({str(error).split(';')[0]})") from None
    except RecursionError:
        raise ModelFileError(f"{where}: not valid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"{where}: expected a JSON object")
    return value


@functools.cache
def _field_kinds(cls) -> dict[str, tuple[type, ...]]:
    """The types each field of a dataclass may hold, resolved once from its annotations (strings, under
    ``from __future__ import annotations``): a new field is checked without more code, whatever its
    annotation (``int | None``, ``list[int]``, ``dict[str, float] | None``, ``Any``…)."""
    return {name: _runtime_types(annotation) for name, annotation in typing.get_type_hints(cls).items()}


def _runtime_types(annotation) -> tuple[type, ...]:
    """The classes a value of ``annotation`` is an instance of: a union's members, a generic's own class
    (``list[int]`` is a list; what it holds is checked with the card's values), anything for ``Any``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return tuple(kind for member in typing.get_args(annotation) for kind in _runtime_types(member))
    if origin is typing.Literal:
        return tuple({type(value) for value in typing.get_args(annotation)})
    if origin is not None:
        return (origin,)
    if annotation is typing.Any:
        return (object,)
    return (type(None),) if annotation is None else (annotation,)


def _check_types(values: dict, kinds: dict[str, tuple[type, ...]], what: str) -> None:
    """Raise :class:`ModelFileError` ("``what`` 'x' should be int, got …") for the first value not of its type."""
    for name, value in values.items():
        if not _is_of_kind(value, kinds[name]):
            expected = " | ".join("None" if kind is type(None) else kind.__name__ for kind in kinds[name])
            raise ModelFileError(f"{what} {name!r} should be {expected}, got {reprlib.repr(value)}")


def _is_of_kind(value, kinds: tuple[type, ...]) -> bool:
    """Whether a value read from JSON is of one of ``kinds``, more strictly than ``isinstance``: true and
    false are no numbers, a whole number is a float, and NaN and the infinities are not numbers a card
    can hold."""
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if isinstance(value, int) and float in kinds:
        return True
    return isinstance(value, kinds)


def _check_card_values(card: ModelCard, where: str) -> None:
    """Raise :class:`ModelFileError` unless each value of ``card`` (its types checked) makes sense."""
    try:
        validate_model_name(card.name)
    except SettingsError as error:
        raise ModelFileError(f"{where}: {error}") from None
    if card.format != CARD_FORMAT:
        raise ModelFileError(f"{where}: format {reprlib.repr(card.format)} is not {CARD_FORMAT} "
                             f"(a card of another digitcnn version?)")
    for name, (lowest, highest) in _CARD_RANGES.items():
        if not lowest <= getattr(card, name) <= highest:
            raise ModelFileError(f"{where}: {name} {getattr(card, name)!r} is not from {lowest:,} to {highest:,}")
    if card.split_method not in SPLIT_METHODS:
        raise ModelFileError(f"{where}: split method {reprlib.repr(card.split_method)} is not "
                             f"{' or '.join(SPLIT_METHODS)}")
    if card.model_sha256 and not _SHA256_PATTERN.fullmatch(card.model_sha256):
        raise ModelFileError(f"{where}: model_sha256 is not a SHA-256 checksum (64 hexadecimal digits)")
    if not all(isinstance(version, str) for version in card.versions.values()):
        raise ModelFileError(f"{where}: versions should name each library's version as text")
    try:
        datetime.fromisoformat(card.created)
    except ValueError:
        raise ModelFileError(f"{where}: created {reprlib.repr(card.created)} is not an ISO 8601 time") from None
    _check_confusion_matrix(card.confusion_matrix, card.test_size, where)
    _check_settings(card.settings, card.architecture, where)
    try:
        card.refusal_rule
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{where}: refusal: {error}") from None
    if card.fine_tuned is not None:
        _check_fine_tuned(card.fine_tuned, f"{where}: fine_tuned")
    if card.trained_on is not None:
        _check_entries(card.trained_on, _TRAINED_ON_KINDS, f"{where}: trained_on")
        if not 1 <= card.trained_on["images"] <= MAX_RECORD_BYTES // 8 \
                or not _SHA256_PATTERN.fullmatch(card.trained_on["sha256"]):
            raise ModelFileError(f"{where}: trained_on should give how many images (at least one) and the SHA-256 of "
                                 f"the record {card.name}{RECORD_SUFFIX}")
    if card.test_seen is not None and not 0 <= card.test_seen <= card.test_size:
        raise ModelFileError(f"{where}: test_seen {card.test_seen!r} is not from 0 to its {card.test_size:,} test "
                             f"images")


_TRAINED_ON_KINDS = {"images": (int,), "sha256": (str,)}


_FINE_TUNED_KINDS = {"base_model": (str,), "writer": (str,), "drawings": (int,), "personal_test_size": (int,),
                     "replayed": (int,), "settings": (dict,), "before": (dict,), "after": (dict,)}
_SCORES_KINDS = {"personal_test_accuracy": (float, type(None)), "data_test_accuracy": (float,),
                 "per_digit_accuracy": (list,)}


def _check_fine_tuned(record: dict, where: str) -> None:
    """Raise :class:`ModelFileError` unless ``record`` is what :meth:`ModelCard.from_fine_tune` writes: the base
    model's name, the writer's, the numbers of drawings, of those kept apart to test and of replayed digits,
    valid fine-tune settings, and scores from 0 to 1 before and after. Entries this version does not know are
    ignored (a newer digitcnn's)."""
    from digitcnn.data.drawings import writer_name
    from digitcnn.training.finetune import FineTuneConfig

    _check_entries(record, _FINE_TUNED_KINDS, where)
    try:
        validate_model_name(record["base_model"])
        writer_name(record["writer"])
    except SettingsError as error:
        raise ModelFileError(f"{where}: {error}") from None
    if not 1 <= record["drawings"] <= 10**9 or not 0 <= record["personal_test_size"] < record["drawings"] \
            or not 0 <= record["replayed"] <= 10**9:
        raise ModelFileError(f"{where}: the numbers of drawings ({record['drawings']!r}), of those kept apart "
                             f"({record['personal_test_size']!r}) and of replayed digits ({record['replayed']!r}) "
                             f"make no sense")
    accepted = _field_kinds(FineTuneConfig)
    unknown = [name for name in record["settings"] if name not in accepted]
    if unknown:
        raise ModelFileError(f"{where}: unknown setting {reprlib.repr(unknown[0])}")
    _check_types(record["settings"], accepted, f"{where}: setting")
    try:
        FineTuneConfig(**record["settings"])
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{where}: settings: {error}") from None
    for moment in ("before", "after"):
        scores = record[moment]
        _check_entries(scores, _SCORES_KINDS, f"{where}: {moment}")
        figures = [scores["personal_test_accuracy"], scores["data_test_accuracy"], *scores["per_digit_accuracy"]]
        if len(scores["per_digit_accuracy"]) != CLASS_COUNT or not all(
                value is None or _is_of_kind(value, (float,)) and 0 <= value <= 1 for value in figures):
            raise ModelFileError(f"{where}: {moment}: accuracies should be from 0 to 1 (or null where there were no "
                                 f"test drawings), ten of them per digit")


def _check_entries(record: dict, kinds: dict[str, tuple[type, ...]], where: str) -> None:
    """Raise :class:`ModelFileError` unless ``record`` has each entry of ``kinds``, of its type."""
    missing = [name for name in kinds if name not in record]
    if missing:
        raise ModelFileError(f"{where}: missing entry {missing[0]!r}")
    _check_types({name: record[name] for name in kinds}, kinds, f"{where}: entry")


def _check_confusion_matrix(matrix: list, test_size: int, where: str) -> None:
    """Raise :class:`ModelFileError` unless ``matrix`` is 10×10 counts adding up to the test images."""
    if len(matrix) != CLASS_COUNT or not all(
        isinstance(row, list) and len(row) == CLASS_COUNT and all(type(count) is int and count >= 0 for count in row)
        for row in matrix
    ):
        raise ModelFileError(f"{where}: the confusion matrix should be 10×10 counts (whole numbers from 0)")
    total = sum(map(sum, matrix))
    if total != test_size:
        raise ModelFileError(f"{where}: the confusion matrix counts {total:,} test images, not {test_size:,}")


def _check_settings(settings: dict, architecture: str, where: str) -> None:
    """Raise :class:`ModelFileError` unless ``settings`` make a valid ``TrainingConfig`` of the card's
    architecture: the command line rebuilds it (``TrainingConfig(**card.settings)``) to score a model
    again, and pages show its values. A setting the card lacks takes its default, so cards written
    before a setting existed stay readable; one the card has that TrainingConfig does not know is an error."""
    accepted = _field_kinds(TrainingConfig)
    unknown = [name for name in settings if name not in accepted]
    if unknown:
        raise ModelFileError(f"{where}: unknown setting {reprlib.repr(unknown[0])}")
    _check_types(settings, accepted, f"{where}: setting")
    try:
        config = TrainingConfig(**settings)
    except (TypeError, ValueError) as error:  # SettingsError is a ValueError
        raise ModelFileError(f"{where}: settings: {error}") from None
    if config.architecture != architecture:
        raise ModelFileError(f"{where}: architecture {architecture!r} but its settings say {config.architecture!r}")


# --- Reading a model and its card ---------------------------------------------------------------

def _scan(folder: Path) -> tuple[set[str], set[str]]:
    """The names of the models in ``folder`` (each visible ``.keras`` and ``.json`` file's), and the
    names that saves, running or killed, have temporaries of."""
    names, interrupted = set(), set()
    for entry in os.listdir(folder):
        stem, suffix = os.path.splitext(entry)
        if temporary := _TEMPORARY_PATTERN.fullmatch(entry):
            interrupted.add(temporary["name"])
        elif not entry.startswith(".") and suffix in (MODEL_SUFFIX, CARD_SUFFIX):
            names.add(stem)
    return names, interrupted


def _listed(name: str, folder: Path) -> SavedModel:
    """The listing's entry for ``name``: its card, or why the model cannot be used."""
    try:
        card = _while_saving(name, folder, lambda: _checked_pair(name, folder))[1]
    except (ModelFileError, SettingsError) as error:
        return SavedModel(name, None, str(error))
    return SavedModel(name, card)


def _model_file_and_card(name: str, models_dir, read_record: bool = False
                         ) -> tuple[Path, ModelCard, tuple, TrainingRecord | None]:
    """:func:`_checked_pair` for ``name``, once what a killed save of it left is dealt with; a name with neither a
    model file nor a card raises :class:`ModelNotFoundError`, naming the models there are."""
    model_path, card_path = model_paths(name, models_dir)
    _recover(name, model_path.parent)
    if not (os.path.lexists(model_path) or os.path.lexists(card_path)):
        _raise_not_found(name, model_path.parent)
    return _while_saving(name, model_path.parent,
                         lambda: _checked_pair(name, model_path.parent, read_record=read_record))


_NAMES_LISTED = 10  # saved models named in the message about a name that is not one of them


def _raise_not_found(name: str, folder: Path) -> None:
    """Raise :class:`ModelNotFoundError`: no saved model ``name`` in ``folder``, whose models it names."""
    try:
        saved = sorted(_scan(folder)[0])
    except OSError:
        saved = []
    listed = ", ".join(saved[:_NAMES_LISTED]) + (f", and {len(saved) - _NAMES_LISTED} more" if len(saved) >
                                                 _NAMES_LISTED else "")
    there = f"saved: {listed}" if saved else f"none saved in {folder.name}/"
    raise ModelNotFoundError(not_found("saved model", name, there))


def _while_saving(name: str, folder: Path, read):
    """``read()``, tried again every few milliseconds (for up to 2 s) while it finds the model apart from
    its card and either a save of ``name`` is running (the instant between the save's two renames) or the files
    it read are no longer there (a whole save came between its reading of the card and of the model: seen
    under load, with saves one after another)."""
    deadline = time.monotonic() + _SAVE_PATIENCE_SECONDS
    while True:
        try:
            return read()
        except _TornPair as torn:
            if time.monotonic() > deadline or not (_save_running(name, folder) or _replaced_since(torn, name, folder)):
                raise
        time.sleep(_RETRY_SECONDS)


def _replaced_since(torn: _TornPair, name: str, folder: Path) -> bool:
    """Whether the model file or the card of ``name`` is another version than the torn read saw."""
    return torn.seen is not None and torn.seen != tuple(map(_current_version, model_paths(name, folder)))


def _checked_pair(name: str, folder: Path, *, read_record: bool = False
                  ) -> tuple[Path, ModelCard, tuple, TrainingRecord | None]:
    """The model's file, its card, the version (:func:`_version`) of the file that matched the card's
    checksum, and with ``read_record`` the record of the images it trained on (None: it has none; always None
    without ``read_record``: the record's checksum is checked all the same). The card's name is checked last:
    files that do not match their card say more."""
    model_path, card_path = model_paths(name, folder)
    card_version = _current_version(card_path)  # before the read: a card replaced after it is another version
    card = _read_card(card_path)
    try:
        with _open_regular(model_path) as model_file:
            version = _version(os.fstat(model_file.fileno()))
            if card.model_sha256 and _sha256(model_file) != card.model_sha256:
                raise _TornPair(f"{model_path.name}: does not match its model card {card_path.name} "
                                f"(changed or half-copied file?)", seen=(version, card_version))
    except FileNotFoundError:
        raise ModelFileError(f"{model_path.name}: no model file beside its card {card_path.name}") from None
    record = _checked_record(card, model_path.with_suffix(RECORD_SUFFIX), (version, card_version), read_record)
    _check_card_name(card, card_path)
    return model_path, card, version, record


def _checked_record(card: ModelCard, path: Path, seen: tuple, read: bool) -> TrainingRecord | None:
    """Raise unless the record ``path`` matches ``card`` (a :class:`_TornPair` with ``seen``, the versions of the
    model file and the card that were read, where a save may have come between); the record, when ``read``."""
    if card.trained_on is None:
        return None
    try:
        with _open_regular(path) as record_file:
            if _sha256(record_file) != card.trained_on["sha256"]:
                raise _TornPair(f"{path.name}: does not match its model card {card.name}{CARD_SUFFIX} (changed or "
                                f"half-copied file?)", seen=seen)
            if not read:
                return None
            record_file.seek(0)
            content = record_file.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        raise _TornPair(f"{path.name}: no record of the images {card.name} trained on beside its card (its card "
                        f"names one)", seen=seen) from None
    if len(content) > MAX_RECORD_BYTES:
        raise ModelFileError(f"{path.name}: larger than {MAX_RECORD_BYTES // 1_000_000} MB, too big for a record")
    return TrainingRecord.from_bytes(content, path.name)


def _check_card_name(card: ModelCard, card_path: Path) -> None:
    """Raise :class:`ModelFileError` unless ``card`` names the model of its file: a card copied under
    another name would show one model's story for another."""
    if f"{card.name}{CARD_SUFFIX}" != card_path.name:
        raise ModelFileError(f"{card_path.name}: the card names {card.name!r} but the file is {card_path.name} "
                             f"(copied from another model?)")


def _read_card(path: Path) -> ModelCard:
    """The checked card in ``path``, read only from a regular file and only if it is at most 1 MB."""
    try:
        with _open_regular(path) as card_file:
            data = card_file.read(MAX_CARD_BYTES + 1)
    except FileNotFoundError:
        raise _TornPair(f"{path.name}: no model card (was the model saved by digitcnn?)") from None
    if len(data) > MAX_CARD_BYTES:
        raise ModelFileError(f"{path.name}: larger than {MAX_CARD_BYTES // 1_000_000} MB, too big for a model card")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{path.name}: not UTF-8 text") from None
    return ModelCard.from_json(text, where=path.name)


def _read_keras_model(model_path: Path):
    """The model in ``model_path``, read by Keras in safe mode once its archive's size is checked."""
    import keras

    _check_unpacked_size(model_path)
    try:
        return keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a broken archive.
        detail = str(error).replace(str(model_path), model_path.name)
        raise ModelFileError(
            f"{model_path.name}: not a readable Keras model ({type(error).__name__}: {detail})"
        ) from None


def _check_unpacked_size(model_path: Path) -> None:
    """Refuse an archive whose files would unpack to more than 200 MB (a zip bomb) before Keras unpacks it.
    The sizes the archive declares bound what is unpacked: Python's zipfile reads no further."""
    try:
        with _open_regular(model_path) as model_file, zipfile.ZipFile(model_file) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except FileNotFoundError:
        raise ModelFileError(f"{model_path.name}: no model file") from None
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise ModelFileError(f"{model_path.name}: not a readable Keras model (not a zip archive: {error})") from None
    if unpacked > MAX_UNPACKED_MODEL_BYTES:
        raise ModelFileError(f"{model_path.name}: unpacks to {unpacked / 1e6:,.0f} MB, more than the "
                             f"{MAX_UNPACKED_MODEL_BYTES / 1e6:,.0f} MB a model may")


def _open_regular(path: Path):
    """``path`` open for reading, if it is a regular file (:func:`digitcnn.files.open_regular`): a named
    pipe dropped into the folder would otherwise stall its reader forever. A missing file raises
    ``FileNotFoundError``, for the caller to word; any other failure, :class:`ModelFileError`."""
    try:
        return files.open_regular(path)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise ModelFileError(f"{path.name}: cannot be read ({_reason(error)})") from None


def _sha256(opened) -> str:
    """The SHA-256 of an open file, computed once for each version of it (:func:`_version`), so that
    listing reads a model file only when it changed. The version is the open file's own: a file
    replaced between a look at its path and the read cannot be mistaken for the one before."""
    version = _version(os.fstat(opened.fileno()))
    with _checksums_lock:
        checksum = _checksums.get(version)
    if checksum is None:
        checksum = hashlib.file_digest(opened, "sha256").hexdigest()
        with _checksums_lock:
            if len(_checksums) >= _CHECKSUMS_KEPT:
                del _checksums[next(iter(_checksums))]  # the oldest
            _checksums[version] = checksum
    return checksum


def _version(status: os.stat_result) -> tuple[int, int, int, int]:
    """What tells one version of a file from another: its device and inode (a save's rename brings a new
    one), size and modification time."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _current_version(path: Path) -> tuple[int, int, int, int] | None:
    """The version of the file ``path`` names now; None when there is none."""
    try:
        return _version(os.stat(path))
    except OSError:
        return None


# --- Saving, and what killed saves leave ----------------------------------------------------------

def _write_pair(model, card: ModelCard, model_path: Path, card_path: Path, record: TrainingRecord | None) -> None:
    """Write the model (None: the one in place stays, ``card`` holds its checksum), its record (if any) and its
    card, signed with their checksums, as locked temporaries, then rename the record and the model into place
    and then the card. A save killed between the renames leaves the new card's temporary, which with the other
    leftovers completes its files (:func:`_roll_forward`). A record left by an earlier model of the name goes
    once the card without one is in place."""
    record_path = model_path.with_suffix(RECORD_SUFFIX)
    with _temporary_file(model_path) as (temporary_model, model_descriptor), \
            _temporary_file(card_path) as (temporary_card, card_descriptor), \
            _temporary_file(record_path) as (temporary_record, record_descriptor):
        model_sha256 = card.model_sha256
        if model is not None:
            portable_copy(model).save(temporary_model)
            with _open_regular(temporary_model) as written:
                model_sha256 = _sha256(written)
        trained_on = None
        if record is not None:
            content = record.to_bytes()
            temporary_record.write_bytes(content)
            trained_on = {"images": len(record), "sha256": hashlib.sha256(content).hexdigest()}
        signed = dataclasses.replace(card, model_sha256=model_sha256, trained_on=trained_on).to_json()
        ModelCard.from_json(signed, where=card_path.name)  # a card no reader would accept is not saved
        temporary_card.write_text(signed + "\n", encoding="utf-8")
        for descriptor in (model_descriptor, card_descriptor, record_descriptor):
            os.fchmod(descriptor, 0o644)  # readable by the app's other processes (mkstemp makes it private)
            os.fsync(descriptor)  # on disk before its name is: a power cut leaves no empty file under a name
        if record is not None:
            os.replace(temporary_record, record_path)
        if model is not None:
            os.replace(temporary_model, model_path)
        os.replace(temporary_card, card_path)
        if record is None:
            record_path.unlink(missing_ok=True)


@contextmanager
def _temporary_file(target: Path):
    """A fresh hidden file beside ``target`` (``.NAME.XXXXXXXX`` and its suffix), locked for as long as
    the save runs so that no one takes it for a killed save's leftover; yields its path and descriptor
    and removes it at the end unless it was renamed into place. Made while the name's lock is held, so
    no one looks for leftovers before it is locked."""
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=target.suffix)
    path = Path(name)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield path, descriptor
    finally:
        path.unlink(missing_ok=True)
        os.close(descriptor)


@contextmanager
def _name_lock(name: str, folder: Path, *, wait: bool):
    """Hold the lock on saving ``name`` (an ``flock`` on ``.NAME.lock``, created if need be); yields
    whether it is held, always when ``wait``. The lock file stays: removed, a later save could lock a
    new file while another holds the old one. The system releases a killed process's lock."""
    descriptor = os.open(folder / f".{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if wait:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield True
        else:
            yield _try_lock(descriptor, fcntl.LOCK_EX)
    finally:
        os.close(descriptor)


def _save_running(name: str, folder: Path) -> bool:
    """Whether a save of ``name`` (or a repair of what one left) holds the name's lock. Asked with a
    shared lock, so readers asking at once do not take one another for a save."""
    try:
        descriptor = os.open(folder / f".{name}.lock", os.O_RDONLY)
    except OSError:
        return False  # no lock file: no save of this name ever ran here
    try:
        return not _try_lock(descriptor, fcntl.LOCK_SH)
    finally:
        os.close(descriptor)  # releases the lock if it was taken


def _try_lock(descriptor: int, kind: int) -> bool:
    """Take the ``flock`` of ``kind`` on ``descriptor`` if no one else holds it; whether it was taken."""
    try:
        fcntl.flock(descriptor, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _recover(name: str, folder: Path) -> None:
    """Finish or discard a killed save of ``name`` (:func:`_finish_killed_save`) if one left temporaries
    and no save of that name is running. Best effort: a folder this process cannot write, such as a
    read-only one, is read as it is."""
    try:
        if not _temporaries(name, folder):
            return
        with _name_lock(name, folder, wait=False) as held:
            if held:
                _finish_killed_save(name, folder)
    except OSError:
        pass


def _finish_killed_save(name: str, folder: Path) -> None:
    """With the name's lock held: complete a killed save's commit where its leftovers complete the pair
    (:func:`_roll_forward`), then remove the leftovers, the temporaries no running save holds."""
    leftovers = [path for path in _temporaries(name, folder) if _abandoned(path)]
    used = _roll_forward(name, folder, leftovers)
    for path in leftovers:
        if path not in used:
            path.unlink(missing_ok=True)


def _roll_forward(name: str, folder: Path, leftovers: list[Path]) -> set[Path]:
    """If the files in place do not match their card and leftovers complete the files a card names, rename
    them into place, the card last; returns the leftovers used. The card in place is tried first (a save that
    renamed its card first left its model), then each leftover card (a save killed between its renames)."""
    model_path, card_path = model_paths(name, folder)
    in_place = {MODEL_SUFFIX: model_path, RECORD_SUFFIX: model_path.with_suffix(RECORD_SUFFIX)}
    for candidate in [card_path, *(path for path in leftovers if path.suffix == CARD_SUFFIX)]:
        card = _card_or_none(candidate)
        if card is None or not card.model_sha256:
            continue
        wanted = {MODEL_SUFFIX: card.model_sha256, RECORD_SUFFIX: card.trained_on and card.trained_on["sha256"]}
        moves = []
        for suffix, checksum in wanted.items():
            if not checksum or _file_sha256(in_place[suffix]) == checksum:
                continue
            found = next((path for path in leftovers if path.suffix == suffix and _file_sha256(path) == checksum),
                         None)
            if found is None:
                break
            moves.append((found, in_place[suffix]))
        else:
            if candidate != card_path:
                moves.append((candidate, card_path))
            for leftover, target in moves:
                os.replace(leftover, target)
            return {leftover for leftover, _ in moves}
    return set()


def _temporaries(name: str, folder: Path) -> list[Path]:
    """The hidden temporaries of saves of ``name`` in ``folder``, running or killed."""
    return [folder / entry for entry in os.listdir(folder)
            if (temporary := _TEMPORARY_PATTERN.fullmatch(entry)) and temporary["name"] == name]


def _abandoned(temporary: Path) -> bool:
    """Whether no running save holds ``temporary``'s lock: its writer was killed, and the system released
    the lock with it."""
    try:
        descriptor = os.open(temporary, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False  # removed meanwhile
    try:
        return _try_lock(descriptor, fcntl.LOCK_EX)
    finally:
        os.close(descriptor)


def _file_sha256(path: Path) -> str | None:
    """The SHA-256 of the regular file ``path``; None when it cannot be read."""
    try:
        with _open_regular(path) as opened:
            return _sha256(opened)
    except OSError:
        return None


def _card_or_none(path: Path) -> ModelCard | None:
    """The card in ``path``; None when it is not a readable card."""
    try:
        return _read_card(path)
    except ModelFileError:
        return None


def _reason(error: OSError) -> str:
    """What went wrong, without the file's path (an ``OSError``'s text names it in full)."""
    return error.strerror or str(error)
