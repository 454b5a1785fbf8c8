"""Heavy objects shared by every session (st.cache_resource) and each user's own choices
(st.session_state): the active dataset, the active model, the training jobs."""

from __future__ import annotations

import streamlit as st

from digitcnn import config, data, registry
from digitcnn.data import Dataset
from digitcnn.jobs import JobBoard

UPLOAD = "upload"  # the data-source choice that means "the CSV this user uploaded"


@st.cache_resource(show_spinner="Loading the data…", max_entries=8)
def load_source(source: str) -> Dataset:
    """A dataset by source (see digitcnn.data.load_dataset), loaded once for all users.
    Datasets are read-only, so sharing one copy is safe; a failed load is not cached."""
    return data.load_dataset(source)


@st.cache_resource
def job_board() -> JobBoard:
    """The process's training jobs: one board for every session, so names stay unique."""
    return JobBoard()


def start_training(name: str, dataset: Dataset, settings) -> None:
    """Start a training job on the shared board (see digitcnn.jobs.JobBoard.start)."""
    _keep_keras_state_between_reruns()
    job_board().start(name, dataset, settings)


@st.cache_resource
def _keep_keras_state_between_reruns() -> None:
    """Turn off the ``keras.backend.clear_session()`` Streamlit calls after every script run.

    It replaces Keras's global state, for every thread at once: a model being built in a
    training thread at that moment gets two layers of the same name, and training fails. This
    app builds models only in training threads, so it has nothing for that call to clear."""
    import keras

    keras.backend.clear_session = lambda *args, **kwargs: None


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def load_predictor(name: str, model_sha256: str):
    """A saved model ready for fast single-image predictions, and its card. The checksum in the
    cache key makes a model saved again under the same name load afresh."""
    from digitcnn.inference import Predictor

    model, card = registry.load_model(name)
    return Predictor(model), card


def active_source() -> str:
    """The data source this user works with (the embedded sample until they pick another)."""
    return st.session_state.setdefault("active_source", data.EMBEDDED)


def active_dataset() -> Dataset:
    """The dataset this user works with."""
    source = active_source()
    if source == UPLOAD:
        return st.session_state["uploaded_dataset"]
    return load_source(source)


def usable_cards() -> dict[str, registry.ModelCard]:
    """The cards of the saved models that can be used (card and file in order), by name."""
    return {entry.name: entry.card for entry in registry.list_models() if entry.card is not None}


def active_model_card(cards: dict[str, registry.ModelCard] | None = None) -> registry.ModelCard | None:
    """The card of the model this user reads drawings with: their pick, else the shipped
    default, else any; None when no model can be used. ``cards`` is :func:`usable_cards`,
    for a caller that already listed them."""
    cards = usable_cards() if cards is None else cards
    chosen = st.session_state.get("active_model")
    if chosen not in cards:
        chosen = config.DEFAULT_MODEL_NAME if config.DEFAULT_MODEL_NAME in cards else next(iter(cards), None)
        st.session_state["active_model"] = chosen
    return cards.get(chosen)


def active_predictor():
    """``(predictor, card)`` of the active model, or ``(None, None)`` when there is no usable model."""
    card = active_model_card()
    if card is None:
        return None, None
    return load_predictor(card.name, card.model_sha256)
