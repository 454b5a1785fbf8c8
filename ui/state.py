"""Each user's own choices (st.session_state): the data they work with, the model that reads their drawings,
and the widgets of the pages that the app sets from code.

Every piece of session state has one owner, the module that writes it; the others read it through that module's
functions. This module owns the choices of data and model and the keys of the widgets the app sets (named here,
with their setters: other files may read a widget's value by its key). ui.drawings owns the state of My drawings,
ui.training_jobs that of saving a result (its name field and its last error), ui.identity and ui.navigation keys
of their own. What every session shares, loaded once per server, is in ui.loaders.
"""

from __future__ import annotations

import streamlit as st

from digitcnn import config, data
from digitcnn.storage import registry
from digitcnn.data import Dataset
from digitcnn.errors import DigitCNNError
from ui.drawings import drawing_store, writer
from ui.loaders import load_predictor, load_source

UPLOAD = "upload"  # the data-source choice that means "the CSV this user uploaded"
MY_DRAWINGS = "my-drawings"  # the data-source choice that means "the drawings this user's writer kept"

_ACTIVE_SOURCE = "active_source"  # the data source in use
_UPLOADED_DATASET = "uploaded_dataset"  # the dataset of this user's last good upload
_SOURCE_ERROR = "source_error"  # why the last data switch failed, until one succeeds
_ACTIVE_MODEL = "active_model"  # the model the user picked for drawings (kept while it is briefly unusable)
_UPLOADS = "csv_uploads"  # how many CSVs this session has loaded: part of the uploader's key
_PICKED_CELL = "picked_cell"  # the confusion-matrix cell last clicked on Train & evaluate
_BROWSE_SEED = "browse_seed"  # the dataset browser's shuffle of the samples

# The keys of the widgets the app sets from code (a widget is set before it is drawn, or in a callback).
SOURCE_PICKER = "source_choice"  # the sidebar's data picker
MODEL_PICKER = "model_choice"  # the sidebar's model picker
MISTAKE_TRUE = "mistake_true"  # Train & evaluate's filter of the mistakes: the true digit…
MISTAKE_PREDICTED = "mistake_predicted"  # …and the predicted one
BROWSE_ROW = "browse_row"  # the dataset browser's row index, set by a click on a sample


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

# --- Train & evaluate ----------------------------------------------------------------------------

def pick_confusion_cell(cell: tuple[int, int] | None) -> None:
    """Filter the mistakes shown on Train & evaluate by the confusion matrix's ``cell`` (true, predicted digit)
    when it is a new click. The chart reports its last click on every rerun: that must not undo a filter
    the user changed since."""
    if cell is not None and cell != st.session_state.get(_PICKED_CELL):
        st.session_state[_PICKED_CELL] = cell
        st.session_state[MISTAKE_TRUE], st.session_state[MISTAKE_PREDICTED] = cell


def from_default(key: str, default) -> str:
    """``key``, the field's, after starting the field again from ``default`` if the run's default for it has
    changed since the field was filled: another dataset changes a quick run's epochs (4 on the embedded sample, 1
    on full MNIST), its augmentation and its image limit, and a field kept from the other would make a quick run
    on full MNIST one of four epochs. A value the user typed stays as long as the default it replaced stays."""
    made_from = f"{key}__default"
    if st.session_state.get(made_from) != default:
        st.session_state[key] = st.session_state[made_from] = default
    return key


# --- Looking inside a reading (ui.inside) ------------------------------------------------------------
# Each reading's panel has keys of its own, made from the panel's ``key``.

def layer_picker(key: str, layers: list[str]) -> str:
    """The key of the panel's picker of the layer shown large; it shows the first of ``layers`` until one of them is
    picked."""
    if st.session_state.get(_layer_picker(key)) not in layers:
        st.session_state[_layer_picker(key)] = layers[0]
    return _layer_picker(key)


def _layer_picker(key: str) -> str:
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
