"""The panel that shows how a model reads one digit: the 28×28 image it sees, its answer (a digit,
or "not a digit"), and how sure it is of every answer; and the control of how sure it must be."""

from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image

from digitcnn.views import charts, gallery
from digitcnn.data import preprocess
from digitcnn.percentages import probability_text, share_text
from digitcnn.errors import EmptyDrawingError, ImageError
from digitcnn.data import NOT_A_DIGIT
from digitcnn.reading.refusal import Reading
from ui import drawings, inside
from ui.markup import literal

DRAW_PROMPT = "Draw a digit (0–9) on the canvas: the model reads it as you draw."
REFUSED = "That doesn't look like a digit"
SURE_HELP = ("How sure the model is of its answer: the bars below give each answer's share, \"not a digit\" "
             "included. Less sure than the threshold under \"How sure must it be to answer?\", it says it is not a "
             "digit.")
KEPT_PICTURE_SIDE = 140  # the kept copy of a canvas or picture: enough to recognise it, a few kilobytes


def answer_threshold(predictor, card) -> float:
    """The "only answer when at least … sure" control, with what it means on the model's test digits;
    returns the threshold chosen (the model's fitted one until the user moves it)."""
    rule = predictor.refusal
    if not rule.fitted:
        st.caption(f"**{literal(card.name)}** was saved before models learned to say \"not a digit\": it always "
                   f"answers.")
        return 0.0
    fitted_percent = int(round(rule.threshold * 100))
    control, chart = st.columns([2, 3], gap="large")
    with control:
        percent = st.slider("Only answer when at least … sure", min_value=0, max_value=100, step=1,
                            value=fitted_percent, format="%d%%", key=f"threshold_{card.name}",
                            help=f"{literal(card.name)} was set to answer when at least {probability_text(rule.threshold)} sure: "
                                 f"less sure, it says \"not a digit\", which it does for "
                                 f"{share_text(rule.test_refused, 1)} of its test digits.")
        # Left where it starts, the slider means the fitted threshold itself, not its whole percent: rounded up
        # (0.058 to 6%), it would refuse more test digits than the rule promises.
        threshold = rule.threshold if percent == fitted_percent else percent / 100
        answered, accuracy = rule.at(threshold)
        st.metric("Test digits it still answers", share_text(answered, 1))
        st.metric("Accuracy on those", share_text(accuracy, 1))
    chart.plotly_chart(charts.coverage_curve(rule.curve, threshold), key=f"coverage_{card.name}")
    return threshold


def read_drawing(predictor, card, image_data: np.ndarray | None, threshold: float | None = None,
                 key: str = "drawing", inside_at=None) -> Reading | None:
    """Read a canvas drawing (RGBA) and offer to keep it and to look inside the reading (in the container
    ``inside_at``, full width below, say; default: here); an empty canvas shows a prompt, not a guess.
    Returns the reading, or None when there was nothing to read. ``key`` tells this panel's widgets apart
    from another reading's on the same page."""
    if image_data is None:
        st.info(DRAW_PROMPT, icon=":material/draw:")
        return None
    try:
        digit = preprocess.canvas_to_mnist(image_data)
    except EmptyDrawingError as error:
        st.info(f"{DRAW_PROMPT} ({error})", icon=":material/draw:")
        return None
    reading = show_reading(predictor, digit, threshold, key)
    keep_controls(reading, digit, Image.fromarray(np.asarray(image_data, dtype=np.uint8)), card, key)
    with inside_at or st.container():
        inside.inside_section(predictor, digit, key, threshold)
    return reading


def read_picture(predictor, card, upload, threshold: float | None = None, key: str = "picture",
                 inside_at=None) -> Reading | None:
    """Read an uploaded picture of a digit and offer to keep it and to look inside the reading (as
    :func:`read_drawing`); a file that is not one gets a clear message."""
    try:
        picture = preprocess.read_image(upload)
        digit = preprocess.photo_to_mnist(picture)
    except (ImageError, EmptyDrawingError) as error:
        st.warning(literal(error), icon=":material/image_not_supported:")
        return None
    st.image(picture.convert("RGB"), caption=literal(upload.name), width=160)
    reading = show_reading(predictor, digit, threshold, key)
    keep_controls(reading, digit, picture, card, key)
    with inside_at or st.container():
        inside.inside_section(predictor, digit, key, threshold)
    return reading


def label_text(label: int) -> str:
    return "not a digit" if label == NOT_A_DIGIT else f"a {label}"


def keep_controls(reading: Reading, digit: np.ndarray, picture: Image.Image, card, key: str) -> None:
    """"Right" and "No, it's a …": keep the drawing, labelled, in My drawings, to teach a model this hand
    later (Train & evaluate). Keeping the same drawing again replaces its label."""
    answer = NOT_A_DIGIT if reading.digit is None else reading.digit
    small = small_png(picture)
    right, wrong = st.columns([1, 2], vertical_alignment="bottom")
    right.button("Right", icon=":material/check:", key=f"{key}_right", on_click=drawings.keep_drawing,
                 args=(answer, digit, small, card, reading), help=f"Keep it as {label_text(answer)}.")
    labels = [label for label in (*range(10), NOT_A_DIGIT) if label != answer]
    correction_key = f"{key}_correction_{hash(digit.tobytes())}"  # a new drawing starts with no correction
    wrong.selectbox("No, it's …", options=labels, index=None, format_func=label_text, key=correction_key,
                    placeholder="pick what it is", on_change=lambda: drawings.keep_drawing(
                        st.session_state[correction_key], digit, small, card, reading),
                    help="Keep it with the right label.")
    if error := drawings.keep_error():
        st.error(literal(error), icon=":material/error:")
    elif (kept := drawings.kept_label(digit)) is not None:
        kept_caption(label_text(kept))


def kept_caption(kept_as: str) -> None:
    """Say that a drawing (or a number's digits) was kept as ``kept_as`` in My drawings, and who sees it there."""
    shared = drawings.shared_name()
    st.caption(f"Kept as {kept_as} in **My drawings** "
               + (f"(shared as **{literal(shared)}**)." if shared else "(yours alone, this browser)."))


def small_png(picture: Image.Image) -> bytes:
    """``picture`` as a gray PNG at most :data:`KEPT_PICTURE_SIDE` pixels a side."""
    small = picture.convert("L")
    small.thumbnail((KEPT_PICTURE_SIDE, KEPT_PICTURE_SIDE))
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def show_reading(predictor, digit: np.ndarray, threshold: float | None, key: str) -> Reading:
    """Show the model's view of ``digit`` (28×28 in [0, 1]) and its answer at ``threshold`` (None: the
    model's own); returns the reading."""
    reading = predictor.read(digit, threshold)
    sureness = reading.sureness
    seen, answer = st.columns([1, 1])
    seen.image(gallery.enlarge(digit, 5), caption="What the model sees: 28×28, MNIST-style",
               output_format="PNG")
    if reading.digit is None:
        answer.markdown(f"<div role='status' aria-label='predicted digit' style='font-size:2rem;font-weight:700;"
                        f"line-height:1.2'>{REFUSED}</div>", unsafe_allow_html=True)
        answer.caption(f"Closest digit: {reading.closest} ({probability_text(sureness[reading.closest])} sure)")
    else:
        answer.markdown(f"<div role='status' aria-label='predicted digit' style='font-size:7rem;font-weight:700;"
                        f"line-height:1'>{reading.digit}</div>", unsafe_allow_html=True)
        answer.metric("How sure", probability_text(reading.score), help=SURE_HELP)
        runner_up = int(np.argsort(sureness[:10])[-2])
        answer.caption(f"Next best: {runner_up} ({probability_text(sureness[runner_up])})")
    st.plotly_chart(charts.probability_bars(sureness), key=f"{key}_probabilities")
    return reading
