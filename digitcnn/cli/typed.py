"""What the user typed that names a file or folder: one that is not there is named as typed.

The library names files by their names alone (it serves a shared server too, whose users need not see its folders)
and the same form words it (:func:`digitcnn.errors.not_found`); on the command line the user typed the path on
their own machine, so the message gives it back whole (``no picture file named 'photos/one.png'``)."""

from __future__ import annotations

import os

from digitcnn import data
from digitcnn.errors import DataError, DigitCNNError, not_found


def typed_path(typed: str, what: str, error: type[DigitCNNError] = DataError) -> str:
    """``typed`` if there is something at that path; else raises ``error``: no ``what`` named ``typed``."""
    if not os.path.lexists(typed):
        raise error(not_found(what, typed))
    return typed


def typed_dataset(typed: str) -> data.Dataset:
    """The dataset ``--data`` names: one of :data:`digitcnn.data.NAMED_SOURCES`, or a file or folder."""
    if typed not in data.NAMED_SOURCES:
        typed_path(typed, "data file or folder")
    return data.load_dataset(typed)
