import math

import pytest

from digitcnn.percentages import MISSING, probability_text, share_text


@pytest.mark.parametrize("probability, text", [
    (0.996, "99.6%"), (0.5, "50.0%"), (0.9994, "99.9%"), (0.001, "0.1%"),
    # a model's probability is never 0 or 1: what rounds there is a bound, a float's 1.0 and 0.0 included
    (0.99996, "> 99.9%"), (0.9995, "> 99.9%"), (1.0, "> 99.9%"),
    (4e-5, "< 0.1%"), (0.00049, "< 0.1%"), (0.0, "< 0.1%"),
])
def test_a_probability_never_reads_as_certainty(probability, text):
    assert probability_text(probability) == text


@pytest.mark.parametrize("share, decimals, text", [
    (1.0, 2, "100%"), (0.0, 2, "0%"),  # all right, none right: exact
    (0.9952, 2, "99.52%"), (9_999 / 10_000, 2, "99.99%"), (59_998 / 60_000, 2, "> 99.99%"), (4e-5, 2, "< 0.01%"),
    (0.9996, 1, "> 99.9%"), (0.0004, 1, "< 0.1%"), (0.25, 0, "25%"),
])
def test_a_share_reads_all_or_none_only_when_it_is(share, decimals, text):
    assert share_text(share, decimals) == text


def test_a_share_of_nothing_reads_as_missing_not_nan():
    assert probability_text(math.nan) == share_text(math.nan) == MISSING


@pytest.mark.parametrize("decimals", [0, 1, 2, 3])
def test_no_value_short_of_all_or_none_rounds_to_them(decimals):
    for value in (1 - 10.0 ** -k for k in range(1, 12)):
        assert share_text(value, decimals) not in (f"{1:.{decimals}%}", "100%")
        assert probability_text(value) != "100.0%"
    for value in (10.0 ** -k for k in range(1, 12)):
        assert share_text(value, decimals) not in (f"{0:.{decimals}%}", "0%")
        assert probability_text(value) != "0.0%"
