"""DigitCNN's web app: `streamlit run streamlit_app.py`.

The entry point lays out the navigation and the shared sidebar, then runs the chosen page.
"""

import streamlit as st

from digitcnn import config
from digitcnn.errors import DigitCNNError
from ui import loaders, navigation, sidebar, training_jobs
from ui.markup import literal

# An emoji, not a ":material/…:" icon: Streamlit fetches those for the browser tab from a font server on the internet,
# and the app must need no network. (The icons of the pages below come with Streamlit's own files.)
st.set_page_config(page_title="DigitCNN", page_icon="✏️", layout="wide")

page = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/dataset_browser.py", title="Dataset browser", icon=":material/grid_view:"),
        st.Page("pages/train_evaluate.py", title="Train & evaluate", icon=":material/model_training:"),
        st.Page("pages/draw_digit.py", title="Draw a digit", icon=":material/draw:"),
        st.Page("pages/compare_models.py", title="Compare models", icon=":material/compare_arrows:"),
    ]
)
navigation.entered()  # a visit that first ran a page on its own (see ui.navigation) goes on to that page
try:
    config.check_environment()  # before anything reads a variable: one bad value would break every page
except DigitCNNError as error:
    st.error(f"The server is set up wrongly: {literal(error)}. Whoever runs it needs to correct this and restart it.",
             icon=":material/error:")
    st.stop()
# The job board: made once per server (its first worker starts importing TensorFlow); counts this session.
training_jobs.join_job_board()
sidebar.render()
page.run()
loaders.keep_streamlits_cleanup_cheap()  # once Keras is in (a page may have just loaded a model)
