"""The sidebar every page shares: which data, which model."""

from __future__ import annotations

import streamlit as st

from digitcnn import config, data
from digitcnn.data import download, seen
from digitcnn.networks import architectures
from digitcnn.errors import DigitCNNError
from digitcnn.reading.inference import READING_WORDS, THREE_PENS
from ui import drawings, loaders, state
from ui.markup import literal

_UPLOAD_LABEL = "Upload a CSV…"


def render() -> None:
    """Show and switch the data source and the active model."""
    with st.sidebar:
        dataset = _data_source()
        st.divider()
        _active_model(dataset)


def _data_source():
    """The data picker, with what the data in use holds; returns that dataset."""
    choices = {choice.source: choice.label for choice in data.available_sources()}
    choices[state.MY_DRAWINGS] = "My drawings"
    choices[state.UPLOAD] = _UPLOAD_LABEL
    dataset = state.active_dataset()  # first: My drawings, all deleted, fall back to the embedded sample
    current = state.active_source()
    if current not in choices:
        current = data.EMBEDDED
    if st.session_state.get(state.SOURCE_PICKER) != state.UPLOAD:  # (an upload waiting for its file stays picked)
        state.show_source_picked(current)
    st.selectbox(
        "Data",
        options=list(choices),
        format_func=choices.get,
        key=state.SOURCE_PICKER,
        on_change=_switch_source,
        help="The embedded sample works offline; full MNIST appears when its files are in data/ "
        "or named by DIGITCNN_MNIST_DIR.",
    )
    _full_mnist_offer()
    if st.session_state[state.SOURCE_PICKER] == state.UPLOAD:
        # A new key after each good upload empties the uploader: the server forgets the file's bytes.
        st.file_uploader(
            "CSV in the tutorial's format",
            type=["csv"],
            key=state.uploader_key(),
            on_change=_load_upload,
            help="A 'Result' or 'label' column and 784 pixel columns, or no header with the label first.",
        )
    drawings.fill_writer_field()
    st.text_input("Share my drawings under a name", key=drawings.WRITER_FIELD, max_chars=64,
                  placeholder="empty: mine alone",
                  on_change=lambda: drawings.set_writer(st.session_state[drawings.WRITER_FIELD]),
                  help="Left empty, the drawings you keep on Draw a digit are yours alone, kept for this browser. "
                       "Type a name to share them: anyone who types the same name sees them, adds to them, can "
                       "delete them and teach a model on them. A model taught on them records the name.")
    shared = drawings.shared_name()
    st.caption(f"My drawings: shared as **{literal(shared)}**" if shared else "My drawings: yours alone (this browser)")
    if error := state.source_error():
        st.error(literal(error), icon=":material/error:")
    st.caption(f"Using **{literal(dataset.source)}**: {len(dataset):,} image{'s' if len(dataset) != 1 else ''}"
               + (f" + {len(dataset.test):,} test images" if dataset.test is not None else ""))
    return dataset


def _full_mnist_offer() -> None:
    """Until the full MNIST is at hand, a button that downloads it. The download is the server's, one for everyone:
    whoever opens a page while it runs sees its progress, and the source appears for all once it is done."""
    if download.full_mnist_at_hand():
        return
    fetch = download.shared()
    status = fetch.status()
    if status.running:
        _download_progress()
        return
    if status.error:
        st.error(f"The last try to get the full MNIST failed: {literal(status.error)}", icon=":material/error:")
    st.button(f"Get the full MNIST ({download.DOWNLOAD_BYTES / 1e6:.0f} MB)", icon=":material/download:",
              on_click=fetch.start,
              help="60,000 training and 10,000 test digits, from MNIST's usual address on the web or the one "
                   f"{config.MNIST_URL_VARIABLE} names; kept in the data folder for everyone using this app.")


@st.fragment(run_every=0.5)
def _download_progress() -> None:
    """The shared download's progress, redrawn twice a second; the whole page reruns once it ends (its source then
    appears under Data, or its error shows)."""
    status = download.shared().status()
    if not status.running:
        st.rerun()
    progress = status.progress
    if progress is None:
        st.progress(0.0, text="Getting the full MNIST: connecting…")
    else:
        st.progress(progress.fraction, text=f"Getting the full MNIST: {progress.received / 1e6:.1f} of "
                                            f"{progress.expected / 1e6:.1f} MB")


def _switch_source() -> None:
    choice = st.session_state[state.SOURCE_PICKER]
    if choice == state.UPLOAD:
        return  # the switch happens when a file arrives
    try:
        state.set_active_source(choice)
    except DigitCNNError as error:
        state.set_source_error(str(error))
        state.show_source_picked(state.active_source())


def _load_upload() -> None:
    upload = st.session_state.get(state.uploader_key())
    if upload is None:
        return
    try:
        dataset = data.load_csv_bytes(upload.getvalue(), upload.name)
    except DigitCNNError as error:
        state.set_source_error(f"{error} — still using the previous data.")
        return
    state.set_uploaded_dataset(dataset)
    state.renew_uploader()


def _active_model(dataset) -> None:
    cards = state.usable_cards()
    card = state.active_model_card(cards)
    if card is None:
        st.info("No saved model yet: train one on **Train & evaluate**.", icon=":material/info:")
        return
    chosen = state.chosen_model()
    if chosen is not None and chosen != card.name:
        st.warning(f"Your model **{literal(chosen)}** cannot be used right now; drawings are read by "
                   f"**{literal(card.name)}** until it can.", icon=":material/warning:")
    state.show_model_picked(card.name)  # the picker shows the model in use, whatever changed it
    st.selectbox("Model for drawings", options=list(cards), key=state.MODEL_PICKER,
                 on_change=lambda: state.set_active_model(st.session_state[state.MODEL_PICKER]))
    pens = f", reads each digit {READING_WORDS[THREE_PENS]}" if card.reading == THREE_PENS else ""
    st.caption(f"{literal(architectures.title_of(card.architecture))}{pens}, {literal(seen.card_score_text(card))}")
    try:
        st.caption(literal(seen.dataset_text(card, loaders.training_record(card), dataset)))
    except DigitCNNError as error:
        st.caption(literal(f"Which images {card.name} trained on cannot be read: {error}"))
