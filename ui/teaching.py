"""Teaching a saved model the user's handwriting, on Train & evaluate: the form that starts it, and its
results (before and after, on the user's own test drawings and on the data's test set)."""

from __future__ import annotations

import streamlit as st

from digitcnn import charts, registry
from digitcnn.errors import DigitCNNError
from ui import saving, state


def teach_form(dataset, cards: dict) -> None:
    """Pick a saved model and a name, and press Teach: a fine-tuning job starts (see digitcnn.finetune)."""
    from digitcnn import finetune

    st.header("Teach a model your handwriting")
    writer = state.writer()
    try:
        counts = state.drawing_store().counts(writer)
    except DigitCNNError as error:
        st.error(str(error), icon=":material/error:")
        return
    digits = sum(count for label, count in counts.items() if label >= 0)
    st.caption(f"Starting from a saved model, it learns the drawings you kept on **Draw a digit** as "
               f"**{writer}** ({digits} digits so far), mixed with replayed digits of the data in use "
               f"({dataset.source}) so that it does not forget them. A share of your drawings is kept apart "
               f"to show what it learned; if its accuracy on the data's test set falls by more than "
               f"{finetune.FineTuneConfig().max_accuracy_drop:.1%} points it is not saved.")
    if state.active_source() == state.MY_DRAWINGS:
        st.info("Pick the data the model learned from (the embedded sample or full MNIST) in the sidebar: it "
                "replays and tests on those.", icon=":material/info:")
        return
    if not cards:
        st.info("Save a model first: teaching starts from a saved one.", icon=":material/info:")
        return
    if digits < finetune.MIN_DRAWINGS:
        st.info(f"Keep at least {finetune.MIN_DRAWINGS} drawings on **Draw a digit** first (press **Right** or "
                f"pick what it is under a reading).", icon=":material/draw:")
        return
    with st.form("teach_settings"):
        base_column, name_column = st.columns(2)
        names = list(cards)
        active = state.active_model_card(cards)
        base = base_column.selectbox("Start from", names, index=names.index(active.name) if active else 0)
        name = name_column.text_input("Save as", value=f"{base}-{writer}"[:64],
                                      help="Letters, digits, '-' and '_'. The shipped default cannot be replaced.")
        start = st.form_submit_button("Teach", type="primary", icon=":material/school:")
    if start:
        try:
            registry.check_new_name(name, starts_from=base)  # now, not when its work is done
            state.start_teaching(name, base, dataset, finetune.FineTuneConfig())
        except DigitCNNError as error:
            st.error(str(error), icon=":material/error:")
        else:
            st.rerun()  # the page shows the job's progress at the top


def fine_tune_results(job, result) -> None:
    """What the fine-tuning ``result`` of ``job`` changed, and Save when it passed the gate."""
    before, after = result.before, result.after
    st.header(f"Results of {job.name}: {result.base_name} taught {result.writer}'s handwriting")
    (st.success if result.passed else st.warning)(result.message, icon=":material/school:")
    scores = st.columns(4)
    scores[0].metric("Your test drawings", charts.probability_text(after.personal_test_accuracy),
                     delta=f"{(after.personal_test_accuracy - before.personal_test_accuracy) * 100:+.1f} points")
    scores[1].metric("The data's test set", f"{after.data_test_accuracy:.2%}",
                     delta=f"{(after.data_test_accuracy - before.data_test_accuracy) * 100:+.2f} points")
    scores[2].metric("Drawings taught / kept apart", f"{result.taught} / {result.personal_test_size}")
    scores[3].metric("Time", f"{result.seconds:.0f} s")
    st.plotly_chart(charts.per_digit_bars({"before": before.per_digit_accuracy, "after": after.per_digit_accuracy},
                                          "Your test drawings, per digit"), key="per_digit_before_after")
    if not result.passed:
        return
    saving.save_controls(job, key="save_fine_tuned")
