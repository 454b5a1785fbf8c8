"""Bringing your own Keras model, on Train & evaluate: the upload that starts an import (a job on the board, so the
page goes on while Keras reads it), and what the import found and scored (see digitcnn.storage.importing)."""

from __future__ import annotations

import streamlit as st

from digitcnn.errors import DigitCNNError
from digitcnn.jobs.board import IMPORTING
from digitcnn.percentages import probability_text, share_text
from digitcnn.storage import importing
from ui import state, training_jobs
from ui.markup import literal

_UPLOAD_KEY = "model_upload"


def import_form(dataset) -> None:
    """Upload a .keras file, name it, and press Import: an import job starts, scored on the data in use."""
    with st.expander("Bring your own model", icon=":material/upload:"):
        st.caption("A Keras 3 model file (.keras, at most 50 MB) of a network that reads one 28×28 gray picture, "
                   "shaped (28, 28, 1), (28, 28) or (784,), with pixels 0–1 or 0–255, and gives ten probabilities or "
                   "logits, one per digit. Its pixels and outputs are found by reading the data's test images; it is "
                   f"scored on those of the data in use ({literal(dataset.source)}) and learns when to say \"not a "
                   "digit\". Then it reads drawings, can be looked inside, compared and taught like the models made "
                   "here. Files are read in Keras's safe mode: layers of Python code (Lambda) are refused.")
        if state.active_source() == state.MY_DRAWINGS:
            st.info("Pick the data to score it on (the embedded sample or full MNIST) in the sidebar.",
                    icon=":material/info:")
            return
        upload = st.file_uploader("Model file", type=["keras"], key=_UPLOAD_KEY)
        if upload is None:
            return
        with st.form("import_settings"):
            name = st.text_input("Name it", value=importing.suggested_name(upload.name), max_chars=64,
                                 help="Letters, digits, '-' and '_'; a name no saved model has.")
            start = st.form_submit_button("Import", type="primary", icon=":material/upload:")
    if start:
        try:
            importing.check_name_free(name.strip())
            training_jobs.start_import(name.strip(), dataset, importing.ImportRequest(upload.name, upload.getvalue()))
        except DigitCNNError as error:
            st.error(literal(error), icon=":material/error:")
        else:
            st.rerun()  # the page shows the job's progress at the top


def is_import(job) -> bool:
    """Whether ``job`` imports a model, not trains or teaches one."""
    return job.activity == IMPORTING


def import_results(job, finished) -> None:
    """What the import of ``job`` found in the file and how the imported model scores; it reads drawings from
    now on."""
    result = finished.result
    card = result.card
    if job.saved_as is None:  # the first time the results are shown: the import saved it, drawings go to it
        job.mark_saved(card.name)
        state.set_active_model(card.name)
        st.rerun()  # the sidebar, drawn before this page, shows it as the model for drawings
    st.header(f"Imported {literal(card.name)}")
    st.success(f"Saved as **{literal(card.name)}** with its model card, from {literal(card.imported['file'])}; "
               f"drawings are now read by it.", icon=":material/check:")
    st.markdown("\n".join(f"- {line}" for line in result.findings))
    columns = st.columns(3)
    columns[0].metric("Accuracy (not a test)", share_text(card.test_accuracy),
                      help="On the data's test images; which images it trained on is not known, so this is no "
                           "test score (the embedded sample is part of MNIST's training images).")
    columns[1].metric("Images scored", f"{card.test_size:,}")
    columns[2].metric("Time", f"{finished.seconds:.0f} s", help="From the click on Import to these results.")
    rule = card.refusal_rule
    st.caption(f"Says \"not a digit\" when less than {probability_text(rule.threshold)} sure: set so that it refuses "
               f"{share_text(rule.test_refused)} of those digits (at most 1%), and is right on "
               f"{share_text(rule.test_accuracy_answered)} of those it answers.")
