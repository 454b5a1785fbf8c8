"""Save, on the results of a finished training or teaching: the name to save under (the job's own, or another
typed in its place), the button, and what became of the last try."""

from __future__ import annotations

import streamlit as st

from ui import training_jobs
from ui.markup import literal


def save_controls(job, key: str) -> bool:
    """The name field and Save for ``job``'s model, or that it was saved; returns whether it was. A name
    refused at the save (say, one another user took meanwhile) leaves the work on the page, to be saved
    under another name. ``key`` tells apart the buttons of a training's and a teaching's results."""
    saved_as, save_error = training_jobs.save_outcome(job)
    if saved_as:
        st.success(f"Saved as **{literal(saved_as)}** with its model card; drawings are now read by it.",
                   icon=":material/check:")
        return True
    if save_error:
        st.error(literal(save_error), icon=":material/error:")
    name_column, button_column = st.columns([2, 3], vertical_alignment="bottom")
    name = name_column.text_input("Name to save under", value=job.name, key=training_jobs.SAVE_NAME_FIELD, max_chars=64,
                                  help="Letters, digits, '-' and '_'. Saving replaces a model of that name; the "
                                       "shipped default cannot be replaced.")
    button_column.button(f"Save as {literal(name.strip())}", type="primary", icon=":material/save:",
                         on_click=training_jobs.save_trained_model, args=(job,), key=key)
    return False
