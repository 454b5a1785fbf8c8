"""Draw a digit: the active model reads a drawing, or an uploaded picture, as you make it, and says
"not a digit" when it is not sure enough."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from digitcnn.networks import architectures
from digitcnn.data import preprocess, seen
from digitcnn.errors import DigitCNNError
from ui import navigation, reading, state
from ui.markup import literal

navigation.through_the_entry_point("pages/draw_digit.py")  # before anything: see ui.navigation

CANVAS_SIDE = 280


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


@st.fragment
def upload_tab(predictor, card, threshold: float) -> None:
    upload_column, picture_column = st.columns([1, 1], gap="large")
    below = st.container()
    with upload_column:
        upload = st.file_uploader("A picture of one digit", type=list(preprocess.PICTURE_SUFFIXES),
                                  help="Dark ink on light paper or light ink on dark, any size.")
    with picture_column:
        if upload is None:
            st.info("Upload a photo or scan of a handwritten digit.", icon=":material/upload:")
        else:
            reading.read_picture(predictor, card, upload, threshold, inside_at=below)


st.title("Draw a digit")
predictor, card = active_model()
readings = st.container()  # drawn first, filled once the threshold below is known
with st.expander("How sure must it be to answer?", icon=":material/tune:"):  # folded: the drawing comes first
    threshold = reading.answer_threshold(predictor, card)
with readings:
    # Tabs, not a switch: both stay on the page, so a drawing survives a look at the upload tab.
    draw, upload = st.tabs(["Draw", "Upload a picture"])
    with draw:
        drawing_tab(predictor, card, threshold)
    with upload:
        upload_tab(predictor, card, threshold)
