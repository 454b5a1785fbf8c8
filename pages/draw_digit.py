"""Draw a digit: the active model reads a drawing, or an uploaded picture, as you make it."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from ui import reading, state

CANVAS_SIDE = 280

st.title("Draw a digit")
predictor, card = state.active_predictor()
if predictor is None:
    st.warning("There is no saved model yet: train and save one on **Train & evaluate**.", icon=":material/warning:")
    st.stop()
st.caption(f"Read by **{card.name}** ({card.architecture}, {card.test_accuracy:.2%} on its test images).")

source = st.segmented_control("Input", ["Draw", "Upload a picture"], default="Draw", key="input_kind") or "Draw"
canvas_column, reading_column = st.columns([1, 1], gap="large")
with canvas_column:
    if source == "Draw":
        stroke_width = st.slider("Pen width", min_value=6, max_value=40, value=20, key="pen_width")
        canvas = st_canvas(
            stroke_width=stroke_width,
            stroke_color="#FFFFFF",
            background_color="#000000",
            width=CANVAS_SIDE,
            height=CANVAS_SIDE,
            drawing_mode="freedraw",
            return_image_data=True,
            key="canvas",
        )
        st.caption("White ink on black, like MNIST. The toolbar under the canvas undoes, redoes and clears.")
        drawing = canvas.image_data if canvas is not None else None
    else:
        upload = st.file_uploader("A picture of one digit", type=["png", "jpg", "jpeg", "bmp", "gif", "webp"],
                                  help="Dark ink on light paper or light on dark, any size.")
with reading_column:
    if source == "Draw":
        reading.read_drawing(predictor, drawing)
    elif upload is not None:
        reading.read_picture(predictor, upload)
    else:
        st.info("Upload a photo or scan of a handwritten digit.", icon=":material/upload:")
