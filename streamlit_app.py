"""DigitCNN's web app. The pages arrive with the app issue; this entry point already starts."""

import streamlit as st

st.set_page_config(page_title="DigitCNN", page_icon="✍️")
st.title("DigitCNN")
st.write(
    "An interactive lab for convolutional networks on handwritten digits. "
    "The pages (dataset browser, train & evaluate, draw a digit) are on their way; "
    "meanwhile the library works from the command line: `python -m digitcnn --help`."
)
