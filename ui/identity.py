"""Who is in front of this session: one browser, across reloads and tabs.

A Streamlit session lives as long as one page load, so a reload starts a new one. What a person
started or kept (a training, their drawings) must outlive that, and must never reach another
browser. The browser already carries a random secret of the server's: the XSRF cookie
(``server.enableXsrfProtection`` in .streamlit/config.toml). Its token bytes stay the same for the
browser while the value sent is masked afresh on every response, so the token itself, hashed, is the
browser's key; the raw cookie never leaves this module.

Where there is no such cookie (AppTest, or a server run with XSRF protection off), the key is one of
the session's own, so a person is at worst one page load, never somebody else.
"""

from __future__ import annotations

import binascii
import hashlib
import uuid

import streamlit as st

_XSRF_COOKIE = "_streamlit_xsrf"
_SESSION_KEY = "browser_key_of_this_session"  # the fallback, made once a session


def browser_key() -> str:
    """A stable, opaque key for this browser (hex), the same on every page load of it."""
    token = _xsrf_token(st.context.cookies.get(_XSRF_COOKIE))
    if token:
        return hashlib.sha256(b"digitcnn browser " + token).hexdigest()[:32]
    if _SESSION_KEY not in st.session_state:
        st.session_state[_SESSION_KEY] = uuid.uuid4().hex
    return st.session_state[_SESSION_KEY]


def _xsrf_token(cookie: str | None) -> bytes | None:
    """The token bytes inside a Tornado/Starlette XSRF cookie: version 2 is ``2|mask|masked|time``
    (token = mask XOR masked), version 1 the token in hex; None for anything else."""
    if not cookie:
        return None
    value = cookie.strip("\"'")
    try:
        if value.startswith("2|"):
            _, mask_hex, masked_hex, _timestamp = value.split("|")
            mask, masked = binascii.a2b_hex(mask_hex), binascii.a2b_hex(masked_hex)
            if len(mask) != 4 or not masked:
                return None
            return bytes(byte ^ mask[index % 4] for index, byte in enumerate(masked))
        return binascii.a2b_hex(value) or None
    except (ValueError, binascii.Error):
        return None
