"""Saying "not a digit": when a model refuses to read a picture, and what that costs on real digits.

A picture's score says how sure the model is that it shows the digit it reads, 0–1. A rule fitted since models
learned the digit-likeness (below) scores **digit-likeness × top probability**:

* the *top probability* is that of the digit read (of the calibrated model): low when the picture could be
  several digits;
* the *digit-likeness* says how much the picture looks like a digit at all, from the network's features (the input
  of its last layer), in two parts fitted after training:

  - a logistic regression telling the training digits (most of them with another pen and through a coarse scan)
    from generated non-digits it never trained on (:mod:`digitcnn.data.nondigits`, pieces and overlaps of the
    training digits included): it refuses the kinds of drawing the generator makes;
  - times the *closeness* to the nearest of a few hundred prototypes of those digits' features (k-means centres,
    :data:`PROTOTYPES_PER_DIGIT` for each digit; with ``d`` = 1 − the cosine similarity to the nearest, the
    closeness is ``exp(-w max(0, d - d_near))``, 1 for most digits: see :class:`DigitLikeness`), learned from digits
    alone, where it helps (:func:`closeness_helps`): it refuses what lies far from every digit, kinds no generator
    thought of included. Measured on the shipped model (``benchmarks.unseen_kinds``), families of pictures kept out of every fit were
    refused 85.0% of the time without it, 89.7% with it.

  The top probability alone mixes up "unsure which digit" with "not a digit": a blocky 9 that might be a 3 is
  unsure but digit-like, a letter's top probability can be high. Measured on the shipped model
  (``benchmarks.not_a_digit``), the product refuses far more non-digits for the same 1% of test digits.

A picture scoring below the rule's threshold is refused. The threshold is fitted after training, on the model's
own test digits, as the highest that refuses at most :data:`FITTED_REFUSED_DIGITS` of them, below the
:data:`MAX_REFUSED_DIGITS` promised, so that the promise holds on any machine; the rule also records how
many test digits each threshold would leave answered, and how many of those are right (a coverage/accuracy curve),
so that a user can trade answers for accuracy knowingly. A rule saved before the digit-likeness scores the top
probability alone; a model saved before rules has none and never refuses.
"""

from __future__ import annotations

import base64
import functools
import math
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy.special import expit

MAX_REFUSED_DIGITS = 0.01  # the share of its own test digits a fitted rule may refuse: what the product promises
# The share a rule is fitted to refuse, a margin below the promise. A threshold fitted exactly at the promise is the
# score of one test digit, and another machine's arithmetic (other CPU kernels and thread counts: scores differ in the
# sixth or seventh digit) can put that digit on the other side: the shipped rule, fitted to 1.00%, refused 1.01% on
# another machine of the same kind. Neighbouring scores lie 1e-4 or more apart there, so only the edge digit moves;
# five of MNIST's 10,000 test digits leave room for five. A wider margin costs non-digits: on the shipped network,
# fitted to 0.8%, 89.5% of the benchmark's non-digits were refused, below the 90% aimed at; to 0.95%, 90.0%.
FITTED_REFUSED_DIGITS = 0.0095
CURVE_THRESHOLDS = tuple(round(step / 100, 2) for step in range(101))  # 0.00, 0.01, …, 1.00
TOP_PROBABILITY = "top probability"  # the score of rules saved before the digit-likeness, and the baseline
SURE_OF_A_DIGIT = "digit-likeness × top probability"
SCORES = (TOP_PROBABILITY, SURE_OF_A_DIGIT)
# The digit-likeness regression's inverse regularization (scikit-learn's C). Measured on the previous shipped
# model's features (3,136 of them, 24,000 pictures): 0.001 refused 94% of unseen non-digits at 1% of test digits, 0.01 92%.
LIKENESS_REGULARIZATION = 0.001
# The closeness's prototypes: k-means centres of each digit's features (unit length), fitted on at most
# PROTOTYPE_SAMPLE of that digit's pictures among the digit-likeness's; the closeness's weight. Chosen on the shipped
# network (issue 38), the threshold at 0.95% of MNIST's test digits: families kept out of every fit
# (`benchmarks.unseen_kinds`, a draw with seed 1234, not the benchmark's) as all / the lowest family refused, the
# re-drawn scikit-learn digits refused, and each of the generator's kinds left out of the regression's fit, refused
# on average (`benchmarks.leave_one_out`):
#   without the closeness                 85.8% / 60.0%   2.2%   80.8%
#   30 a digit, weight 4                  88.5% / 70.5%   2.4%   86.7%
#   30 a digit, weight 8                  89.7% / 74.5%   2.8%   88.2%
#   30 a digit, weight 16                 90.4% / 78.5%   2.6%   88.9%   (the generator's own kinds: 92.8% → 92.7%)
#   30 a digit, weight 32                 89.7% / 79.0%   2.7%   88.8%
#   16 a digit, weight 16                 88.9% / 72.0%   2.5%
#   100 a digit (of all 2,800), weight 16 90.8% / 82.0%   2.7%            (a card three times larger)
# Also measured, no better: the distance to the prototypes of the digit read only; the distance as one more input of
# the regression (+1–3 points); the regression on unit-length features (−2); prototypes in 64 or 128 principal
# directions (scikit-learn digits refused 3.0–3.5%). Each prototype is 3,136 half-precision numbers on the card.
PROTOTYPES_PER_DIGIT = 30
PROTOTYPE_NUMBERS = 1_000_000  # at most, all prototypes together: fewer a digit for a network with more features
PROTOTYPE_SAMPLE = 1_000
CLOSENESS_WEIGHT = 16.0
# The share of the digits it is fitted on nearer their prototypes than the near distance, where the closeness starts
# to fall: their scores are the regression's × top probability alone, as before the closeness (the shipped model's
# test digits scored 0.979 at the median either way). What is refused is the same for any share up to the digits
# refused (measured 0.5 and 0.9), as it only scales the scores of pictures farther away.
NEAR_SHARE = 0.9
CLOSENESS_CHECK_SAMPLE = 4_000  # digits, and as many non-digits, on which closeness_helps judges


@dataclass(frozen=True)
class Reading:
    """How a model reads one picture: ``digit`` (None: not a digit), the ten ``probabilities`` (summing
    to 1, whatever the answer) and the ``score`` the decision was made on (how sure the model is that the
    picture is the digit it reads, 0–1: see the module's notes)."""

    digit: int | None
    probabilities: np.ndarray
    score: float
    likeness: float | None = None  # the digit-likeness the score includes (None: a rule on the top probability)

    @property
    def closest(self) -> int:
        """The most probable digit, also when the picture is refused."""
        return int(np.argmax(self.probabilities))

    @property
    def sureness(self) -> np.ndarray:
        """How sure the model is of each answer, the answers' shares of 1: each digit's probability times the
        digit-likeness, then "not a digit" (1 − the digit-likeness); the ten probabilities alone for a rule without
        a digit-likeness. The digit read has the ``score``: one number for how sure a reading is, wherever it is
        shown."""
        probabilities = np.asarray(self.probabilities, dtype=float)
        return probabilities if self.likeness is None else np.append(probabilities * self.likeness, 1 - self.likeness)


@dataclass(frozen=True)
class DigitLikeness:
    """How much a picture looks like a digit at all, 0–1, from the network's ``features`` (the input of its last
    layer): ``sigmoid(features · weights + bias)``, a logistic regression, times the closeness to the nearest of the
    digits' ``prototypes`` (see the module's notes and :func:`fit_likeness`). ``prototypes`` is a base64 text of
    half-precision numbers, a unit-length row of ``len(weights)`` for each (None: a likeness fitted before the
    closeness, the regression alone). The closeness is ``exp(-w max(0, d - near_distance))`` of the distance ``d`` to
    the nearest prototype (1 − the cosine similarity), ``w`` its ``closeness_weight``: 1 for a picture as near as most
    digits (see :data:`NEAR_SHARE`), so that a digit's score says what it said without it."""

    weights: list
    bias: float
    prototypes: str | None = None
    closeness_weight: float = 0.0
    near_distance: float = 0.0

    def of(self, features: np.ndarray) -> np.ndarray:
        """The digit-likeness of each row of ``features`` (N, F), 0–1."""
        features = np.asarray(features, dtype=np.float32)
        likeness = expit(features @ self._vector + self.bias)
        return likeness if self.prototypes is None else likeness * self.closeness(features)

    def closeness(self, features: np.ndarray) -> np.ndarray:
        """How close each row of ``features`` (N, F) lies to the nearest prototype: 1 on one, less farther away."""
        return np.exp(-self.closeness_weight * np.maximum(0.0, self.distance(features) - self.near_distance))

    def distance(self, features: np.ndarray) -> np.ndarray:
        """1 − the cosine similarity of each row of ``features`` (N, F) to the nearest prototype."""
        return 1 - (_unit_rows(np.asarray(features, dtype=np.float32)) @ self._prototype_matrix.T).max(axis=1)

    @functools.cached_property
    def _prototype_matrix(self) -> np.ndarray:
        """The prototypes as a (P, F) float32 array, decoded once."""
        numbers = np.frombuffer(base64.b64decode(self.prototypes, validate=True), dtype="<f2")
        return numbers.reshape(-1, len(self.weights)).astype(np.float32)

    @functools.cached_property
    def _vector(self) -> np.ndarray:
        """The weights as an array, made once: a drawing is read in a fraction of a millisecond, and making
        3,136 numbers into an array took a third of that."""
        return np.asarray(self.weights, dtype=np.float32)

    def to_dict(self) -> dict:
        fields = asdict(self)
        if self.prototypes is None:  # as likenesses were written before the closeness
            del fields["prototypes"], fields["closeness_weight"], fields["near_distance"]
        return fields

    @classmethod
    def from_dict(cls, fields: dict) -> DigitLikeness:
        likeness = cls(**fields)
        if not (isinstance(likeness.weights, list) and likeness.weights
                and all(isinstance(w, (int, float)) and math.isfinite(w) for w in [*likeness.weights, likeness.bias])):
            raise ValueError("the digit-likeness must be finite weights, one for each feature, and a finite bias")
        if likeness.prototypes is not None:
            if not all(isinstance(n, (int, float)) and math.isfinite(n) and n >= 0
                       for n in (likeness.closeness_weight, likeness.near_distance)):
                raise ValueError("the digit-likeness's closeness weight and near distance must be finite, 0 or more")
            try:
                prototypes = likeness._prototype_matrix
            except (TypeError, ValueError) as error:  # not base64, or not whole rows of the features' length
                raise ValueError(f"the digit-likeness's prototypes must be base64 rows of "
                                 f"{len(likeness.weights)} half-precision numbers ({error})") from None
            if not len(prototypes) or not np.isfinite(prototypes).all():
                raise ValueError("the digit-likeness's prototypes must be finite, at least one")
        return likeness


@dataclass(frozen=True)
class RefusalRule:
    """Refuse a picture whose score (see the module's notes) is below ``threshold``. ``test_refused`` and
    ``test_accuracy_answered`` are what that did on the model's test digits; ``curve`` holds, for each threshold
    of :data:`CURVE_THRESHOLDS`, ``[threshold, share of test digits answered, accuracy on those]``.
    ``likeness`` is None for a rule on the top probability alone."""

    threshold: float
    test_refused: float
    test_accuracy_answered: float
    curve: list
    score: str = TOP_PROBABILITY
    likeness: DigitLikeness | None = None

    @property
    def fitted(self) -> bool:
        """Whether this rule was fitted to a model's test digits (:data:`NEVER_REFUSE` was not)."""
        return bool(self.curve)

    def scores(self, probabilities: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """The score of each picture the model gives ``probabilities`` (N, 10) and ``features`` (N, F; needed
        when the rule has a digit-likeness)."""
        return _score(np.asarray(probabilities).max(axis=1), self._likeness_of(features))

    def _likeness_of(self, features: np.ndarray | None) -> np.ndarray | None:
        """The digit-likeness of each picture (None for a rule on the top probability alone)."""
        if self.likeness is None:
            return None
        if features is None:
            raise ValueError("this rule scores the network's features too: pass them (inference.predict_with_features)")
        return self.likeness.of(features)

    def read(self, probabilities: np.ndarray, features: np.ndarray | None = None,
             threshold: float | None = None) -> Reading:
        """The reading of one picture from its ten probabilities (and its features), refused below ``threshold``
        (the rule's own by default)."""
        probabilities = np.asarray(probabilities)
        likeness = self._likeness_of(None if features is None else np.asarray(features)[np.newaxis])
        likeness = None if likeness is None else float(likeness[0])
        score = _score(float(probabilities.max()), likeness)
        limit = self.threshold if threshold is None else threshold
        return Reading(int(probabilities.argmax()) if score >= limit else None, probabilities, score, likeness)

    def coverage(self, probabilities: np.ndarray, labels: np.ndarray, features: np.ndarray | None = None
                 ) -> tuple[float, float]:
        """On pictures of the digits ``labels`` that the model gives ``probabilities`` (N, 10) and ``features``:
        the share it answers, and its accuracy on those."""
        right = np.asarray(probabilities).argmax(axis=1) == np.asarray(labels)
        return _answered(self.scores(probabilities, features), right, self.threshold)

    def at(self, threshold: float) -> tuple[float, float]:
        """On the test digits, with ``threshold``: the share answered and the accuracy on those (the rule's own at
        its threshold, else from the curve's nearest point at or below it)."""
        if threshold == self.threshold:
            return 1 - self.test_refused, self.test_accuracy_answered
        points = [point for point in self.curve if point[0] <= threshold + 1e-9] or self.curve[:1]
        _, answered, accuracy = points[-1]
        return answered, accuracy

    def to_dict(self) -> dict:
        fields = asdict(self)
        if self.likeness is None:
            del fields["likeness"]  # as rules were written before it
        else:
            fields["likeness"] = self.likeness.to_dict()
        return fields

    @classmethod
    def from_dict(cls, fields: dict) -> RefusalRule:
        """A rule read from a model card; a value that makes no sense raises ValueError."""
        fields = dict(fields)
        if fields.get("likeness") is not None:
            fields["likeness"] = DigitLikeness.from_dict(fields["likeness"])
        rule = cls(**fields)
        numbers = (rule.threshold, rule.test_refused, rule.test_accuracy_answered)
        if rule.score not in SCORES or (rule.score == SURE_OF_A_DIGIT) != (rule.likeness is not None):
            raise ValueError(f"the refusal rule's score must be one of: {', '.join(SCORES)} (with its digit-likeness)")
        if not all(isinstance(n, (int, float)) and 0 <= n <= 1 for n in numbers):
            raise ValueError("the refusal rule's threshold and rates must be 0–1")
        if not all(isinstance(point, list) and len(point) == 3 and all(
                isinstance(n, (int, float)) and 0 <= n <= 1 for n in point) for point in rule.curve):
            raise ValueError("the refusal rule's curve must be [threshold, answered, accuracy] points in 0–1")
        return rule


NEVER_REFUSE = RefusalRule(threshold=0.0, test_refused=0.0, test_accuracy_answered=0.0, curve=[])


def fit_refusal(probabilities: np.ndarray, labels: np.ndarray, features: np.ndarray | None = None,
                likeness: DigitLikeness | None = None, max_refused: float = FITTED_REFUSED_DIGITS) -> RefusalRule:
    """The rule for a model whose probabilities on its test digits (N, 10) are ``probabilities`` (and whose
    features are ``features``, when it has a digit-likeness): the highest threshold that refuses at most
    ``max_refused`` of them."""
    unfitted = RefusalRule(0.0, 0.0, 0.0, [], SURE_OF_A_DIGIT if likeness else TOP_PROBABILITY, likeness)
    scores = unfitted.scores(probabilities, features)
    right = np.asarray(probabilities).argmax(axis=1) == np.asarray(labels)
    threshold = threshold_refusing(scores, max_refused)
    answered, accuracy = _answered(scores, right, threshold)
    curve = [[step, *map(_rounded, _answered(scores, right, step))] for step in CURVE_THRESHOLDS]
    return replace(unfitted, threshold=threshold, test_refused=_rounded(1 - answered),
                   test_accuracy_answered=_rounded(accuracy), curve=curve)


def fit_likeness(digit_features: np.ndarray, non_digit_features: np.ndarray, digit_labels: np.ndarray | None = None,
                 non_digit_kinds: np.ndarray | None = None) -> DigitLikeness:
    """The digit-likeness that tells pictures with ``digit_features`` (N, F) from those with ``non_digit_features``
    (M, F): scikit-learn's logistic regression on standardized features, the standardization folded into its
    weights so that reading needs one dot product. Given the digits' classes ``digit_labels`` (N,) and the
    non-digits' kinds ``non_digit_kinds`` (M,), two at least, times the closeness to :func:`digit_prototypes` of
    those digits where :func:`closeness_helps`."""
    likeness = _regression(digit_features, non_digit_features)
    if digit_labels is None or non_digit_kinds is None or len(np.unique(non_digit_kinds)) < 2:
        return likeness
    # Judged with prototypes of half the digits, on the other half: on the digits its prototypes were made of, a
    # closeness looks better than it is (on a quick run of 100 images, each prototype is a digit, and it seemed to
    # refuse every kind left out while refusing fewer new non-digits than the regression alone).
    judged = np.arange(len(digit_features)) % 2 == 1
    trial = _with_closeness(likeness, digit_features[~judged], digit_labels[~judged])
    helps = closeness_helps(digit_features[judged], non_digit_features, non_digit_kinds, trial)
    return _with_closeness(likeness, digit_features, digit_labels) if helps else likeness


def _with_closeness(likeness: DigitLikeness, digit_features: np.ndarray, digit_labels: np.ndarray) -> DigitLikeness:
    """``likeness`` times the closeness to :func:`digit_prototypes` of the digits with ``digit_features`` and
    ``digit_labels``, at :data:`CLOSENESS_WEIGHT`, its near distance theirs (:data:`NEAR_SHARE`)."""
    prototypes = digit_prototypes(digit_features, digit_labels).astype("<f2")
    with_closeness = replace(likeness, prototypes=base64.b64encode(prototypes.tobytes()).decode("ascii"),
                             closeness_weight=CLOSENESS_WEIGHT)
    near = float(np.quantile(with_closeness.distance(digit_features), NEAR_SHARE))
    return replace(with_closeness, near_distance=float(f"{near:.6g}"))


def closeness_helps(digit_features: np.ndarray, non_digit_features: np.ndarray, non_digit_kinds: np.ndarray,
                    likeness: DigitLikeness) -> bool:
    """Whether ``likeness``'s closeness (its prototypes at :data:`CLOSENESS_WEIGHT`) refuses more non-digits of a
    kind its regression never learned from than the regression alone: for each kind of ``non_digit_kinds``, the
    regression fitted again without that kind's pictures, its threshold set to refuse :data:`FITTED_REFUSED_DIGITS`
    of the digits, with the closeness and without; on average over the kinds. On the shipped network it does
    (87.0% → 87.6% of the kind left out, judged as :func:`fit_likeness` judges it); on a small network whose digits
    lie far apart, it does not. Judged on at
    most :data:`CLOSENESS_CHECK_SAMPLE` digits and as many non-digits (chosen with seed 0): seven regressions on
    all of a full-MNIST quick run's 16,000 pictures added 10 s to its 20."""
    rng = np.random.default_rng(0)
    digit_features = digit_features[_at_most(CLOSENESS_CHECK_SAMPLE, len(digit_features), rng)]
    kept = _at_most(CLOSENESS_CHECK_SAMPLE, len(non_digit_features), rng)
    non_digit_features, non_digit_kinds = non_digit_features[kept], np.asarray(non_digit_kinds)[kept]
    digit_closeness = likeness.closeness(digit_features)
    non_digit_closeness = likeness.closeness(non_digit_features)
    gained = 0.0
    for kind in np.unique(non_digit_kinds):
        without = _regression(digit_features, non_digit_features[non_digit_kinds != kind])
        digits, of_kind = without.of(digit_features), non_digit_kinds == kind
        others = without.of(non_digit_features[of_kind])
        closer_digits, closer_others = digits * digit_closeness, others * non_digit_closeness[of_kind]
        gained += (np.mean(closer_others < threshold_refusing(closer_digits, FITTED_REFUSED_DIGITS))
                   - np.mean(others < threshold_refusing(digits, FITTED_REFUSED_DIGITS)))
    return gained > 0


def _at_most(count: int, total: int, rng: np.random.Generator) -> np.ndarray:
    """The indices of ``count`` of ``total`` rows chosen at random, in order; all of them where there are no more."""
    return np.arange(total) if total <= count else np.sort(rng.choice(total, count, replace=False))


def _regression(digit_features: np.ndarray, non_digit_features: np.ndarray) -> DigitLikeness:
    """The digit-likeness's logistic regression alone (see :func:`fit_likeness`)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    # float32, as the network gives them: the fit takes half the time of float64's for the same weights (to 1e-5).
    # Standardized in place: 8,000 pictures' features are 100 MB, and each copy of them costs a tenth of a second.
    features = np.concatenate([digit_features, non_digit_features], dtype=np.float32)
    is_digit = np.concatenate([np.ones(len(digit_features)), np.zeros(len(non_digit_features))])
    center, spread = features.mean(axis=0), features.std(axis=0) + 1e-6
    features -= center
    features /= spread
    regression = LogisticRegression(C=LIKENESS_REGULARIZATION, max_iter=1000)
    # On one BLAS thread: on 2 busy cores, beside TensorFlow's threads, the embedded sample's quick run fitted its
    # 3,350 pictures in 0.09–0.13 s so, in 0.4 s on OpenBLAS's two (whose threads wait for each other's turn).
    with threadpool_limits(1):
        regression.fit(features, is_digit)
    weights = regression.coef_[0] / spread
    bias = float(regression.intercept_[0] - weights @ center)
    return DigitLikeness(weights=[float(f"{w:.6g}") for w in weights], bias=float(f"{bias:.6g}"))


def digit_prototypes(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each digit among ``labels``, :data:`PROTOTYPES_PER_DIGIT` unit-length centres of its pictures'
    ``features`` (fewer where :data:`PROTOTYPE_NUMBERS` would be passed, and at most one for each picture):
    scikit-learn's k-means on at most :data:`PROTOTYPE_SAMPLE` of them, chosen and started from seed 0, so that the
    same features give the same prototypes."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(0)
    units = _unit_rows(np.asarray(features, dtype=np.float32))
    centres, digits = [], np.unique(labels)
    per_digit = max(1, min(PROTOTYPES_PER_DIGIT, PROTOTYPE_NUMBERS // (len(digits) * units.shape[1])))
    for digit in digits:
        pictures = np.flatnonzero(labels == digit)
        pictures = pictures[_at_most(PROTOTYPE_SAMPLE, len(pictures), rng)]
        count = min(per_digit, len(np.unique(units[pictures], axis=0)))
        centres.append(KMeans(count, n_init=1, max_iter=50, random_state=0).fit(units[pictures]).cluster_centers_)
    return _unit_rows(np.concatenate(centres))


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def _score(top, likeness):
    """A rule's score from the top probability and the digit-likeness (None: a rule on the top probability
    alone), for one picture or for many: the one place the two are combined."""
    return top if likeness is None else top * likeness


def threshold_refusing(scores: np.ndarray, max_refused: float = MAX_REFUSED_DIGITS) -> float:
    """The highest threshold that refuses (scores strictly below it) at most ``max_refused`` of ``scores``."""
    return float(np.sort(scores)[int(np.floor(max_refused * len(scores)))])


def _answered(scores: np.ndarray, right: np.ndarray, threshold: float) -> tuple[float, float]:
    answered = scores >= threshold
    return float(answered.mean()), float(right[answered].mean()) if answered.any() else 1.0


def _rounded(share: float) -> float:
    return round(share, 6)
