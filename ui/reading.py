"""The panel that shows how a model reads one digit: the 28×28 image it sees, its answer (a digit,
or "not a digit"), and the probability of every digit; and the control of how sure it must be."""

from __future__ import annotations

import numpy as np
import streamlit as st

from digitcnn import charts, gallery, preprocess
from digitcnn.errors import EmptyDrawingError, ImageError
from digitcnn.refusal import Reading

DRAW_PROMPT = "Draw a digit (0–9) on the canvas: the model reads it as you draw."
REFUSED = "That doesn't look like a digit"


def answer_threshold(predictor, card) -> float:
    """The "only answer when at least … sure" control, with what it means on the model's test digits;
    returns the threshold chosen (the model's fitted one until the user moves it)."""
    rule = predictor.refusal
    if not rule.fitted:
        st.caption(f"**{card.name}** was saved before models learned to say \"not a digit\": it always answers.")
        return 0.0
    control, chart = st.columns([2, 3], gap="large")
    with control:
        percent = st.slider("Only answer when at least … sure", min_value=0, max_value=100, step=1,
                            value=int(round(rule.threshold * 100)), format="%d%%", key=f"threshold_{card.name}",
                            help=f"{card.name} was fitted to answer at {rule.threshold:.1%}: below that it says "
                                 f"\"not a digit\", which it does for {rule.test_refused:.1%} of its test digits.")
        threshold = percent / 100
        answered, accuracy = rule.at(threshold)
        st.metric("Test digits it still answers", f"{answered:.1%}")
        st.metric("Accuracy on those", charts.probability_text(accuracy))
    chart.plotly_chart(charts.coverage_curve(rule.curve, threshold), key=f"coverage_{card.name}")
    return threshold


def read_drawing(predictor, image_data: np.ndarray | None, threshold: float | None = None,
                 key: str = "drawing") -> Reading | None:
    """Read a canvas drawing (RGBA); an empty canvas shows a prompt, not a guess. Returns the
    reading, or None when there was nothing to read. ``key`` tells this panel's widgets apart from
    another reading's on the same page."""
    if image_data is None:
        st.info(DRAW_PROMPT, icon=":material/draw:")
        return None
    try:
        digit = preprocess.canvas_to_mnist(image_data)
    except EmptyDrawingError as error:
        st.info(f"{DRAW_PROMPT} ({error})", icon=":material/draw:")
        return None
    return show_reading(predictor, digit, threshold, key)


def read_picture(predictor, upload, threshold: float | None = None, key: str = "picture") -> Reading | None:
    """Read an uploaded picture of a digit; a file that is not one gets a clear message."""
    try:
        picture = preprocess.read_image(upload)
        digit = preprocess.photo_to_mnist(picture)
    except (ImageError, EmptyDrawingError) as error:
        st.warning(str(error), icon=":material/image_not_supported:")
        return None
    st.image(picture.convert("RGB"), caption=upload.name, width=160)
    return show_reading(predictor, digit, threshold, key)


def show_reading(predictor, digit: np.ndarray, threshold: float | None, key: str) -> Reading:
    """Show the model's view of ``digit`` (28×28 in [0, 1]) and its answer at ``threshold`` (None: the
    model's own); returns the reading."""
    reading = predictor.read(digit, threshold)
    probabilities = reading.probabilities
    seen, answer = st.columns([1, 1])
    seen.image(gallery.enlarge(digit, 5), caption="What the model sees: 28×28, MNIST-style",
               output_format="PNG")
    if reading.digit is None:
        answer.markdown(f"<div role='status' aria-label='predicted digit' style='font-size:2rem;font-weight:700;"
                        f"line-height:1.2'>{REFUSED}</div>", unsafe_allow_html=True)
        answer.caption(f"Closest digit: {reading.closest} ({charts.probability_text(reading.score)})")
    else:
        answer.markdown(f"<div role='status' aria-label='predicted digit' style='font-size:7rem;font-weight:700;"
                        f"line-height:1'>{reading.digit}</div>", unsafe_allow_html=True)
        answer.metric("Confidence", charts.probability_text(reading.score))
        runner_up = int(np.argsort(probabilities)[-2])
        answer.caption(f"Next best: {runner_up} ({charts.probability_text(probabilities[runner_up])})")
    st.plotly_chart(charts.probability_bars(probabilities), key=f"{key}_probabilities")
    return reading
