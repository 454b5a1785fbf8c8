"""The panel that shows how a model reads one digit: the 28×28 image it sees, its answer, and
the probability of every digit."""

from __future__ import annotations

import numpy as np
import streamlit as st

from digitcnn import charts, gallery, preprocess
from digitcnn.errors import EmptyDrawingError, ImageError

DRAW_PROMPT = "Draw a digit (0–9) on the canvas: the model reads it as you draw."


def read_drawing(predictor, image_data: np.ndarray | None, key: str = "drawing") -> np.ndarray | None:
    """Read a canvas drawing (RGBA); an empty canvas shows a prompt, not a guess.
    Returns the ten probabilities, or None when there was nothing to read. ``key`` tells this
    panel's widgets apart from another reading's on the same page."""
    if image_data is None:
        st.info(DRAW_PROMPT, icon=":material/draw:")
        return None
    try:
        digit = preprocess.canvas_to_mnist(image_data)
    except EmptyDrawingError as error:
        st.info(f"{DRAW_PROMPT} ({error})", icon=":material/draw:")
        return None
    return show_reading(predictor, digit, key)


def read_picture(predictor, upload, key: str = "picture") -> np.ndarray | None:
    """Read an uploaded picture of a digit; a file that is not one gets a clear message."""
    try:
        picture = preprocess.read_image(upload)
        digit = preprocess.photo_to_mnist(picture)
    except (ImageError, EmptyDrawingError) as error:
        st.warning(str(error), icon=":material/image_not_supported:")
        return None
    st.image(picture.convert("RGB"), caption=upload.name, width=160)
    return show_reading(predictor, digit, key)


def show_reading(predictor, digit: np.ndarray, key: str) -> np.ndarray:
    """Show the model's view of ``digit`` (28×28 in [0, 1]) and its answer; returns the probabilities."""
    probabilities = predictor.probabilities(digit)
    best = int(probabilities.argmax())
    seen, answer = st.columns([1, 1])
    seen.image(gallery.enlarge(digit, 5), caption="What the model sees: 28×28, MNIST-style",
               output_format="PNG")
    answer.markdown(f"<div role='status' aria-label='predicted digit' style='font-size:7rem;font-weight:700;"
                    f"line-height:1'>{best}</div>", unsafe_allow_html=True)
    answer.metric("Confidence", charts.probability_text(probabilities[best]))
    runner_up = int(np.argsort(probabilities)[-2])
    answer.caption(f"Next best: {runner_up} ({charts.probability_text(probabilities[runner_up])})")
    st.plotly_chart(charts.probability_bars(probabilities), key=f"{key}_probabilities")
    return probabilities
