"""Compare models: two to four saved models on the same test images, with real statistics (see
digitcnn.comparison): which is better, by how much, whether it is real, and where they disagree."""

import itertools

import pandas as pd
import streamlit as st

from digitcnn import comparison, config
from digitcnn.views import charts, gallery
from digitcnn.networks import architectures
from digitcnn.storage import registry
from digitcnn.errors import DigitCNNError
from digitcnn.reading.inference import READING_WORDS
from digitcnn.percentages import probability_text, share_text
from ui import loaders, navigation, state
from ui.markup import literal

navigation.through_the_entry_point("pages/compare_models.py")  # before anything: see ui.navigation

DISAGREEMENTS_SHOWN = 40


@st.cache_data(show_spinner=False, max_entries=32)
def scores_of(name: str, model_sha256: str, data_fingerprint: str, _test_set, _record) -> comparison.ModelScores:
    """A model's scores on the test images, computed once per (model checksum, data fingerprint); ``_record``, the
    images it trained on, belongs to the model (its card signs it)."""
    predictor, card = registry.load_predictor(name)  # its kept LiteRT conversion: no TensorFlow in the server
    size = (config.models_dir() / f"{name}.keras").stat().st_size
    return comparison.score_model(predictor, card, _test_set, size, _record)


def choose_models(cards: dict) -> list:
    """The 2–4 saved models to compare (the first two by default)."""
    names = st.multiselect("Models", list(cards), default=list(cards)[:2], max_selections=4,
                           help="Two to four saved models, scored on the same test images.")
    return [cards[name] for name in names]


def scored(chosen: list, dataset) -> tuple[list, object]:
    """Each chosen model's scores on the test images of ``dataset`` that none of them trained on (all of them, with
    why there is no verdict, where none remain), with progress the first time."""
    candidates, described = comparison.comparison_test_set(dataset, chosen[0])
    records = {card.name: loaders.training_record(card) for card in chosen}
    test_set, how, testable = comparison.unseen_part(candidates, records)
    st.caption(f"Every model is scored on the same images: {literal(described)}.")
    if testable:
        st.caption(literal(how))
    else:
        st.info(literal(how), icon=":material/info:")
    progress = st.progress(0.0, text="Scoring the models…")
    all_scores = []
    for index, card in enumerate(chosen):
        progress.progress(index / len(chosen), text=f"Scoring {literal(card.name)} on {len(test_set):,} images…")
        all_scores.append(scores_of(card.name, card.model_sha256, test_set.fingerprint, test_set, records[card.name]))
    progress.empty()
    return all_scores, test_set


def table(all_scores: list) -> None:
    rows = []
    tested = all(scores.seen_in_training == 0 for scores in all_scores)  # a test only on images none trained on
    for scores in all_scores:
        low, high = scores.accuracy_interval
        rows.append({
            "model": scores.name, "architecture": architectures.title_of(scores.architecture),
            "reading": READING_WORDS.get(scores.reading, scores.reading),
            "test accuracy" if tested else "accuracy (not a test)": share_text(scores.accuracy),
            "95% interval": f"{share_text(low)} – {share_text(high)}", "loss": f"{scores.evaluation.loss:.4f}",
            "calibration error": share_text(scores.ece),
            "refused": "never" if scores.refused_share is None else share_text(scores.refused_share),
            "parameters": f"{scores.parameter_count:,}", "file": f"{scores.file_bytes / 1e6:.2f} MB",
            "ms per drawing": f"{scores.milliseconds_per_drawing:.2f}", "training": f"{scores.training_seconds:.0f} s",
            "trained on": f"{scores.data_source} ({scores.train_size:,})",
        })
        if scores.architecture == architectures.IMPORTED:  # trained elsewhere: neither how long nor on what is known
            rows[-1] |= {"training": "not known", "trained on": "not known (imported)"}
    # A model a column, a measure a row: four models' thirteen measures fit the page's width, and all of them show.
    st.dataframe(pd.DataFrame(rows).set_index("model").transpose(), height="content")


def verdicts(all_scores: list) -> None:
    st.subheader("Is it real?")
    for a, b in itertools.combinations(all_scores, 2):
        try:
            verdict = comparison.compare_pair(a, b)
        except DigitCNNError as error:  # scored on images one of them trained on: no verdict, and why
            st.info(literal(str(error)[0].upper() + str(error)[1:]), icon=":material/balance:")
            continue
        (st.success if verdict.significant else st.info)(literal(verdict.describe()), icon=":material/balance:")
    st.caption("McNemar's exact test on the images one model reads right and the other wrong: the counts are the "
               "images only the better model gets wrong against those only the other gets wrong.")


def where_they_differ(all_scores: list, test_set) -> None:
    st.subheader("Where they differ")
    by_name = {scores.name: scores for scores in all_scores}
    first, second = st.columns(2)
    a = by_name[first.selectbox("Model A", list(by_name), index=0)]
    b = by_name[second.selectbox("Model B", list(by_name), index=1)]
    if a is b:
        st.info("Pick two different models.")
        return
    matrix_column, bars_column = st.columns(2)
    matrix_column.plotly_chart(charts.confusion_difference_heatmap(comparison.confusion_difference(a, b), a.name,
                                                                   b.name), key="confusion_difference")
    bars_column.plotly_chart(charts.per_digit_bars({scores.name: comparison.errors_per_digit(scores)
                                                    for scores in all_scores}, "Mistakes per digit",
                                                   "images of the digit read wrong", shares=False),
                             key="errors_per_digit")
    kind_column, digit_column = st.columns(2)
    true_digit = digit_column.selectbox("True digit", ["any", *range(10)])
    sets = comparison.disagreements(a, b, None if true_digit == "any" else true_digit)
    labels = {"a right, b wrong": f"{literal(a.name)} right, {literal(b.name)} wrong",
              "b right, a wrong": f"{literal(b.name)} right, {literal(a.name)} wrong", "both wrong": "both wrong"}
    kind = kind_column.radio("Images", list(sets), horizontal=True,
                             format_func=lambda key: f"{labels[key]} ({len(sets[key])})")
    shown = sets[kind][:DISAGREEMENTS_SHOWN]
    if not len(shown):
        st.info("No such images.")
        return
    st.image([gallery.enlarge(test_set.images[index], 3) for index in shown],
             caption=[f"{test_set.labels[index]}: " + ", ".join(
                 f"{literal(scores.name)} {scores.evaluation.predictions[index]} "
                 f"({probability_text(scores.evaluation.confidences[index])})"
                 for scores in (a, b)) for index in shown], output_format="PNG")


st.title("Compare models")
cards = state.usable_cards()
if len(cards) < 2:
    st.info("Save at least two models on **Train & evaluate** to compare them.", icon=":material/info:")
    st.stop()
chosen = choose_models(cards)
if len(chosen) < 2:
    st.info("Pick two to four models.", icon=":material/info:")
    st.stop()
try:
    all_scores, test_set = scored(chosen, state.active_dataset())
except DigitCNNError as error:
    st.error(literal(error), icon=":material/error:")
    st.stop()
table(all_scores)
verdicts(all_scores)
where_they_differ(all_scores, test_set)
