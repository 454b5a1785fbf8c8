"""Saved models: ``models/NAME.keras`` plus ``models/NAME.json``, its model card, and ``models/NAME.seen``,
the record of the images it trained on (:mod:`digitcnn.data.seen`; a model saved without one has none).

The record is a file of its own, not a field of the card: full MNIST's 60,000 fingerprints are 480 kB
(about 1.1 MB as JSON text, over a card's limit), and listing the models reads every card, which stays a few kB.
The card (:mod:`digitcnn.storage.card`: its format and its checks) records the SHA-256 of the model file and
of the record, so files that do not belong together are caught on load. Several people save and read at once,
and a save can be killed at any moment, so a model, its record and its card change together as readers see
them (:mod:`digitcnn.storage.atomic_save`: how a save writes them, how a reader tells a save running from a
broken model, and how what a killed save left is finished or removed).

A file is read only if it is a regular file of a bounded size, so no file dropped into the folder can crash or
stall a page. Loading uses Keras's safe mode. Messages name files, never the server's paths.

:class:`ModelCard`, :func:`validate_model_name`, :func:`model_paths` and the files' suffixes, which this
module's functions take, give and use, are defined in :mod:`digitcnn.storage.card` and named here too: a caller
of the registry needs no second import.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from digitcnn import config, files
from digitcnn.errors import ModelFileError, ModelNotFoundError, SettingsError, not_found
from digitcnn.data import IMAGE_SIDE
from digitcnn.networks.architectures import CLASS_COUNT, register_custom_objects
from digitcnn.data.seen import TrainingRecord
from digitcnn.storage.card import (CARD_SUFFIX, MAX_CARD_BYTES, MAX_RECORD_BYTES, MODEL_SUFFIX, RECORD_SUFFIX,
                                   ModelCard, model_paths, validate_model_name)
from digitcnn.storage import atomic_save

SHIPPED_MODEL_NAMES = (config.DEFAULT_MODEL_NAME,)  # made by the command line; the app does not replace them
MAX_UNPACKED_MODEL_BYTES = 200_000_000  # the article network unpacks to 2.5 MB; a zip bomb to far more
_SAVE_PATIENCE_SECONDS = 2.0  # how long a reader waits for a running save to bring a model and its card together
_RETRY_SECONDS = 0.005
_LOAD_ATTEMPTS = 3  # loads of a model file that saves keep replacing while Keras reads it


@dataclass(frozen=True)
class SavedModel:
    """One entry of the models folder: its card, or why it cannot be used."""

    name: str
    card: ModelCard | None
    problem: str | None = None


class _TornPair(ModelFileError):
    """A model without its card, or with a card that does not match it: what a reader finds between a
    save's two renames, or when a whole save lands between its reading of the card and of the model, and then
    no damage. ``seen`` is the versions (:func:`atomic_save.file_version`) of the model file and the card that it
    read, when it read both."""

    def __init__(self, message: str, seen: tuple | None = None):
        super().__init__(message)
        self.seen = seen


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
        reason = "not a folder" if isinstance(error, (FileExistsError, NotADirectoryError)) else files.reason(error)
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
        with atomic_save.name_lock(card.name, folder, wait=True):
            atomic_save.finish_killed_save(card.name, folder)
            atomic_save.write_pair(model, card, model_path, card_path, trained_on)
    except OSError as error:
        raise ModelFileError(f"{model_path.name}: cannot be saved ({files.reason(error)})") from None
    return model_path


def attach_training_record(name: str, record: TrainingRecord, test_seen: int,
                           models_dir: str | os.PathLike | None = None) -> Path:
    """Give the saved model ``name`` its ``record`` of the images it trained on, ``test_seen`` of its test images
    among them, its model file unchanged: for a model saved before models kept records (the command line's
    ``record``). Saved as :func:`save_model` saves; returns the record's file."""
    model_path, card_path = model_paths(name, models_dir)
    folder = check_writable(model_path.parent)
    try:
        with atomic_save.name_lock(name, folder, wait=True):
            atomic_save.finish_killed_save(name, folder)
            card = _checked_pair(name, folder)[1]
            atomic_save.write_pair(None, dataclasses.replace(card, test_seen=test_seen), model_path, card_path, record)
    except OSError as error:
        raise ModelFileError(f"{name}{RECORD_SUFFIX}: cannot be saved ({files.reason(error)})") from None
    return model_path.with_suffix(RECORD_SUFFIX)


def load_model(name: str, models_dir: str | os.PathLike | None = None):
    """Load the model called ``name`` in Keras's safe mode; returns ``(model, card)``, the two of one
    save: a model file that a save replaces while Keras reads it is read again."""
    register_custom_objects()  # the project's own classes, which older files name, before Keras reads one
    for _ in range(_LOAD_ATTEMPTS):
        model_path, card, version, _ = _model_file_and_card(name, models_dir)
        model = read_keras_model(model_path)
        if atomic_save.current_version(model_path) == version:
            check_model_shape(model, model_path.name)
            return model, card
    raise ModelFileError(f"{model_path.name}: replaced by other saves each time it was read; try again")


def read_model_file(name: str, models_dir: str | os.PathLike | None = None) -> tuple[bytes, ModelCard]:
    """The bytes of the saved model file ``name`` and its card, the two of one save (checked against the card's
    checksum: a save that replaced the file meanwhile is caught), without loading it: what an export sends."""
    model_path, card, _, _ = _model_file_and_card(name, models_dir)
    try:
        with files.open_regular(model_path) as model_file:
            content = model_file.read()
    except OSError as error:
        raise ModelFileError(f"{model_path.name}: cannot be read ({files.reason(error)})") from None
    if card.model_sha256 and hashlib.sha256(content).hexdigest() != card.model_sha256:
        raise ModelFileError(f"{model_path.name}: saved again while it was being read; try again")
    return content, card


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
            return Predictor(keras_model, card.refusal_rule, card.reading, flatbuffer=kept.read(), card=card), card
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
    return Predictor(lambda: model, card.refusal_rule, card.reading, flatbuffer=flatbuffer, card=card), card


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
        raise ModelFileError(f"the models folder cannot be read ({files.reason(error)})") from None
    for name in interrupted:
        atomic_save.recover(name, folder)
    return [_listed(name, folder) for name in sorted(names)]


# --- Reading a model and its card ---------------------------------------------------------------

def _scan(folder: Path) -> tuple[set[str], set[str]]:
    """The names of the models in ``folder`` (each visible ``.keras`` and ``.json`` file's), and the
    names that saves, running or killed, have temporaries of."""
    names, interrupted = set(), set()
    for entry in os.listdir(folder):
        stem, suffix = os.path.splitext(entry)
        if temporary := atomic_save.TEMPORARY_PATTERN.fullmatch(entry):
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
    atomic_save.recover(name, model_path.parent)
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
            if time.monotonic() > deadline:
                raise
            if not (atomic_save.save_running(name, folder) or _replaced_since(torn, name, folder)):
                raise
        time.sleep(_RETRY_SECONDS)


def _replaced_since(torn: _TornPair, name: str, folder: Path) -> bool:
    """Whether the model file or the card of ``name`` is another version than the torn read saw."""
    return torn.seen is not None and torn.seen != tuple(map(atomic_save.current_version, model_paths(name, folder)))


def _checked_pair(name: str, folder: Path, *, read_record: bool = False
                  ) -> tuple[Path, ModelCard, tuple, TrainingRecord | None]:
    """The model's file, its card, the version (:func:`atomic_save.file_version`) of the file that matched the card's
    checksum, and with ``read_record`` the record of the images it trained on (None: it has none; always None
    without ``read_record``: the record's checksum is checked all the same). The card's name is checked last:
    files that do not match their card say more."""
    model_path, card_path = model_paths(name, folder)
    card_version = atomic_save.current_version(card_path)  # before the read: a card replaced after it differs
    card = _read_card(card_path)
    try:
        with atomic_save.open_for_reading(model_path) as model_file:
            version = atomic_save.file_version(os.fstat(model_file.fileno()))
            if card.model_sha256 and atomic_save.sha256_of(model_file) != card.model_sha256:
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
        with atomic_save.open_for_reading(path) as record_file:
            if atomic_save.sha256_of(record_file) != card.trained_on["sha256"]:
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
    """The checked card in ``path``, read only from a regular file and only if it is at most
    :data:`MAX_CARD_BYTES`; the same bytes read before under the same name are not checked again
    (:data:`_READ_CARDS`)."""
    try:
        with atomic_save.open_for_reading(path) as card_file:
            data = card_file.read(MAX_CARD_BYTES + 1)
    except FileNotFoundError:
        raise _TornPair(f"{path.name}: no model card (was the model saved by digitcnn?)") from None
    identity = (path.name, hashlib.blake2b(data, digest_size=16).digest())
    with _READ_CARDS_LOCK:
        card = _READ_CARDS.get(identity)
    if card is None:
        card = ModelCard.from_bytes(data, where=path.name)
        with _READ_CARDS_LOCK:
            _READ_CARDS[identity] = card
            while len(_READ_CARDS) > _READ_CARDS_KEPT:
                del _READ_CARDS[next(iter(_READ_CARDS))]  # the oldest read
    return card


# Cards checked, by file name and content: a page lists the saved models at every rerun, and a card with its rule's
# prototypes (2.5 MB) took 10–30 ms to parse and check, against 3 ms to read and hash. Cards are frozen: one copy
# serves every reader.
_READ_CARDS: dict[tuple, ModelCard] = {}
_READ_CARDS_LOCK = threading.Lock()
_READ_CARDS_KEPT = 64


def read_keras_model(model_path: Path, where: str | None = None):
    """The model in ``model_path``, read by Keras in safe mode once its archive's size is checked; messages name it
    ``where`` (by default the file's name)."""
    import keras

    where = where or model_path.name
    check_unpacked_size(model_path, where)
    try:
        return keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a broken archive.
        detail = str(error).replace(str(model_path), where)
        raise ModelFileError(f"{where}: not a readable Keras model ({type(error).__name__}: {detail})") from None


def check_unpacked_size(model_path: Path, where: str | None = None) -> None:
    """Refuse an archive whose files would unpack to more than 200 MB (a zip bomb) before Keras unpacks it.
    The sizes the archive declares bound what is unpacked: Python's zipfile reads no further."""
    where = where or model_path.name
    try:
        with atomic_save.open_for_reading(model_path) as model_file, zipfile.ZipFile(model_file) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except FileNotFoundError:
        raise ModelFileError(f"{where}: no model file") from None
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise ModelFileError(f"{where}: not a readable Keras model (not a zip archive: {error})") from None
    if unpacked > MAX_UNPACKED_MODEL_BYTES:
        raise ModelFileError(f"{where}: unpacks to {unpacked / 1e6:,.0f} MB, more than the "
                             f"{MAX_UNPACKED_MODEL_BYTES / 1e6:,.0f} MB a model may")
