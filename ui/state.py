"""Heavy objects shared by every session (st.cache_resource) and each user's own choices
(st.session_state): the active dataset, the active model, the user's training job.

This module owns session state: every write to it is made here. The app's choices live under keys
of its own, read and changed through the functions here; the widgets that the app sets from code
have their keys named here, with the setters (other files may read a widget's value by its key).
"""

from __future__ import annotations

import functools
import gc
import hashlib
import sys
import threading
import time
from collections.abc import Callable

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from digitcnn import config, data
from digitcnn.storage import registry
from digitcnn.data import Dataset
from digitcnn.errors import DigitCNNError
from digitcnn.jobs.board import JobBoard, TrainingJob, server_board
from ui import identity

UPLOAD = "upload"  # the data-source choice that means "the CSV this user uploaded"
MY_DRAWINGS = "my-drawings"  # the data-source choice that means "the drawings this user's writer kept"
YOU = "you (this browser)"  # how the page names a user's private writer (see writer())

_ACTIVE_SOURCE = "active_source"  # the data source in use
_UPLOADED_DATASET = "uploaded_dataset"  # the dataset of this user's last good upload
_SOURCE_ERROR = "source_error"  # why the last data switch failed, until one succeeds
_ACTIVE_MODEL = "active_model"  # the model the user picked for drawings (kept while it is briefly unusable)
_SAVE_ERROR = "save_error"  # why the last save failed
_WRITER = "writer"  # the name this user shares their drawings under, if they typed one
_KEPT = "kept_drawings"  # image digest → id of the drawings this session kept, so one drawing is kept once
_KEEP_ERROR = "keep_error"  # why the last drawing could not be kept
_DELETED = "deleted_drawings"  # the drawings this session deleted, last first: what Undo puts back
_DELETE_ERROR = "delete_error"  # why the last Delete or Undo of a drawing did nothing
_UPLOADS = "csv_uploads"  # how many CSVs this session has loaded: part of the uploader's key
_PICKED_CELL = "picked_cell"  # the confusion-matrix cell last clicked on Train & evaluate
_BROWSE_SEED = "browse_seed"  # the dataset browser's shuffle of the samples

# The keys of the widgets the app sets from code (a widget is set before it is drawn, or in a callback).
SOURCE_PICKER = "source_choice"  # the sidebar's data picker
MODEL_PICKER = "model_choice"  # the sidebar's model picker
WRITER_FIELD = "writer_field"  # the sidebar's field for the writer's name
MISTAKE_TRUE = "mistake_true"  # Train & evaluate's filter of the mistakes: the true digit…
MISTAKE_PREDICTED = "mistake_predicted"  # …and the predicted one
BROWSE_ROW = "browse_row"  # the dataset browser's row index, set by a click on a sample
SAVE_NAME_FIELD = "save_name"  # the name a finished training or teaching is saved under (its own until changed)


@st.cache_resource(show_spinner="Loading the data…", max_entries=8)
def load_source(source: str) -> Dataset:
    """A dataset by source (see digitcnn.data.load_dataset), loaded once for all users.
    Datasets are read-only, so sharing one copy is safe; a failed load is not cached."""
    return data.load_dataset(source)


@st.cache_resource(on_release=lambda board: board.close())
def job_board() -> JobBoard:
    """The process's trainings of every browser (see digitcnn.jobs.board.server_board: in worker processes, as
    Streamlit clears Keras's state after every run of a page, which would break a model built in one of the
    server's threads); a thread cancels those whose browser has gone."""
    board = server_board()
    threading.Thread(target=_cancel_trainings_of_ended_sessions, args=(board,), name="session sweeper",
                     daemon=True).start()
    return board


def join_job_board() -> None:
    """Make the job board if this is the server's first visit (its first worker starts importing TensorFlow
    before the first Train), and count this session as its browser's: called by every run of the app, so
    that the browser's training goes on while any of its pages is open."""
    job_board()
    _owner()


@functools.cache  # one loader per server
def load_keras_in_background() -> threading.Thread:
    """Import Keras (and TensorFlow: about 6 s of a core) in a thread of the server's own, once per server, then
    keep Streamlit's cleanup cheap (see :func:`keep_streamlits_cleanup_cheap`); returns that thread. Called once a
    page has begun importing Keras (to read drawings with a saved model, say). The train page no longer imports
    it: a trained model comes back from its worker as its file's bytes (see digitcnn.networks.architectures.ModelArchive), which
    the server shows and saves without TensorFlow (550 MB less at rest)."""
    loader = threading.Thread(target=_import_keras_then_freeze, name="keras loader", daemon=True)
    loader.start()
    return loader


def keep_streamlits_cleanup_cheap() -> None:
    """After every run of a page or fragment, Streamlit clears Keras's state once Keras is imported (here by the
    first training, drawing or loaded model), and that clearing collects garbage over every object of the server:
    about 0.3 s of a core each time with TensorFlow loaded, every second while a training shows its progress.
    Measured by clicking Train on the embedded sample in a headless browser: the server used 46 s of processor time
    beside the training's 41 s, and the first model took 66 s instead of the benchmark's 28 s. So once Keras is
    in, the objects alive then (the loaded modules, mostly) are moved out of the collector's sight
    (``gc.freeze``), once per server: each clearing then scans only what was made since. Called after each run,
    it returns at once: the freeze waits for the import in a thread of its own (:func:`load_keras_in_background`)."""
    if "keras" in sys.modules:  # from the start of its import, which may be under way in another thread
        load_keras_in_background()


def _import_keras_then_freeze() -> None:
    # An import already under way in another thread (a page loading a model) is waited for, not repeated.
    import keras  # noqa: F401

    gc.freeze()


SWEEP_SECONDS = 5.0  # how often the trainings of ended sessions are looked for
_browser_sessions: dict[str, set[str]] = {}  # browser key → the ids of its sessions seen lately
_browser_sessions_lock = threading.Lock()


def _cancel_trainings_of_ended_sessions(board: JobBoard) -> None:
    """Every few seconds, cancel the trainings of browsers none of whose sessions has been connected for longer
    than Streamlit keeps a session for its reconnection (``server.disconnectedSessionTTL``): their tabs are
    closed, nobody will see the result, and a user waiting in line should not wait for it. A reloaded page is a
    new session of the same browser, which finds its training again. (Streamlit itself forgets such a session
    only lazily, so its state cannot be relied on to go.)"""
    while True:
        time.sleep(SWEEP_SECONDS)
        if runtime.exists():  # a `streamlit run` server, not a test harness
            connected = runtime.get_instance().is_active_session
            board.cancel_absent(lambda key: _browser_connected(key, connected),
                                grace=st.get_option("server.disconnectedSessionTTL"))


def _browser_connected(key: str, connected: Callable[[str], bool]) -> bool:
    """Whether any session of the browser ``key`` is connected; forgets those that are not (a session that
    reconnects is counted again by its next run, see :func:`join_job_board`)."""
    with _browser_sessions_lock:
        sessions = {session for session in _browser_sessions.get(key, ()) if connected(session)}
        if sessions:
            _browser_sessions[key] = sessions
        else:
            _browser_sessions.pop(key, None)
    return bool(sessions)


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def load_predictor(name: str, model_sha256: str):
    """A saved model ready for fast single-image predictions, and its card. The checksum in the
    cache key makes a model saved again under the same name load afresh."""
    return registry.load_predictor(name)


@st.cache_resource(show_spinner=False, max_entries=16)
def _load_training_record(name: str, record_sha256: str):
    """A saved model's record of the images it trained on, read once per record (its checksum in the key)."""
    return registry.load_training_record(name)


def training_record(card: registry.ModelCard):
    """The record of the images the model of ``card`` trained on (see digitcnn.data.seen); None when it has none. A
    record that cannot be read raises :class:`~digitcnn.errors.DigitCNNError`."""
    if card.trained_on is None:
        return None
    return _load_training_record(card.name, card.trained_on["sha256"])


# --- Data ---------------------------------------------------------------------------------------

def active_source() -> str:
    """The data source this user works with (the embedded sample until they pick another)."""
    return st.session_state.setdefault(_ACTIVE_SOURCE, data.EMBEDDED)


def active_dataset() -> Dataset:
    """The dataset this user works with. My drawings change as they are kept and deleted: read afresh
    each time (a small query); should they all be gone, the embedded sample stands in, with a message."""
    source = active_source()
    if source == UPLOAD:
        return st.session_state[_UPLOADED_DATASET]
    if source == MY_DRAWINGS:
        try:
            return drawing_store().dataset(writer())
        except DigitCNNError as error:
            st.session_state[_ACTIVE_SOURCE] = data.EMBEDDED
            set_source_error(f"{error} — using the embedded sample.")
            return load_source(data.EMBEDDED)
    return load_source(source)


def set_active_source(source: str) -> None:
    """Load ``source`` and work with it; a source that fails to load raises and changes nothing."""
    if source == MY_DRAWINGS:
        drawing_store().dataset(writer())  # raises when there are none yet
    else:
        load_source(source)
    st.session_state[_ACTIVE_SOURCE] = source
    st.session_state.pop(_SOURCE_ERROR, None)


def set_uploaded_dataset(dataset: Dataset) -> None:
    """Work with the dataset this user uploaded."""
    st.session_state[_UPLOADED_DATASET] = dataset
    st.session_state[_ACTIVE_SOURCE] = UPLOAD
    st.session_state.pop(_SOURCE_ERROR, None)


def source_error() -> str | None:
    """Why the user's last switch of data failed (the previous data stays in use), if it did."""
    return st.session_state.get(_SOURCE_ERROR)


def set_source_error(message: str) -> None:
    st.session_state[_SOURCE_ERROR] = message


def show_source_picked(source: str) -> None:
    """Show ``source`` as the choice of the sidebar's data picker."""
    st.session_state[SOURCE_PICKER] = source


def uploader_key() -> str:
    """The key of the sidebar's CSV uploader: a new one after each good upload (see :func:`renew_uploader`)."""
    return f"csv_upload_{st.session_state.get(_UPLOADS, 0)}"


def renew_uploader() -> None:
    """Give the CSV uploader a new key: it shows empty, and the server forgets the last file's bytes."""
    st.session_state[_UPLOADS] = st.session_state.get(_UPLOADS, 0) + 1


def browse_seed() -> int | None:
    """The seed the dataset browser shuffles the samples of a digit with; None (in order) until shuffled."""
    return st.session_state.get(_BROWSE_SEED)


def next_browse_seed() -> None:
    """Shuffle the dataset browser's samples anew."""
    st.session_state[_BROWSE_SEED] = (browse_seed() or 0) + 1


def open_sample(chart_key: str) -> None:
    """Show the sample clicked in the dataset browser's grid (the chart under ``chart_key``, whose points carry
    their rows) as its row: a callback, run when the click changes the chart's selection, before the row's
    box is drawn."""
    points = st.session_state[chart_key].selection.points
    if points:
        st.session_state[BROWSE_ROW] = int(points[0]["customdata"])


# --- My drawings ----------------------------------------------------------------------------------

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
    from digitcnn.data.drawings import private_writer

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


# --- Models ---------------------------------------------------------------------------------------

def usable_cards() -> dict[str, registry.ModelCard]:
    """The cards of the saved models that can be used (card and file in order), by name."""
    return {entry.name: entry.card for entry in registry.list_models() if entry.card is not None}


def chosen_model() -> str | None:
    """The model this user picked for drawings, if they picked one."""
    return st.session_state.get(_ACTIVE_MODEL)


def set_active_model(name: str) -> None:
    """Read drawings with the model called ``name`` from now on."""
    st.session_state[_ACTIVE_MODEL] = name


def show_model_picked(name: str) -> None:
    """Show ``name`` as the choice of the sidebar's model picker."""
    st.session_state[MODEL_PICKER] = name


def active_model_card(cards: dict[str, registry.ModelCard] | None = None) -> registry.ModelCard | None:
    """The card of the model that reads this user's drawings: their pick, else the shipped
    default, else any; None when no model can be used. A pick that cannot be used right now
    (another user is saving over it, say) is kept, not forgotten: it is used again once it can
    be. ``cards`` is :func:`usable_cards`, for a caller that already listed them."""
    cards = usable_cards() if cards is None else cards
    for name in (chosen_model(), config.DEFAULT_MODEL_NAME):
        if name in cards:
            return cards[name]
    return next(iter(cards.values()), None)


def active_predictor():
    """``(predictor, card)`` of the active model, or ``(None, None)`` when there is no usable model."""
    card = active_model_card()
    if card is None:
        return None, None
    return load_predictor(card.name, card.model_sha256)


# --- Training -------------------------------------------------------------------------------------

def _owner() -> str:
    """Who this session is to the job board: its browser (see ui.identity), so that a reloaded page finds its
    training again, and another browser never does."""
    key = identity.browser_key()
    with _browser_sessions_lock:
        _browser_sessions.setdefault(key, set()).add(get_script_run_ctx().session_id)
    return key


def start_training(name: str, dataset: Dataset, settings, work=None) -> TrainingJob:
    """Start training a model called ``name`` for this user, or queue it behind other users' trainings
    (see digitcnn.jobs.board.JobBoard.start, and its ``work``); it replaces the user's previous job, which lets
    go of its model."""
    previous = training_job()
    job = job_board().start(_owner(), name, dataset, settings, work)
    if previous is not None:
        previous.release()
    _forget_save_attempt()
    return job


def dismiss_training() -> None:
    """Forget this user's ended training and let go of its model and scores."""
    job = training_job()
    if job is not None and job.snapshot().done:
        job_board().dismiss(_owner(), job)
    _forget_save_attempt()


def _forget_save_attempt() -> None:
    """Drop the last save's error and the typed name: the next result starts from its own name."""
    for key in (_SAVE_ERROR, SAVE_NAME_FIELD):
        st.session_state.pop(key, None)


def start_teaching(name: str, base_name: str, data_for_replay: Dataset, settings) -> TrainingJob:
    """Start teaching a copy of the saved model ``base_name`` this user's writer's drawings, saved as
    ``name`` if it passes (see digitcnn.training.finetune), as a job on the board like a training. The model is
    loaded by the job, in its worker, so the page does not wait for it."""
    from digitcnn.data.drawings import shown_writer
    from digitcnn.jobs.teaching import fine_tune_saved_model
    from digitcnn.training.drawings_rule import check_drawings

    drawings = drawing_store().dataset(writer())
    check_drawings(drawings, settings.personal_test_share)  # too few: say so now, not from the job
    # The writer as a model card may name it: a private writer's key stays here (see digitcnn.data.drawings.shown_writer).
    teach = functools.partial(fine_tune_saved_model, base_name, config.models_dir(), drawings,
                              shown_writer(writer()))
    return start_training(name, data_for_replay, settings, work=teach)


def training_job() -> TrainingJob | None:
    """This user's latest training job, waiting, running or ended (started on an earlier load of the page,
    maybe)."""
    return job_board().latest(_owner())


def save_trained_model(job: TrainingJob) -> None:
    """Save the model ``job`` trained under the name in :data:`SAVE_NAME_FIELD` (the job's own unless the user
    changed it: a name refused at the save, such as one taken meanwhile, need not lose the work) and read
    drawings with it; a save that fails is remembered as a message (see :func:`save_outcome`). Run as a
    button's callback: before the page reruns, while the sidebar's model picker may still change."""
    if save_outcome(job)[0]:
        return  # a second click that came before the page showed the first one's outcome
    result = job.snapshot().result
    name, fine_tuning = st.session_state.get(SAVE_NAME_FIELD, job.name).strip(), is_fine_tuning(result)
    try:
        registry.check_new_name(name, starts_from=result.base_name if fine_tuning else None)
        card = (registry.ModelCard.from_fine_tune(name, result) if fine_tuning
                else registry.ModelCard.from_training(name, result))
        registry.save_model(result.model, card, trained_on=result.trained_on, protect_shipped=True)
    except DigitCNNError as error:
        st.session_state[_SAVE_ERROR] = str(error)
        return
    st.session_state.pop(_SAVE_ERROR, None)
    job.mark_saved(name)  # the model is on disk now; its scores stay on the page
    set_active_model(name)


def is_fine_tuning(result) -> bool:
    """Whether a job's ``result`` is a fine-tuning's (a FineTuneResult), not a training's."""
    from digitcnn.training.finetune import FineTuneResult

    return isinstance(result, FineTuneResult)


def save_outcome(job: TrainingJob) -> tuple[str | None, str | None]:
    """The name ``job``'s model was saved under (None: not saved; on any load of the page), and why this page's
    last try failed if it did."""
    return job.saved_as, st.session_state.get(_SAVE_ERROR)


def pick_confusion_cell(cell: tuple[int, int] | None) -> None:
    """Filter the mistakes shown on Train & evaluate by the confusion matrix's ``cell`` (true, predicted digit)
    when it is a new click. The chart reports its last click on every rerun: that must not undo a filter
    the user changed since."""
    if cell is not None and cell != st.session_state.get(_PICKED_CELL):
        st.session_state[_PICKED_CELL] = cell
        st.session_state[MISTAKE_TRUE], st.session_state[MISTAKE_PREDICTED] = cell


# --- Looking inside a reading (ui.inside) ------------------------------------------------------------
# Each reading's panel has keys of its own, made from the panel's ``key``.

def layer_picker(key: str) -> str:
    """The key of the panel's picker of the layer shown large."""
    return f"{key}_layer"


def channel_picker(key: str, layer: str, strongest: int) -> str:
    """The key of the panel's picker of ``layer``'s channel shown large; it shows ``strongest`` until one
    is picked."""
    st.session_state.setdefault(_channel_picker(key, layer), strongest)
    return _channel_picker(key, layer)


def _channel_picker(key: str, layer: str) -> str:
    return f"{key}_channel_{layer}"


def clicked_map(key: str, layer: str) -> int | None:
    """The channel of the map last clicked in ``layer``'s grid in the panel (None: none, or that click undone)."""
    return st.session_state.get(_clicked_map(key, layer))


def _clicked_map(key: str, layer: str) -> str:
    return f"{key}_clicked_{layer}"


def show_map(key: str, layer: str, channel: int | None) -> None:
    """Take a click on ``layer``'s grid in the panel (``channel``: the map clicked; None: the click undone): the
    map clicked is shown large (its picker takes it)."""
    st.session_state[_clicked_map(key, layer)] = channel
    if channel is not None:
        st.session_state[_channel_picker(key, layer)] = channel


def inside_memory(key: str, drawing: tuple) -> dict:
    """Where the panel ``key`` keeps what it computed for ``drawing`` (what its results depend on: the predictor and
    the drawing's digest; a result that also depends on the threshold names it), so that its tabs, sliders and
    clicks do not compute it again; emptied when the drawing changes."""
    memory = st.session_state.get(_inside_memory(key))
    if memory is None or memory[0] != drawing:
        memory = st.session_state[_inside_memory(key)] = (drawing, {})
    return memory[1]


def _inside_memory(key: str) -> str:
    return f"{key}_inside_memory"
