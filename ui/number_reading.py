"""The panel that shows how a model reads a whole number, a row of digits written on the wide canvas or
photographed: the number, how sure the whole reading is, each digit's box over the picture, and "Right" /
"No, it's …", which keep every digit in My drawings with its label."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from digitcnn.data import NOT_A_DIGIT, preprocess
from digitcnn.errors import EmptyDrawingError, ImageError
from digitcnn.percentages import probability_text
from digitcnn.views import charts
from ui import drawings
from ui.markup import literal
from ui.reading import kept_caption, small_png

WRITE_PROMPT = "Write a number (a row of digits, 0–9) on the canvas: the model reads it as you write."
NOT_A_DIGIT_LETTER = "x"  # what a person types, in "No, it's …", for a piece that is not a digit
SURE_HELP = ("How sure the model is that it read every digit right: its sureness of each digit, multiplied "
             "together. Each digit is answered only when at least as sure as \"How sure must it be to answer?\" "
             "says; less sure, it is marked \"not a digit\".")


def read_written_number(predictor, card, image_data: np.ndarray | None, threshold: float | None = None,
                        key: str = "number"):
    """Read the number on a canvas (RGBA) and offer to keep its digits; an empty canvas shows a prompt, not a
    guess. Returns the :class:`~digitcnn.reading.numbers.NumberReading`, or None when there was nothing to read.
    ``key`` tells this panel's widgets apart from another's on the same page."""
    if image_data is None:
        st.info(WRITE_PROMPT, icon=":material/draw:")
        return None
    try:
        number = predictor.read_number(image_data, threshold)
    except EmptyDrawingError as error:
        st.info(f"{WRITE_PROMPT} ({error})", icon=":material/draw:")
        return None
    show_number(number, Image.fromarray(np.asarray(image_data, dtype=np.uint8)), card, key)
    return number


def read_number_picture(predictor, card, upload, threshold: float | None = None, key: str = "number_picture"):
    """Read an uploaded picture of a number and offer to keep its digits (as :func:`read_written_number`); a file
    that is not a picture, or holds no number, gets a clear message."""
    try:
        picture = preprocess.read_image(upload)
        number = predictor.read_number(picture, threshold)
    except (ImageError, EmptyDrawingError) as error:
        st.warning(literal(error), icon=":material/image_not_supported:")
        return None
    show_number(number, picture, card, key)
    return number


def show_number(number, picture: Image.Image, card, key: str) -> None:
    """The number read, large; how sure the whole reading is; the controls that keep it; and its picture with each
    digit's box, answer and sureness."""
    answer, figure = st.columns([1, 3], gap="large")
    with answer:
        text = number.text or "No digit"
        size = "5rem" if len(text) <= 8 else "3rem"
        st.markdown(f"<div role='status' aria-label='number read' style='font-size:{size};font-weight:700;"
                    f"line-height:1.1;overflow-wrap:anywhere'>{text}</div>", unsafe_allow_html=True)
        st.metric("How sure, of every digit", probability_text(number.score), help=SURE_HELP)
        if number.refused:
            st.caption(f"{number.refused} of the {len(number.digits)} pieces found "
                       f"{'does' if number.refused == 1 else 'do'} not look like a digit: left out of the number.")
        if number.marks:
            st.caption(f"Left out: {len(number.marks)} dot{'s' if len(number.marks) != 1 else ''} or speck"
                       f"{'s' if len(number.marks) != 1 else ''}.")
        keep_controls(number, picture, card, key)
    figure.plotly_chart(charts.number_boxes(picture, number), key=f"{key}_boxes",
                        config={"displayModeBar": False})


def keep_controls(number, picture: Image.Image, card, key: str) -> None:
    """"Right" and "No, it's …" for the whole number: keep each piece found, labelled, in My drawings (a piece refused
    as "not a digit" kept as one when Right), to teach a model this hand later. Keeping the same number again
    replaces its labels."""
    pieces = number.digits
    read = [NOT_A_DIGIT if part.digit is None else part.digit for part in pieces]
    correction_key = f"{key}_correction_{hash(tuple(part.image.tobytes() for part in pieces))}"
    st.button("Right", icon=":material/check:", key=f"{key}_right", on_click=_keep_as_read,
              args=(correction_key, pieces, picture, read, card),
              help="Keep each digit as read (a piece marked \"not a digit\" as not a digit).")
    st.text_input("No, it's …", key=correction_key, placeholder=f"type it: {len(pieces)} characters",
                  on_change=lambda: _keep_typed(correction_key, pieces, picture, card),
                  help=f"Type the number as written, one character for each piece found, left to right: a digit, "
                       f"or {NOT_A_DIGIT_LETTER} for a piece that is not a digit.")
    if problem := st.session_state.get(_problem_key(correction_key)):
        st.warning(literal(problem), icon=":material/warning:")
    elif error := drawings.keep_error():
        st.error(literal(error), icon=":material/error:")
    else:
        kept = [drawings.kept_label(part.image) for part in number.digits]
        if any(label is not None for label in kept):
            kept_caption(", ".join("—" if label is None else "not a digit" if label == NOT_A_DIGIT else str(label)
                                   for label in kept))


def typed_labels(typed: str, pieces: int) -> list[int]:
    """The labels a person typed for ``pieces`` pieces, left to right: a digit each, or
    :data:`NOT_A_DIGIT_LETTER`; blanks are skipped. Raises ValueError, with what to do, for anything else."""
    characters = [character for character in typed if not character.isspace()]
    wrong = sorted({character for character in characters
                    if not (character in "0123456789" or character.lower() == NOT_A_DIGIT_LETTER)})
    if wrong:
        raise ValueError(f"{', '.join(repr(character) for character in wrong)}: type a digit for each piece, or "
                         f"{NOT_A_DIGIT_LETTER} for a piece that is not one.")
    if len(characters) != pieces:
        raise ValueError(f"The model found {pieces} piece{'s' if pieces != 1 else ''} and you typed "
                         f"{len(characters)} character{'s' if len(characters) != 1 else ''}: type one for each "
                         f"piece, left to right ({NOT_A_DIGIT_LETTER} for one that is not a digit), or write the "
                         f"number again with more room between its digits.")
    return [NOT_A_DIGIT if character.lower() == NOT_A_DIGIT_LETTER else int(character) for character in characters]


def _keep_typed(field: str, pieces, picture: Image.Image, card) -> None:
    """The "No, it's …" field's callback: keep each piece with the label typed for it, or remember what is wrong
    with what was typed (until the field changes again)."""
    typed = st.session_state[field]
    st.session_state.pop(_problem_key(field), None)
    if not typed.strip():
        return
    try:
        labels = typed_labels(typed, len(pieces))
    except ValueError as error:
        st.session_state[_problem_key(field)] = str(error)
        return
    _keep(pieces, picture, labels, card)


def _keep_as_read(field: str, pieces, picture: Image.Image, read: list[int], card) -> None:
    """The "Right" button's callback: keep each piece as read; what was wrong with a correction typed is forgotten."""
    st.session_state.pop(_problem_key(field), None)
    _keep(pieces, picture, read, card)


def _problem_key(field: str) -> str:
    return f"{field}_problem"


def _keep(pieces, picture: Image.Image, labels: list[int], card) -> None:
    """Keep each piece (its reading, and its part of ``picture`` made small: only when kept, not on every stroke)
    with its label; stop at the first that cannot be kept (its message stays, see :func:`ui.drawings.keep_error`)."""
    for part, label in zip(pieces, labels):
        png = small_png(picture.crop(tuple(int(edge) for edge in part.box)))
        drawings.keep_drawing(label, part.image, png, card, part.reading)
        if drawings.keep_error():
            return

