"""The drawings people keep, to teach a model their handwriting: the store every session shares (SQLite, see
digitcnn.data.drawings), and this user's part of it: whose drawings they keep (a name they share them under, or
their browser's own private writer), keeping one, deleting one and putting it back.

This module owns the session state of My drawings: the writer's name, what this session kept and deleted, and
why the last keep or delete failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import streamlit as st

from digitcnn import config
from digitcnn.errors import DigitCNNError
from ui import identity

YOU = "you (this browser)"  # how the page names a user's private writer (see writer())

_WRITER = "writer"  # the name this user shares their drawings under, if they typed one
_KEPT = "kept_drawings"  # image digest → id of the drawings this session kept, so one drawing is kept once
_KEEP_ERROR = "keep_error"  # why the last drawing could not be kept
_DELETED = "deleted_drawings"  # the drawings this session deleted, last first: what Undo puts back
_DELETE_ERROR = "delete_error"  # why the last Delete or Undo of a drawing did nothing
WRITER_FIELD = "writer_field"  # the sidebar's field for the writer's name


@st.cache_resource
def _drawing_store_at(path: str):
    from digitcnn.data.drawings import DrawingStore

    return DrawingStore(path)


def drawing_store():
    """The store of kept drawings (``data/drawings.sqlite`` or ``$DIGITCNN_DRAWINGS_DB``), shared by every
    session; raises :class:`~digitcnn.errors.DigitCNNError` when the file cannot be used."""
    return _drawing_store_at(str(config.drawings_db()))


def writer() -> str:
    """Whose drawings this user keeps, sees, deletes and teaches: the name they chose to share them under (typed in
    the sidebar: anyone who types it shares them), else this browser's own private writer, whose drawings nobody
    else sees (see :func:`ui.identity.browser_key`)."""
    from digitcnn.data.writers import private_writer

    return st.session_state.get(_WRITER) or private_writer(identity.browser_key())


def shared_name() -> str | None:
    """The name this user shares their drawings under, if they typed one."""
    return st.session_state.get(_WRITER)


def writer_shown() -> str:
    """The writer as the page names it to this user: the shared name, or :data:`YOU`."""
    return shared_name() or YOU


def set_writer(name: str) -> None:
    """Share this user's drawings under ``name`` from now on; an empty one keeps them private again."""
    st.session_state[_WRITER] = name.strip()


def fill_writer_field() -> None:
    """Show the shared name in the sidebar's field for it, unless the user is already editing it there."""
    st.session_state.setdefault(WRITER_FIELD, shared_name() or "")


def keep_drawing(label: int, digit, canvas_png: bytes | None, card, reading) -> None:
    """Keep ``digit`` (the 28×28 the model saw, in [0, 1]) labelled ``label`` for this user's writer, with
    what the model ``card.name`` answered. The same drawing is kept once: keeping it again (with another
    label, say) replaces the first. Run as a button's callback: a failure is remembered as a message
    (see :func:`keep_error`), and the drawing stays on the canvas."""
    digest = _digest(digit)
    kept = st.session_state.setdefault(_KEPT, {})
    st.session_state.pop(_KEEP_ERROR, None)
    try:
        store = drawing_store()
        drawing_id = store.add(writer(), label, digit, canvas_png, card.name, reading.digit, float(reading.score))
    except DigitCNNError as error:
        st.session_state[_KEEP_ERROR] = f"Not kept: {error}"
        return
    previous, kept[digest] = kept.get(digest), drawing_id
    if previous not in (None, drawing_id):  # the same drawing kept before, under another label
        try:
            store.delete(previous)
        except DigitCNNError:
            pass  # already deleted, on the dataset browser


def keep_error() -> str | None:
    """Why the last drawing could not be kept, if it could not."""
    return st.session_state.get(_KEEP_ERROR)


def kept_label(digit) -> int | None:
    """The label this session kept ``digit`` under, if it did and it is still kept."""
    drawing_id = st.session_state.get(_KEPT, {}).get(_digest(digit))
    if drawing_id is None:
        return None
    try:
        return drawing_store().get(drawing_id).label
    except DigitCNNError:
        return None


def _digest(digit) -> str:
    """A short digest of a drawing's pixels as the store keeps them: the same drawing, the same digest."""
    from digitcnn.data.drawings import image_bytes

    return hashlib.blake2b(image_bytes(digit), digest_size=12).hexdigest()


def my_drawings_csv() -> Callable[[], bytes]:
    """What makes this user's writer's kept digits into a CSV in the tutorial's format, when called: a download
    button calls it once clicked, in a thread of its own (so it reads nothing from the session), instead of every
    run of the page exporting them all for a click that may never come."""
    import tempfile
    from pathlib import Path

    store, name = drawing_store(), writer()

    def export() -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            return store.export_csv(Path(folder) / "my-drawings.csv", name).read_bytes()

    return export


def delete_drawing(drawing_id: int) -> None:
    """Delete one of this user's writer's drawings; :func:`undo_delete` puts it back (this session only). Run as
    a button's callback: one already gone (deleted in another tab, or by someone sharing the name) or that
    cannot be deleted is remembered as a message (see :func:`delete_error`)."""
    store = drawing_store()
    st.session_state.pop(_DELETE_ERROR, None)
    try:
        deleted = store.delete(drawing_id, writer())
    except DigitCNNError as error:
        st.session_state[_DELETE_ERROR] = (f"Drawing #{drawing_id} was not deleted: {error}"
                                           if _still_kept(drawing_id) else
                                           f"Drawing #{drawing_id} had been deleted already (in another tab, or by "
                                           f"someone who shares your name).")
        return
    st.session_state.setdefault(_DELETED, []).append(deleted)


def _still_kept(drawing_id: int) -> bool:
    try:
        return drawing_store().get(drawing_id).writer == writer()
    except DigitCNNError:
        return False


def delete_error() -> str | None:
    """Why this user's last Delete or Undo of a drawing did nothing, if it did: said once, then forgotten."""
    return st.session_state.pop(_DELETE_ERROR, None)


def last_deleted():
    """The drawing this session deleted last and has not put back, if any."""
    deleted = st.session_state.get(_DELETED)
    return deleted[-1] if deleted else None


def undo_delete() -> None:
    """Put back the drawing this session deleted last (run as a button's callback: a failure is a message, see
    :func:`delete_error`)."""
    deleted = st.session_state.get(_DELETED)
    st.session_state.pop(_DELETE_ERROR, None)
    if deleted:
        try:
            drawing_store().restore(deleted[-1])
        except DigitCNNError as error:
            st.session_state[_DELETE_ERROR] = f"Not put back: {error}"
            return
        deleted.pop()
