"""Every visit goes through the app's entry point, which draws the navigation and the shared sidebar before the page.

Streamlit reads the `pages/` folder beside the entry point as an old-style multipage app until the entry point has
called `st.navigation` once in the server's life. Until then, a visitor who opens a page by its address (a bookmark,
a shared link, a reload after the server restarted) gets that page's file run on its own: Streamlit's own list of the
files for navigation, and no sidebar, so no choice of data or model (seen with Streamlit 1.67 on a fresh server's
first visit to /train_evaluate). Such a visit is sent to the entry point, and from there on to the page asked for.
"""

from __future__ import annotations

import streamlit as st

ENTRY_POINT = "streamlit_app.py"
_ENTERED = "entered_through_the_entry_point"
_ASKED_FOR = "page_asked_for_before_the_entry_point"


def entered() -> None:
    """Called by the entry point once its navigation is set: this session goes through it from now on, and a
    visit sent here by :func:`through_the_entry_point` goes on to the page it asked for."""
    st.session_state[_ENTERED] = True
    if (page := st.session_state.pop(_ASKED_FOR, None)) is not None:
        st.switch_page(page)


def through_the_entry_point(page: str) -> None:
    """Called first by each page (``page``: its file, as the entry point names it): a page run on its own, outside
    the entry point, is sent there."""
    if not st.session_state.get(_ENTERED):
        st.session_state[_ASKED_FOR] = page
        st.switch_page(ENTRY_POINT)
