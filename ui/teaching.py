"""Teaching a saved model the user's handwriting, on Train & evaluate: the form that starts it, and its
results (before and after, on the user's own test drawings and on the data's test set)."""

from __future__ import annotations

import re

import streamlit as st

from digitcnn.views import charts
from digitcnn.storage import registry
from digitcnn.data.writers import PRIVATE_WRITER
from digitcnn.errors import DigitCNNError
from digitcnn.percentages import share_text
from ui import drawings, saving, state, training_jobs
from ui.markup import literal


def teach_form(dataset, cards: dict) -> None:
    """Pick a saved model and a name, and press Teach: a fine-tuning job starts (see digitcnn.training.finetune)."""
    from digitcnn.training import drawings_rule, finetune_config

    st.header("Teach a model your handwriting")
    try:
        counts = drawings.drawing_store().counts(drawings.writer())
    except DigitCNNError as error:
        st.error(literal(error), icon=":material/error:")
        return
    digits = sum(count for label, count in counts.items() if label >= 0)
    settings = finetune_config.FineTuneConfig()
    st.caption(f"Starting from a saved model, it learns the drawings you kept on **Draw a digit** as "
               f"**{literal(drawings.writer_shown())}** ({digits} digits so far), mixed with replayed digits of the "
               f"data in use ({literal(dataset.source)}) so that it does not forget them. A share of your drawings "
               f"is kept apart to show what it learned; if its accuracy on the data's held-out digits falls by more "
               f"than {settings.max_accuracy_drop * 100:g} points it is not saved.")
    if state.active_source() == state.MY_DRAWINGS:
        st.info("Pick the data the model learned from (the embedded sample or full MNIST) in the sidebar: it "
                "replays and tests on those.", icon=":material/info:")
        return
    if not cards:
        st.info("Save a model first: teaching starts from a saved one.", icon=":material/info:")
        return
    st.markdown(f"It needs {drawings_rule.teaching_rule(settings.personal_test_share)}: keep them on **Draw a digit** "
                f"(press **Right**, or pick what it is, under a reading).")
    missing = drawings_rule.drawings_missing(counts, settings.personal_test_share)
    with st.form("teach_settings"):
        base_column, name_column = st.columns(2)
        names = list(cards)
        active = state.active_model_card(cards)
        base = base_column.selectbox("Start from", names, index=names.index(active.name) if active else 0)
        name = name_column.text_input("Save as", value=_taught_name(base, drawings.shared_name()),
                                      help="Letters, digits, '-' and '_'. The shipped default cannot be replaced.")
        start = st.form_submit_button(missing or "Teach", type="primary", icon=":material/school:",
                                      disabled=missing is not None)
    if start:
        try:
            registry.check_new_name(name, starts_from=base)  # now, not when its work is done
            training_jobs.start_teaching(name, base, dataset, settings)
        except DigitCNNError as error:
            st.error(literal(error), icon=":material/error:")
        else:
            st.rerun()  # the page shows the job's progress at the top


def _taught_name(base: str, shared_name: str | None) -> str:
    """A valid model name for ``base`` taught a writer's handwriting: ``base-NAME`` with the shared name's letters
    and digits (others, spaces say, become '-'), or ``base-mine`` for a private writer or a name with none."""
    letters = re.sub(r"[^A-Za-z0-9_]+", "-", shared_name or "").strip("-_") or "mine"
    return registry.validate_model_name(f"{base}-{letters}"[:64].rstrip("-_"))


def fine_tune_results(job, finished) -> None:
    """What the fine-tuning of ``job`` changed (``finished`` is its final snapshot), and Save when it passed the
    gate."""
    result = finished.result
    before, after = result.before, result.after
    whose = "your" if result.writer == PRIVATE_WRITER else f"{literal(result.writer)}'s"  # a private writer: this user
    st.header(f"Results of {literal(job.name)}: {literal(result.base_name)} taught {whose} handwriting")
    (st.success if result.passed else st.warning)(literal(result.message), icon=":material/school:")
    scores = st.columns(4)
    scores[0].metric("Your test drawings", share_text(after.personal_test_accuracy),
                     delta=f"{(after.personal_test_accuracy - before.personal_test_accuracy) * 100:+.1f} points")
    tested = result.data_test_seen == 0  # a test only on digits the base model never trained on
    scores[1].metric("The data's test set" if tested else "The data's digits (not a test)",
                     share_text(after.data_test_accuracy),
                     delta=f"{(after.data_test_accuracy - before.data_test_accuracy) * 100:+.2f} points")
    scores[2].metric("Drawings taught / kept apart", f"{result.taught} / {result.personal_test_size}")
    scores[3].metric("Time", f"{finished.seconds:.0f} s", help="From the click on Teach to these results.")
    st.caption(f"Time: {finished.describe_time()}")
    st.plotly_chart(charts.per_digit_bars({"before": before.per_digit_accuracy, "after": after.per_digit_accuracy},
                                          "Your test drawings, per digit"), key="per_digit_before_after")
    if not result.passed:
        return
    saving.save_controls(job, key="save_fine_tuned")
