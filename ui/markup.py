"""What people typed or brought, shown on a page as exactly what it is.

Streamlit reads almost everything a page shows (captions, messages, headers, labels, help) as Markdown and more:
``**bold**``, links, images (which every browser showing them fetches), ``:red[...]`` and other directives,
``:material/...:`` icons, ``:emoji:`` codes, ``$...$`` LaTeX. A model's name, a model card's fields, a writer's
name, an uploaded file's name, or an error message quoting one of them, must never become any of that: a card
is shown to every user of the server, so its writer's name would otherwise be one user's markup in another's
page. Every page puts such text through :func:`literal`, the one escape.
"""

from __future__ import annotations

import re

# The ASCII punctuation that can start or shape markup (CommonMark lets a backslash escape each): emphasis, code,
# links and images, HTML and entities, headings, tables, strikethrough, Streamlit's directives (":red[",
# ":material/"), emoji codes (two colons), LaTeX ("$"), and the addresses GitHub's Markdown makes links of by
# themselves ("http:", "www.", "a@b.c"). A hyphen, plus or equals sign only at the start of a line (a list, a
# heading's underline): inside one they are never markup, and model names are full of hyphens. Commas, quotes and
# the like are left as they are, so that messages stay readable in the page's source.
# And "/": Streamlit rewrites ":material/" wherever it is in the text, escaped colon or not.
_MARKUP = re.compile(r"[\\`*_{}\[\]()<>#!|~$:@&./]|^[ \t]*[-+=]", re.MULTILINE)


def literal(text) -> str:
    """``text`` (any value, as ``str`` gives it) as Markdown that shows exactly ``text``: each character that
    could be markup backslash-escaped."""
    return _MARKUP.sub(lambda found: found.group()[:-1] + "\\" + found.group()[-1], str(text))
