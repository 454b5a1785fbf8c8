"""Saying "not a digit": when a model refuses to read a picture, and what that costs on real digits.

The score of a picture is the probability of the digit the model reads (its top probability, of
the calibrated model). A model trained with generated non-digits (outlier exposure, see
:class:`digitcnn.models.Recipe`) learned to give those a flat answer, so their top probability is
low; a picture scoring below the rule's threshold is refused. The threshold is fitted after
training, on the model's own test digits, as the highest that refuses at most
:data:`MAX_REFUSED_DIGITS` of them; the rule also records how many test digits each threshold
would leave answered, and how many of those are right (a coverage/accuracy curve), so that a user
can trade answers for accuracy knowingly. A model saved before this has no rule and never refuses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

MAX_REFUSED_DIGITS = 0.01  # the share of its own test digits a fitted rule may refuse
CURVE_THRESHOLDS = tuple(round(step / 100, 2) for step in range(101))  # 0.00, 0.01, …, 1.00
SCORE = "top probability"


@dataclass(frozen=True)
class Reading:
    """How a model reads one picture: ``digit`` (None: not a digit), the ten ``probabilities`` (summing
    to 1, whatever the answer) and the ``score`` the decision was made on (how digit-like it is, 0–1)."""

    digit: int | None
    probabilities: np.ndarray
    score: float

    @property
    def closest(self) -> int:
        """The most probable digit, also when the picture is refused."""
        return int(np.argmax(self.probabilities))


@dataclass(frozen=True)
class RefusalRule:
    """Refuse a picture whose top probability is below ``threshold``. ``test_refused`` and
    ``test_accuracy_answered`` are what that did on the model's test digits; ``curve`` holds, for each
    threshold of :data:`CURVE_THRESHOLDS`, ``[threshold, share of test digits answered, accuracy on
    those]``."""

    threshold: float
    test_refused: float
    test_accuracy_answered: float
    curve: list
    score: str = SCORE

    @property
    def fitted(self) -> bool:
        """Whether this rule was fitted to a model's test digits (:data:`NEVER_REFUSE` was not)."""
        return bool(self.curve)

    def read(self, probabilities: np.ndarray, threshold: float | None = None) -> Reading:
        """The reading of one picture from its ten probabilities, refused below ``threshold`` (the rule's own
        by default)."""
        probabilities = np.asarray(probabilities)
        score = float(probabilities.max())
        limit = self.threshold if threshold is None else threshold
        return Reading(int(probabilities.argmax()) if score >= limit else None, probabilities, score)

    def coverage(self, probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """On pictures of the digits ``labels`` that the model gives ``probabilities`` (N, 10): the share
        it answers, and its accuracy on those."""
        return _coverage(np.asarray(probabilities), np.asarray(labels), self.threshold)

    def at(self, threshold: float) -> tuple[float, float]:
        """On the test digits, with ``threshold``: the share answered and the accuracy on those (from the
        curve's nearest point at or below it)."""
        points = [point for point in self.curve if point[0] <= threshold + 1e-9] or self.curve[:1]
        _, answered, accuracy = points[-1]
        return answered, accuracy

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, fields: dict) -> RefusalRule:
        """A rule read from a model card; a value that makes no sense raises ValueError."""
        rule = cls(**fields)
        numbers = (rule.threshold, rule.test_refused, rule.test_accuracy_answered)
        if rule.score != SCORE or not all(isinstance(n, (int, float)) and 0 <= n <= 1 for n in numbers):
            raise ValueError("the refusal rule's score, threshold and rates must be its top probability and 0–1")
        if not all(isinstance(point, list) and len(point) == 3 and all(
                isinstance(n, (int, float)) and 0 <= n <= 1 for n in point) for point in rule.curve):
            raise ValueError("the refusal rule's curve must be [threshold, answered, accuracy] points in 0–1")
        return rule


NEVER_REFUSE = RefusalRule(threshold=0.0, test_refused=0.0, test_accuracy_answered=0.0, curve=[])


def fit_refusal(probabilities: np.ndarray, labels: np.ndarray, max_refused: float = MAX_REFUSED_DIGITS
                ) -> RefusalRule:
    """The rule for a model whose probabilities on its test digits (N, 10) are ``probabilities``: the
    highest threshold that refuses at most ``max_refused`` of them."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    scores, right = probabilities.max(axis=1), probabilities.argmax(axis=1) == labels
    threshold = threshold_refusing(scores, max_refused)
    answered, accuracy = _answered(scores, right, threshold)
    curve = [[step, *map(_rounded, _answered(scores, right, step))] for step in CURVE_THRESHOLDS]
    return RefusalRule(threshold=threshold, test_refused=_rounded(1 - answered),
                       test_accuracy_answered=_rounded(accuracy), curve=curve)


def threshold_refusing(scores: np.ndarray, max_refused: float = MAX_REFUSED_DIGITS) -> float:
    """The highest threshold that refuses (scores strictly below it) at most ``max_refused`` of ``scores``."""
    return float(np.sort(scores)[int(np.floor(max_refused * len(scores)))])


def _coverage(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    """The share of pictures answered at ``threshold`` and the accuracy on those (1 when none is answered)."""
    return _answered(probabilities.max(axis=1), probabilities.argmax(axis=1) == labels, threshold)


def _answered(scores: np.ndarray, right: np.ndarray, threshold: float) -> tuple[float, float]:
    answered = scores >= threshold
    return float(answered.mean()), float(right[answered].mean()) if answered.any() else 1.0


def _rounded(share: float) -> float:
    return round(share, 6)
