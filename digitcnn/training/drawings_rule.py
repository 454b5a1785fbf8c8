"""The drawings a fine-tune needs (:func:`teaching_rule`: :data:`MIN_DRAWINGS` in all, and two of each digit drawn
when some are kept apart to test), checked before it starts (:func:`check_drawings`), said as the Teach button says
what is missing (:func:`drawings_missing`), and how they are parted into those taught and those kept apart to
test (:func:`split_drawings`). No network here: the teach page and the command line ask before any is loaded."""

from __future__ import annotations

import numpy as np

from digitcnn.data import Dataset
from digitcnn.errors import SettingsError

MIN_DRAWINGS = 10  # fewer drawings in all teach nothing that lasts


def check_drawings(drawings: Dataset, personal_test_share: float) -> None:
    """Raise :class:`SettingsError`, saying how many are needed, unless the drawings meet
    :func:`teaching_rule`. Copies of one picture count once: ten copies of two pictures taught a model
    two images, and left the "not a digit" rule's scikit-learn fit too few different ones to fit."""
    pictures = {(int(label), image.tobytes()) for image, label in zip(drawings.images, drawings.labels)}
    counts = {digit: sum(label == digit for label, _ in pictures) for digit in range(10)}
    short = _short_digits(counts, personal_test_share)
    if len(pictures) < MIN_DRAWINGS:
        different = "" if len(pictures) == len(drawings) else " different ones"
        why = f"there {'is' if len(pictures) == 1 else 'are'} only {len(pictures)}{different}"
    elif short:
        why = f"digit {short[0]} has only one" if len(short) == 1 else f"digits {_listed(short)} have only one each"
    else:
        return
    raise SettingsError(f"teaching needs {teaching_rule(personal_test_share)}: {why}")


def teaching_rule(personal_test_share: float) -> str:
    """The drawings teaching needs, in words: :data:`MIN_DRAWINGS` in all and, of each digit drawn, two (one to
    learn from, one to test on) when a share of them is kept apart to test, else one."""
    if _per_digit(personal_test_share) == 1:
        return f"at least {MIN_DRAWINGS} drawings"
    return f"at least {MIN_DRAWINGS} drawings, and at least 2 of each digit drawn (one to learn from, one to test on)"


def drawings_missing(counts: dict[int, int], personal_test_share: float) -> str | None:
    """What drawings ``counts`` (label → how many; labels other than digits are not taught) lack to meet
    :func:`teaching_rule`, said as the Teach button says it: "Keep 3 more drawings to teach", "Keep one more
    drawing of 7 to teach", "Keep 2 more drawings, one more of each of 3 and 7 among them, to teach"; None when
    they are enough."""
    digits = {digit: counts.get(digit, 0) for digit in range(10)}
    short = _short_digits(digits, personal_test_share)  # each lacks one: a digit needs at most two
    more = max(MIN_DRAWINGS - sum(digits.values()), len(short))
    if more <= 0:
        return None
    drawings = f"{more} more drawing{'s' if more > 1 else ''}" if more > len(short) or not short else ""
    of = ("" if not short else f"one more drawing of {short[0]}" if len(short) == 1
          else f"one more drawing of each of {_listed(short)}")
    if drawings and of:
        return f"Keep {drawings}, {of.replace(' drawing', '')} among them, to teach"
    return f"Keep {drawings or of} to teach"


def _per_digit(personal_test_share: float) -> int:
    """The drawings each digit drawn needs: one to learn from, and one to test on when some are kept apart."""
    return 2 if personal_test_share > 0 else 1


def _short_digits(counts: dict[int, int], personal_test_share: float) -> list[int]:
    """The digits drawn fewer times than each digit drawn needs."""
    return [digit for digit in range(10) if 0 < counts[digit] < _per_digit(personal_test_share)]


def split_drawings(drawings: Dataset, share: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """The drawings to teach and those kept apart to test (None if ``share`` is 0): of each digit,
    ``share`` of its drawings rounded, at least one and never all (see :class:`FineTuneConfig`),
    chosen at random with ``seed``."""
    if share == 0:
        return drawings.subset(np.arange(len(drawings)), drawings.source), None
    rng = np.random.default_rng(seed)
    test = []
    for digit in range(10):
        indices = rng.permutation(np.flatnonzero(drawings.labels == digit))
        if len(indices):
            test.extend(indices[: min(len(indices) - 1, max(1, round(share * len(indices))))])
    kept = np.zeros(len(drawings), bool)
    kept[test] = True
    return (drawings.subset(np.flatnonzero(~kept), f"{drawings.source} (taught)"),
            drawings.subset(np.flatnonzero(kept), f"{drawings.source} (kept apart to test)"))


def _listed(digits: list[int]) -> str:
    return ", ".join(map(str, digits[:-1])) + (" and " if len(digits) > 1 else "") + str(digits[-1])
