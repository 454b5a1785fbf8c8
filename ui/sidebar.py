"""The sidebar every page shares: which data, which model."""

from __future__ import annotations

import streamlit as st

from digitcnn import data
from digitcnn.errors import DigitCNNError
from ui import state

_UPLOAD_LABEL = "Upload a CSV…"


def render() -> None:
    """Show and switch the data source and the active model."""
    with st.sidebar:
        _data_source()
        st.divider()
        _active_model()


def _data_source() -> None:
    choices = {choice.source: choice.label for choice in data.available_sources()}
    choices[state.UPLOAD] = _UPLOAD_LABEL
    current = state.active_source()
    if current not in choices:
        current = data.EMBEDDED
    st.session_state.setdefault("source_choice", current)
    st.selectbox(
        "Data",
        options=list(choices),
        format_func=choices.get,
        key="source_choice",
        on_change=_switch_source,
        help="The embedded sample works offline; full MNIST appears when its files are in data/ "
        "or named by DIGITCNN_MNIST_DIR.",
    )
    if st.session_state["source_choice"] == state.UPLOAD:
        st.file_uploader(
            "CSV in the tutorial's format",
            type=["csv"],
            key="csv_upload",
            on_change=_load_upload,
            help="A 'Result' or 'label' column and 784 pixel columns, or no header with the label first.",
        )
    if "source_error" in st.session_state:
        st.error(st.session_state["source_error"], icon=":material/error:")
    dataset = state.active_dataset()
    st.caption(f"Using **{dataset.source}**: {len(dataset):,} images"
               + (f" + {len(dataset.test):,} test images" if dataset.test is not None else ""))


def _switch_source() -> None:
    choice = st.session_state["source_choice"]
    if choice == state.UPLOAD:
        return  # the switch happens when a file arrives
    try:
        state.load_source(choice)
    except DigitCNNError as error:
        st.session_state["source_error"] = str(error)
        st.session_state["source_choice"] = state.active_source()
        return
    st.session_state.pop("source_error", None)
    st.session_state["active_source"] = choice


def _load_upload() -> None:
    upload = st.session_state.get("csv_upload")
    if upload is None:
        return
    try:
        dataset = data.load_csv_bytes(upload.getvalue(), upload.name)
    except DigitCNNError as error:
        st.session_state["source_error"] = f"{error} — still using the previous data."
        return
    st.session_state.pop("source_error", None)
    st.session_state["uploaded_dataset"] = dataset
    st.session_state["active_source"] = state.UPLOAD


def _active_model() -> None:
    cards = state.usable_cards()
    card = state.active_model_card(cards)  # settles the pick before the selectbox shows it
    if card is None:
        st.info("No saved model yet: train one on **Train & evaluate**.", icon=":material/info:")
        return
    st.selectbox("Model for drawings", options=list(cards), key="active_model")
    st.caption(f"{card.architecture}, test accuracy {card.test_accuracy:.2%} on {card.test_size:,} images "
               f"of {card.data_source}")
