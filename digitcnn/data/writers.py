"""Whose drawings they are: the one rule for writers' names, of kept drawings and of fine-tunings.

A *writer* is either a name people type (anyone who types it shares its drawings: the command line's
``--writer``, a name typed in the app) or a private writer, one browser's own (see :func:`private_writer`),
never shown by its key: :func:`shown_writer` names it :data:`PRIVATE_WRITER`.
"""

from __future__ import annotations

import re

from digitcnn.errors import SettingsError

MAX_WRITER_LENGTH = 64
PRIVATE_WRITER = "a private writer"  # how one browser's own writer is named wherever people may read it
# A private writer is this mark and a browser's key. The mark is a control character that is not a blank (so no
# strip() takes it off), which no typed name can hold (names are printable): nobody can type their way into it.
_PRIVATE_MARK = "\x01"
_PRIVATE_KEY = re.compile(r"[0-9a-f]{16,64}")
_SHOWN_NAME_LENGTH = 40  # a name in an error is cut to this many characters: the error is one line


def writer_name(writer) -> str:
    """``writer`` trimmed, if it is a name of 1 to :data:`MAX_WRITER_LENGTH` printable characters (or a
    :func:`private_writer`, as it is): the one rule for writers' names, of kept drawings and of fine-tunings."""
    if is_private(writer):
        return writer
    name = writer.strip() if isinstance(writer, str) else None
    if not name or len(name) > MAX_WRITER_LENGTH or not name.isprintable():
        shown = repr(writer)
        if len(shown) > _SHOWN_NAME_LENGTH:  # the message stays one readable line, whatever was typed
            shown = f"{shown[:_SHOWN_NAME_LENGTH]}… ({len(writer):,} characters)"
        raise SettingsError(f"writer {shown} is not a name: the writer's name must be 1–{MAX_WRITER_LENGTH} "
                            f"printable characters")
    return name


def private_writer(key: str) -> str:
    """The writer one browser keeps its drawings as when they are shared under no name: ``key`` (the browser's
    own, 16–64 hex digits, see ``ui.identity``) marked so that no typed name can be it."""
    if not isinstance(key, str) or not _PRIVATE_KEY.fullmatch(key):
        raise SettingsError("a private writer's key must be 16–64 hex digits")
    return _PRIVATE_MARK + key


def is_private(writer) -> bool:
    """Whether ``writer`` is a :func:`private_writer`."""
    return (isinstance(writer, str) and writer.startswith(_PRIVATE_MARK)
            and bool(_PRIVATE_KEY.fullmatch(writer[len(_PRIVATE_MARK):])))


def shown_writer(writer) -> str:
    """``writer`` as people may read it (on a model card, in a list): its name, or :data:`PRIVATE_WRITER` for
    a private writer, whose key is never shown."""
    return PRIVATE_WRITER if is_private(writer) else writer_name(writer)
