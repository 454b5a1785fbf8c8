"""The model card, ``models/NAME.json``: what a saved model is, what it learned from, how, and how well it scores
(:class:`ModelCard`), in the format :data:`CARD_FORMAT`. A card names its model, whose files are named after it
(:func:`validate_model_name`, :func:`model_paths`), and is signed with the SHA-256 of its model file,
``NAME.keras``, and of its record of the images it trained on, ``NAME.seen`` (:mod:`digitcnn.storage.atomic_save`
writes the three together).

A card is checked field by field before anything uses it: anyone can edit a card or drop one into the folder,
and pages use its numbers and rebuild its ``TrainingConfig``. Each field's type is read from its annotation, each
number's range is declared in ``_CARD_RANGES``, and anything wrong raises :class:`ModelFileError` naming the file.

Why one module: a card's three makers (a training, a fine-tune, an import) and its checks change together: a field
one of them writes is a field the checks read, and a card that passes the checks is one a maker could have written.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import json
import math
import os
import platform
import re
import reprlib
import sys
import types
import typing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from digitcnn import config
from digitcnn.networks.calibration import TEMPERATURE_BOUNDS
from digitcnn.errors import ModelFileError, SettingsError
from digitcnn.networks.adapting import INPUT_SHAPES, OUTPUT_KINDS, PIXEL_RANGES
from digitcnn.networks.architectures import CLASS_COUNT, IMPORTED
from digitcnn.reading.refusal import NEVER_REFUSE, RefusalRule
from digitcnn.training import TrainingConfig

CARD_FORMAT = "digitcnn-model-card/1"
MODEL_SUFFIX = ".keras"
CARD_SUFFIX = ".json"
RECORD_SUFFIX = ".seen"
SPLIT_METHODS = ("holdout", "own")
MAX_CARD_BYTES = 4_000_000  # a card is a few kB, with its rule's prototypes up to 2.7 MB (refusal.PROTOTYPE_NUMBERS)
MAX_RECORD_BYTES = 16_000_000  # 2 million images; a dataset holds at most 127,551 (data.MAX_PIXELS), fine-tunes add few
MODEL_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
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
    # How a network made elsewhere was imported (see from_import); None: made here. Its training is not known.
    imported: dict | None = None

    @property
    def test_images_seen(self) -> int | None:
        """How many of the images its test scores are on it trained on (0: they are test scores); None when not
        known. A card from before records that was trained, not fine-tuned, held its test images out of its
        training (see :func:`digitcnn.training.make_split`): 0. What an imported network trained on is not known."""
        if self.test_seen is not None:
            return self.test_seen
        return 0 if self.fine_tuned is None and self.architecture != IMPORTED else None

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

    @functools.cached_property  # read once: its prototypes are 2.5 MB of text to decode
    def refusal_rule(self) -> RefusalRule:
        """The model's rule for saying "not a digit"; a card written before there were rules never refuses."""
        return NEVER_REFUSE if self.refusal is None else RefusalRule.from_dict(self.refusal)

    @property
    def origin(self) -> str:
        """Where the model comes from, in words: "trained on SOURCE", or for an imported one "imported from FILE"."""
        if self.imported is not None:
            return f"imported from {self.imported['file']}, trained elsewhere"
        return f"trained on {self.data_source}"

    @property
    def epochs(self) -> int | None:
        """How many epochs it trained for; None for an imported network (trained elsewhere)."""
        return None if self.architecture == IMPORTED else self.training_config.epochs

    def to_json(self) -> str:
        """The card as indented JSON."""
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> ModelCard:
        """The card in ``data``, a card file's first ``MAX_CARD_BYTES + 1`` bytes (so that a larger file is refused
        unread), checked as :meth:`from_json` checks it."""
        if len(data) > MAX_CARD_BYTES:
            raise ModelFileError(f"{where}: larger than {MAX_CARD_BYTES // 1_000_000} MB, too big for a model card")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ModelFileError(f"{where}: not UTF-8 text") from None
        return cls.from_json(text, where=where)

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

    @classmethod
    def from_import(cls, name: str, model, split, train_evaluation, test_evaluation, refusal: RefusalRule,
                    settings: TrainingConfig, imported: dict) -> ModelCard:
        """The card of a network made elsewhere (see :mod:`digitcnn.storage.importing`), scored on the ``split`` of the
        data it was imported with: how it trained is not known, so neither are its epochs or which of those images
        it saw (its scores are never called test scores); ``settings`` are the split's and the reading's (no
        architecture: it has none of this project's); ``imported`` says what was found in its file."""
        return cls(
            name=validate_model_name(name),
            architecture=IMPORTED,
            parameter_count=int(model.count_params()),
            data_source=split.source,
            train_size=len(split.train),
            test_size=len(split.test),
            split_method=split.method,
            settings={key: value for key, value in settings.to_dict().items() if key in IMPORTED_SETTINGS},
            train_accuracy=train_evaluation.accuracy,
            test_accuracy=test_evaluation.accuracy,
            test_loss=test_evaluation.loss,
            confusion_matrix=test_evaluation.confusion_matrix.tolist(),
            training_seconds=0.0,
            refusal=refusal.to_dict(),
            versions=library_versions(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            imported=imported,
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


def validate_model_name(name: str) -> str:
    """``name`` if it is a safe file name (letters, digits, ``-`` and ``_``; 64 at most)."""
    if not isinstance(name, str) or not MODEL_NAME_PATTERN.fullmatch(name):
        raise SettingsError(
            f"model name {name!r} is not allowed: use 1–64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return name


def model_paths(name: str, models_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """The model file and the card file of the model called ``name``."""
    folder = config.models_dir(models_dir)
    name = validate_model_name(name)
    return folder / f"{name}{MODEL_SUFFIX}", folder / f"{name}{CARD_SUFFIX}"


def library_versions() -> dict:
    """The versions of Python and the libraries a model was trained with."""
    import numpy

    from digitcnn.version import __version__

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
    if card.imported is not None:
        _check_imported(card.imported, f"{where}: imported")
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
# The settings an imported network's card holds: how its scores were measured (the split of the data and the reading)
# and what a fine-tune of it takes from its base (no label smoothing, augmentation or non-digits: not known to it).
IMPORTED_SETTINGS = ("test_fraction", "seed", "stratify", "test_set", "reading", "augment", "label_smoothing",
                     "non_digit_share")
_IMPORTED_KINDS = {"file": (str,), "sha256": (str,), "input_shape": (list,), "pixels": (str,), "outputs": (str,),
                   "accuracy_by_pixels": (dict,)}


def _check_imported(record: dict, where: str) -> None:
    """Raise :class:`ModelFileError` unless ``record`` is what :meth:`ModelCard.from_import` writes."""
    _check_entries(record, _IMPORTED_KINDS, where)
    accuracies = record["accuracy_by_pixels"]
    if tuple(record["input_shape"]) not in INPUT_SHAPES or record["pixels"] not in PIXEL_RANGES \
            or record["outputs"] not in OUTPUT_KINDS or not _SHA256_PATTERN.fullmatch(record["sha256"]) \
            or set(accuracies) - set(PIXEL_RANGES) or not all(
                _is_of_kind(value, (float,)) and 0 <= value <= 1 for value in accuracies.values()):
        raise ModelFileError(f"{where}: should give the file's SHA-256, the input shape (one of "
                             f"{', '.join(map(str, INPUT_SHAPES))}), the pixels ({' or '.join(PIXEL_RANGES)}), the "
                             f"outputs ({' or '.join(OUTPUT_KINDS)}) and accuracies from 0 to 1")


_FINE_TUNED_KINDS = {"base_model": (str,), "writer": (str,), "drawings": (int,), "personal_test_size": (int,),
                     "replayed": (int,), "settings": (dict,), "before": (dict,), "after": (dict,)}
_SCORES_KINDS = {"personal_test_accuracy": (float, type(None)), "data_test_accuracy": (float,),
                 "per_digit_accuracy": (list,)}


def _check_fine_tuned(record: dict, where: str) -> None:
    """Raise :class:`ModelFileError` unless ``record`` is what :meth:`ModelCard.from_fine_tune` writes: the base
    model's name, the writer's, the numbers of drawings, of those kept apart to test and of replayed digits,
    valid fine-tune settings, and scores from 0 to 1 before and after. Entries this version does not know are
    ignored (a newer digitcnn's)."""
    from digitcnn.data.writers import writer_name
    from digitcnn.training.finetune_config import FineTuneConfig

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
    if architecture == IMPORTED and set(settings) - set(IMPORTED_SETTINGS):
        raise ModelFileError(f"{where}: an imported network's settings hold only {', '.join(IMPORTED_SETTINGS)}")
    try:
        config = TrainingConfig(**settings)
    except (TypeError, ValueError) as error:  # SettingsError is a ValueError
        raise ModelFileError(f"{where}: settings: {error}") from None
    if config.architecture != architecture and architecture != IMPORTED:
        raise ModelFileError(f"{where}: architecture {architecture!r} but its settings say {config.architecture!r}")
