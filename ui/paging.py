"""Paging through images: a "Page (of N)" box, and the images of the page it shows."""

from __future__ import annotations

import numpy as np
import streamlit as st

from digitcnn.views import gallery


def page_picker(indices: np.ndarray, per_page: int, at=st, key: str | None = None) -> np.ndarray:
    """A "Page (of N)" box drawn at ``at`` (a column, say) over ``indices``, ``per_page`` a page; returns the
    indices on the page it shows."""
    pages = gallery.page_count(len(indices), per_page)
    page = at.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key=key)
    return gallery.page_of(indices, page, per_page)
