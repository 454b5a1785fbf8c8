"""Home: what DigitCNN is and where to go."""

import streamlit as st

from digitcnn.data import seen
from digitcnn.percentages import share_text
from ui import navigation, state
from ui.markup import literal

navigation.through_the_entry_point("pages/home.py")  # before anything: see ui.navigation


def in_use() -> None:
    """The data and the model this user works with."""
    dataset = state.active_dataset()
    card = state.active_model_card()
    data_column, model_column = st.columns(2)
    data_column.metric("Images in the active data", f"{len(dataset):,}", help=literal(dataset.source))
    if card is None:
        model_column.metric("Active model", "none yet")
    else:
        model_column.metric(f"Active model: {literal(card.name)}", share_text(card.test_accuracy),
                            help=literal(seen.card_score_text(card)))


def pages() -> None:
    """A link to each page, with what it does."""
    st.page_link("pages/dataset_browser.py", label="**Dataset browser**: counts, samples of each digit, any row, "
                 "the average digit", icon=":material/grid_view:")
    st.page_link("pages/train_evaluate.py", label="**Train & evaluate**: pick an architecture, train with live "
                 "curves, study the confusion matrix and the mistakes, save the model",
                 icon=":material/model_training:")
    st.page_link("pages/draw_digit.py", label="**Draw a digit**: the active model reads what you draw or upload, "
                 "or says it is not a digit; keep your drawings to teach it your handwriting", icon=":material/draw:")
    st.page_link("pages/compare_models.py", label="**Compare models**: two to four saved models on the same images: "
                 "which is better, whether the difference is real, and where they disagree",
                 icon=":material/compare_arrows:")
    st.page_link("pages/train_evaluate.py", label="**Teach a model your handwriting**: once you have kept drawings, "
                 "at the bottom of Train & evaluate", icon=":material/school:")


st.title("DigitCNN")
st.write(
    "A lab for convolutional networks on handwritten digits: look at the data, train a network "
    "and watch it learn, then draw digits for it to read."
)
in_use()
pages()
