"""Saving a model, its record of the images it trained on and its card so that they change together as readers
see them, and finishing what a killed save left. Several people save and read at once, and a save can be
killed at any moment:

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

A file's SHA-256 is remembered for each version of it (:func:`file_version`), so that listing reads a model
file only when it changed. The registry (:mod:`digitcnn.storage.registry`) saves through :func:`write_pair`,
under :func:`name_lock`, and its readers ask :func:`save_running` and :func:`current_version`.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import os
import re
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from digitcnn import files
from digitcnn.errors import ModelFileError
from digitcnn.networks.architectures import portable_copy
from digitcnn.data.seen import TrainingRecord
from digitcnn.storage.card import (CARD_SUFFIX, MAX_CARD_BYTES, MODEL_NAME_PATTERN, MODEL_SUFFIX, RECORD_SUFFIX,
                                   ModelCard, model_paths)

TEMPORARY_PATTERN = re.compile(  # tempfile.mkstemp's random part is made of [a-z0-9_]
    rf"\.(?P<name>{MODEL_NAME_PATTERN.pattern})\.[a-z0-9_]+"
    rf"({re.escape(MODEL_SUFFIX)}|{re.escape(CARD_SUFFIX)}|{re.escape(RECORD_SUFFIX)})"
)
_CHECKSUMS_KEPT = 256
_checksums: dict[tuple[int, int, int, int], str] = {}  # a file's version (see file_version) → its SHA-256
_checksums_lock = threading.Lock()


# --- Saving, and what killed saves leave ----------------------------------------------------------

def write_pair(model, card: ModelCard, model_path: Path, card_path: Path, record: TrainingRecord | None) -> None:
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
            with open_for_reading(temporary_model) as written:
                model_sha256 = sha256_of(written)
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
def name_lock(name: str, folder: Path, *, wait: bool):
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


def save_running(name: str, folder: Path) -> bool:
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


def recover(name: str, folder: Path) -> None:
    """Finish or discard a killed save of ``name`` (:func:`finish_killed_save`) if one left temporaries
    and no save of that name is running. Best effort: a folder this process cannot write, such as a
    read-only one, is read as it is."""
    try:
        if not _temporaries(name, folder):
            return
        with name_lock(name, folder, wait=False) as held:
            if held:
                finish_killed_save(name, folder)
    except OSError:
        pass


def finish_killed_save(name: str, folder: Path) -> None:
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
            if (temporary := TEMPORARY_PATTERN.fullmatch(entry)) and temporary["name"] == name]


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
        with open_for_reading(path) as opened:
            return sha256_of(opened)
    except OSError:
        return None


def _card_or_none(path: Path) -> ModelCard | None:
    """The card in ``path``; None when it is not a readable card."""
    try:
        with open_for_reading(path) as card_file:
            return ModelCard.from_bytes(card_file.read(MAX_CARD_BYTES + 1), where=path.name)
    except (FileNotFoundError, ModelFileError):
        return None


# --- Reading the folder's files, and telling their versions apart --------------------------------------

def open_for_reading(path: Path):
    """``path`` open for reading, if it is a regular file (:func:`digitcnn.files.open_regular`): a named
    pipe dropped into the folder would otherwise stall its reader forever. A missing file raises
    ``FileNotFoundError``, for the caller to word; any other failure, :class:`ModelFileError`."""
    try:
        return files.open_regular(path)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise ModelFileError(f"{path.name}: cannot be read ({files.reason(error)})") from None


def sha256_of(opened) -> str:
    """The SHA-256 of an open file, computed once for each version of it (:func:`file_version`), so that
    listing reads a model file only when it changed. The version is the open file's own: a file
    replaced between a look at its path and the read cannot be mistaken for the one before."""
    version = file_version(os.fstat(opened.fileno()))
    with _checksums_lock:
        checksum = _checksums.get(version)
    if checksum is None:
        checksum = hashlib.file_digest(opened, "sha256").hexdigest()
        with _checksums_lock:
            if len(_checksums) >= _CHECKSUMS_KEPT:
                del _checksums[next(iter(_checksums))]  # the oldest
            _checksums[version] = checksum
    return checksum


def file_version(status: os.stat_result) -> tuple[int, int, int, int]:
    """What tells one version of a file from another: its device and inode (a save's rename brings a new
    one), size and modification time."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def current_version(path: Path) -> tuple[int, int, int, int] | None:
    """The version of the file ``path`` names now; None when there is none."""
    try:
        return file_version(os.stat(path))
    except OSError:
        return None
