"""Draw a digit: the active model reads a drawing, a number written on a wide canvas, or an uploaded picture, as
you make it, and says "not a digit" when it is not sure enough."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from digitcnn.networks import architectures
from digitcnn.data import preprocess, seen
from digitcnn.errors import DigitCNNError
from ui import navigation, number_reading, reading, state
from ui.markup import literal

navigation.through_the_entry_point("pages/draw_digit.py")  # before anything: see ui.navigation

CANVAS_SIDE = 280
NUMBER_CANVAS = (840, 240)  # width, height: room for eight digits about three-quarters of its height tall


def active_model():
    """The predictor and card of the model in use; stops the page with a message when there is none."""
    try:
        predictor, card = state.active_predictor()
    except DigitCNNError as error:  # a model file broken since the sidebar listed it
        st.error(f"{literal(error)}. Pick another model in the sidebar.", icon=":material/error:")
        st.stop()
    if predictor is None:
        st.warning("There is no saved model yet: train and save one on **Train & evaluate**.",
                   icon=":material/warning:")
        st.stop()
    st.caption(f"Read by **{literal(card.name)}** ({literal(architectures.title_of(card.architecture))}, "
               f"{literal(seen.card_score_text(card))}). Pick another model in the sidebar.")
    return predictor, card


@st.fragment  # a stroke reruns the canvas and its reading alone, not the sidebar and the threshold's chart
def drawing_tab(predictor, card, threshold: float) -> None:
    canvas_column, reading_column = st.columns([1, 1], gap="large")
    below = st.container()  # looking inside the reading takes the page's whole width
    with canvas_column:
        stroke_width = st.slider("Pen width", min_value=6, max_value=40, value=20, key="pen_width")
        canvas = st_canvas(stroke_width=stroke_width, stroke_color="#FFFFFF", background_color="#000000",
                           width=CANVAS_SIDE, height=CANVAS_SIDE, drawing_mode="freedraw", return_image_data=True,
                           key="canvas")
        st.caption("White ink on black, like MNIST. The buttons above the canvas undo, redo and clear.")
    with reading_column:
        reading.read_drawing(predictor, card, canvas.image_data if canvas is not None else None, threshold,
                             inside_at=below)


@st.fragment  # as the Draw tab: a stroke reruns this tab alone
def number_tab(predictor, card, threshold: float) -> None:
    width, height = NUMBER_CANVAS
    pen, _ = st.columns([1, 2])
    stroke_width = pen.slider("Pen width", min_value=6, max_value=40, value=16, key="number_pen_width")
    canvas = st_canvas(stroke_width=stroke_width, stroke_color="#FFFFFF", background_color="#000000",
                       width=width, height=height, drawing_mode="freedraw", return_image_data=True,
                       key="number_canvas")
    st.caption("Write the digits in a row, a little apart, as tall as about three-quarters of the canvas. Each is "
               "read as on the Draw tab; the buttons above the canvas undo, redo and clear.")
    number_reading.read_written_number(predictor, card, canvas.image_data if canvas is not None else None, threshold)


@st.fragment
def upload_tab(predictor, card, threshold: float) -> None:
    upload_column, picture_column = st.columns([1, 1], gap="large")
    below = st.container()
    with upload_column:
        shows = st.radio("It shows", ["one digit", "a number"], horizontal=True, key="upload_shows",
                         help="A number: a row of digits, each read on its own.")
        upload = st.file_uploader("A picture of one digit or of a number", type=list(preprocess.PICTURE_SUFFIXES),
                                  help="Dark ink on light paper or light ink on dark, any size.")
    if upload is None:
        picture_column.info(f"Upload a photo or scan of a handwritten {'digit' if shows == 'one digit' else 'number'}.",
                            icon=":material/upload:")
    elif shows == "a number":  # the whole width: a number's picture is wide
        number_reading.read_number_picture(predictor, card, upload, threshold)
    else:
        with picture_column:
            reading.read_picture(predictor, card, upload, threshold, inside_at=below)


st.title("Draw a digit")
predictor, card = active_model()
readings = st.container()  # drawn first, filled once the threshold below is known
with st.expander("How sure must it be to answer?", icon=":material/tune:"):  # folded: the drawing comes first
    threshold = reading.answer_threshold(predictor, card)
with readings:
    # Tabs, not a switch: all stay on the page, so a drawing survives a look at another tab.
    draw, number, upload = st.tabs(["Draw", "Write a number", "Upload a picture"])
    with draw:
        drawing_tab(predictor, card, threshold)
    with number:
        number_tab(predictor, card, threshold)
    with upload:
        upload_tab(predictor, card, threshold)
