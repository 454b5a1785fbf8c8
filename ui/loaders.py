"""What every session shares, loaded once per server: the datasets, the saved models ready to read with, the
records of what they trained on (st.cache_resource: read-only, so one copy serves every user), and Keras itself,
imported once in a thread of the server's own.

Each user's choice among them (which data, which model) is theirs: see ui.state.
"""

from __future__ import annotations

import functools
import gc
import sys
import threading

import streamlit as st

from digitcnn import data
from digitcnn.storage import registry
from digitcnn.data import Dataset


@st.cache_resource(show_spinner="Loading the data…", max_entries=8)
def load_source(source: str) -> Dataset:
    """A dataset by source (see digitcnn.data.load_dataset), loaded once for all users.
    Datasets are read-only, so sharing one copy is safe; a failed load is not cached."""
    return data.load_dataset(source)


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
    """After every run of a page or fragment, Streamlit collects garbage over every object of the server, and once
    Keras is imported (here by the first training, drawing or loaded model) clears Keras's state, which collects it
    again.
    - With TensorFlow loaded, that cost about 0.3 s of a core each time, every second while a training showed its
      progress. Measured by clicking Train on the embedded sample in a headless browser: the server used 46 s of
      processor time beside the training's 41 s, and the first model took 66 s instead of the benchmark's 28 s.
    - Without it, the page's own modules (Streamlit, pandas, plotly) made each collection about 0.1 s: 0.2 s of a
      core every second while a page showed a training's progress, twice a second.
    So the objects alive once a run has imported new modules (the modules, mostly) are moved out of the
    collector's sight (``gc.freeze``): each collection then scans only what was made since. (What is frozen is
    never collected, should it later become a cycle of garbage: the price of a handful of freezes per server, of
    what was alive then.) Called after each run,
    it returns at once: with Keras, the freeze waits for its import in a thread of its own
    (:func:`load_keras_in_background`)."""
    global _modules_frozen
    if "keras" in sys.modules:  # from the start of its import, which may be under way in another thread
        load_keras_in_background()
    with _freezing:
        if len(sys.modules) > _modules_frozen:  # a page imported more: a handful of times per server
            gc.freeze()
            _modules_frozen = len(sys.modules)


_freezing = threading.Lock()
_modules_frozen = 0  # how many modules were loaded at the last freeze


def _import_keras_then_freeze() -> None:
    # An import already under way in another thread (a page loading a model) is waited for, not repeated.
    import keras  # noqa: F401

    gc.freeze()


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

