"""Streamlit helpers shared by the pages: cached loaders, the sidebar, the digit reading panel.

Only this package and the pages import Streamlit; everything they compute comes from ``digitcnn``.
"""
