"""How the app and the command line write a probability or a share as a percentage: one rule, so that the same
number reads the same everywhere, and no rounding claims a certainty that is not there.

A rounded figure that would read as all (100.0%) or nothing (0.0%) is written as a bound instead ("> 99.9%",
"< 0.1%"). A model's probability is never exactly 0 or 1 (a softmax or a sigmoid only comes close: a float
rounds it there), so it is always written so; a counted share (an accuracy: right answers out of all) is exactly
0 or 1 only when none or all are, and then reads "0%" or "100%".
"""

from __future__ import annotations

import math

MISSING = "—"  # a share of nothing (no images of that digit, say): NaN


def probability_text(probability: float) -> str:
    """A model's probability (or how sure it is) to one decimal: 0.996 → "99.6%", 0.99996 and 1.0 → "> 99.9%",
    4e-5 and 0.0 → "< 0.1%"."""
    return _percent(probability, decimals=1, exact_ends=False)


def share_text(share: float, decimals: int = 2) -> str:
    """A counted share, an accuracy say, to ``decimals`` decimals: 0.9952 → "99.52%", all right (1.0) → "100%",
    9,999 right of 10,000 (0.9999) → "99.99%", 0.99996 → "> 99.99%", 4e-5 → "< 0.01%"."""
    return _percent(share, decimals, exact_ends=True)


def _percent(value: float, decimals: int, exact_ends: bool) -> str:
    value = float(value)
    if math.isnan(value):
        return MISSING
    if exact_ends and value in (0.0, 1.0):
        return f"{value:.0%}"
    text = f"{value:.{decimals}%}"
    smallest = 10.0 ** -(decimals + 2)  # the smallest share written: 0.1% at one decimal
    if text == f"{1:.{decimals}%}":  # rounded up to all
        return f"> {1 - smallest:.{decimals}%}"
    if text == f"{0:.{decimals}%}":  # rounded down to nothing
        return f"< {smallest:.{decimals}%}"
    return text
