"""Comparing saved models on the same test images, with statistics that say whether a gap is real.

Two models scored on one test set differ only on the images one of them gets right and the other
wrong; :func:`mcnemar` asks whether that split is more lopsided than chance (the exact McNemar
test), which is the question "is model A better than model B" really asks. Around it: the
accuracy's confidence interval (:func:`accuracy_interval`, Wilson's), the expected calibration
error (:func:`expected_calibration_error`), the mistakes per digit, the difference of two confusion
matrices, and the images the models disagree on.

A verdict is given only on images neither model trained on (see :mod:`digitcnn.data.seen`): a model scored on
images it learned looks better than it is, and "better" would be a measure of memory.

    candidates, described = comparison_test_set(dataset, card_a)
    test_set, how, testable = unseen_part(candidates, {"a": record_a, "b": record_b})
    a = score_model(predictor_a, card_a, test_set, record=record_a)   # registry.load_predictor's
    b = score_model(predictor_b, card_b, test_set, record=record_b)
    compare_pair(a, b).describe()   # "compact is better than article: 37 vs 139 images, p < 0.001"

Every function but :func:`score_model` works on plain arrays; :func:`score_model` reads with the
LiteRT interpreter the app reads drawings with, so a page comparing saved models (whose conversions
are kept) needs no TensorFlow.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from digitcnn.data import Dataset
from digitcnn.errors import SettingsError
from digitcnn.networks.evaluation import DIGITS, Evaluation, evaluate
from digitcnn.data.seen import TrainingRecord, overlap

if TYPE_CHECKING:
    from digitcnn.reading.inference import Predictor
    from digitcnn.storage.card import ModelCard

SIGNIFICANCE = 0.05  # a difference with a p-value below this is called significant
TIMED_DRAWINGS = 50  # drawings read one at a time to time a model (the median is reported)


def mcnemar(a_correct: np.ndarray, b_correct: np.ndarray) -> float:
    """The exact two-sided McNemar p-value of two models' right (True) and wrong answers on the same
    images. Only the images they disagree on count: ``b`` of them model A alone got right, ``c`` model B
    alone. Were the models equally good, each of those would go either way with probability ½, so the
    p-value is the chance of a split at least as lopsided: ``min(1, 2 × P(X ≤ min(b, c)))`` with
    ``X ~ Binomial(b + c, ½)``; 1 when they never disagree."""
    from scipy.stats import binom

    a_correct, b_correct = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a_correct.shape != b_correct.shape or a_correct.ndim != 1:
        raise ValueError(f"expected two 1-D arrays of the same length, got shapes {a_correct.shape} "
                         f"and {b_correct.shape}")
    only_a = int((a_correct & ~b_correct).sum())
    only_b = int((~a_correct & b_correct).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(min(1.0, 2 * binom.cdf(min(only_a, only_b), only_a + only_b, 0.5)))


def accuracy_interval(correct: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of the accuracy, from which images were answered right (booleans).

    Wilson's rather than the textbook ``p ± z·√(p(1−p)/n)``: that one collapses to a single point at
    100% (a small test set a model gets all right) and can leave [0, 1]; Wilson's stays inside and
    keeps close to its nominal coverage near 0 and 1, where good digit models live, while being
    narrower than the conservative Clopper–Pearson interval."""
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 1 or len(correct) == 0:
        raise ValueError("expected a non-empty 1-D array of right (True) and wrong answers")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    n, share = len(correct), float(correct.mean())
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half_width = z / (1 + z * z / n) * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    # Clipped: at 0% or 100% rounding can put a bound a hair outside [0, 1].
    return max(0.0, float(centre - half_width)), min(1.0, float(centre + half_width))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """How far a model's confidence is from how often it is right (Guo et al., 2017): the images are put
    into ``bins`` equal-width bins of their top probability, and the ECE is the average, weighted by the
    bins' sizes, of each bin's gap between its mean top probability and its accuracy. 0 is perfect."""
    probabilities, labels = np.asarray(probabilities, dtype=np.float64), np.asarray(labels)
    if probabilities.ndim != 2 or len(probabilities) != len(labels) or len(labels) == 0:
        raise ValueError(f"expected probabilities (N, classes) for N labels, got {probabilities.shape} "
                         f"for {len(labels)}")
    confidences = probabilities.max(axis=1)
    right = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    # Bins are (lo, hi]; a top probability of exactly 0 cannot happen with ten classes but goes first.
    which = np.clip(np.ceil(confidences * bins).astype(int) - 1, 0, bins - 1)
    gaps = np.bincount(which, weights=confidences - right, minlength=bins)  # per bin: Σ(confidence − right)
    return float(np.abs(gaps).sum() / len(labels))


@dataclass(frozen=True, eq=False)
class ModelScores:
    """One model's scores on one test set, with what its card says about it. ``refused_share`` is the
    share of these test digits its "not a digit" rule refuses (None: the model never refuses);
    ``file_bytes`` the size of its saved file (None when unknown); ``milliseconds_per_drawing`` the
    median time :meth:`~digitcnn.reading.inference.Predictor.read` takes on one drawing."""

    name: str
    probabilities: np.ndarray  # (N, 10)
    labels: np.ndarray  # (N,)
    test_fingerprint: str  # the test set's Dataset.fingerprint: scores are compared only on the same images
    evaluation: Evaluation
    accuracy_interval: tuple[float, float]
    ece: float
    refused_share: float | None
    parameter_count: int
    file_bytes: int | None
    milliseconds_per_drawing: float
    architecture: str
    reading: str  # how the model reads a picture (digitcnn.reading.inference), as its card says
    data_source: str
    train_size: int
    training_seconds: float
    seen_in_training: int | None = None  # how many of the test images the model trained on; None: not known

    @property
    def accuracy(self) -> float:
        return self.evaluation.accuracy

    @property
    def correct(self) -> np.ndarray:
        """Whether the model read each test image right."""
        return self.evaluation.predictions == self.labels


def score_model(predictor: Predictor, card: ModelCard, test_set: Dataset, model_file_bytes: int | None = None,
                record: TrainingRecord | None = None) -> ModelScores:
    """Score the model that ``predictor`` reads with (a :class:`~digitcnn.reading.inference.Predictor`, such as
    :func:`digitcnn.storage.registry.load_predictor` gives; its card is ``card``, its record of the images it trained on
    ``record``: None when it has none) on ``test_set``, image by image as the app reads a drawing (a tenth of a
    millisecond each, three tenths with three pens: without TensorFlow, whose import and a Keras model's loading
    made a first comparison wait seconds), then :data:`TIMED_DRAWINGS` single reads timed."""
    probabilities, features = predictor.probabilities_and_features(test_set.images)
    rule = card.refusal_rule
    evaluation = evaluate(test_set.labels, probabilities, rule.scores(probabilities, features))  # sure as a reading
    refused_share = None if not rule.fitted else 1.0 - rule.coverage(probabilities, test_set.labels, features)[0]
    return ModelScores(
        name=card.name,
        probabilities=evaluation.probabilities,
        labels=evaluation.labels,
        test_fingerprint=test_set.fingerprint,
        evaluation=evaluation,
        accuracy_interval=accuracy_interval(evaluation.predictions == evaluation.labels),
        ece=expected_calibration_error(evaluation.probabilities, evaluation.labels),
        refused_share=refused_share,
        parameter_count=card.parameter_count,
        file_bytes=model_file_bytes,
        milliseconds_per_drawing=_milliseconds_per_drawing(predictor, test_set.images[:TIMED_DRAWINGS]),
        architecture=card.architecture,
        reading=card.reading,
        data_source=card.data_source,
        train_size=card.train_size,
        training_seconds=card.training_seconds,
        seen_in_training=overlap([(card.name, record)], test_set).seen,
    )


def _milliseconds_per_drawing(predictor: Predictor, images: np.ndarray) -> float:
    """The median time, in ms, of reading one of ``images`` as the app reads a drawing. The median, as
    the occasional read a busy machine delays says nothing about the model."""
    predictor.read(images[0])  # the first call sets the interpreter up; not part of a drawing's cost
    times = []
    for image in images:
        started = time.perf_counter()
        predictor.read(image)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


@dataclass(frozen=True)
class PairVerdict:
    """What McNemar's test says about two models on the same test images. ``a_only_right``: images A got
    right and B wrong; ``b_only_right``: the reverse; ``both_wrong``: images neither got right."""

    a_name: str
    b_name: str
    a_only_right: int
    b_only_right: int
    both_wrong: int
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE

    @property
    def better(self) -> str | None:
        """The name of the significantly better model; None when the difference may be chance."""
        if not self.significant:  # equal counts give p = 1, so a significant verdict always has a side
            return None
        return self.a_name if self.a_only_right > self.b_only_right else self.b_name

    def describe(self) -> str:
        """The verdict in words, e.g. "compact is better than article: 37 vs 139 images, p < 0.001", the
        two counts being the images only the better model got wrong and those only the worse one got wrong;
        or "no significant difference between compact and article (p = 0.41)"."""
        if self.better is None:
            return f"no significant difference between {self.a_name} and {self.b_name} ({_p_text(self.p_value)})"
        if self.better == self.a_name:
            better, worse, better_wrong, worse_wrong = self.a_name, self.b_name, self.b_only_right, self.a_only_right
        else:
            better, worse, better_wrong, worse_wrong = self.b_name, self.a_name, self.a_only_right, self.b_only_right
        return f"{better} is better than {worse}: {better_wrong:,} vs {worse_wrong:,} images, {_p_text(self.p_value)}"


def _p_text(p_value: float) -> str:
    """"p < 0.001" below 0.001, else the p-value to two significant digits ("p = 0.041", "p = 0.41")."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"


def compare_pair(a: ModelScores, b: ModelScores) -> PairVerdict:
    """McNemar's verdict on ``a`` against ``b``; :class:`SettingsError` if they were scored on different images,
    or on images either of them trained on (or may have: one that does not record it), saying so."""
    _check_same_images(a, b)
    trained = [scores for scores in (a, b) if scores.seen_in_training != 0]
    if trained:
        counts = " and ".join(f"{scores.name} trained on {scores.seen_in_training:,} of them"
                              if scores.seen_in_training is not None else
                              f"it is not known which images {scores.name} trained on" for scores in trained)
        raise SettingsError(f"no verdict between {a.name} and {b.name} on these {len(a.labels):,} images: {counts}; "
                            f"a verdict needs images neither trained on")
    a_correct, b_correct = a.correct, b.correct
    return PairVerdict(
        a_name=a.name,
        b_name=b.name,
        a_only_right=int((a_correct & ~b_correct).sum()),
        b_only_right=int((~a_correct & b_correct).sum()),
        both_wrong=int((~a_correct & ~b_correct).sum()),
        p_value=mcnemar(a_correct, b_correct),
    )


def confusion_difference(a: ModelScores, b: ModelScores) -> np.ndarray:
    """``a``'s confusion matrix minus ``b``'s (10×10, rows = true digit): off the diagonal, where A makes
    more (positive) or fewer (negative) mistakes of each kind than B."""
    _check_same_images(a, b)
    return a.evaluation.confusion_matrix.astype(np.int64) - b.evaluation.confusion_matrix.astype(np.int64)


def disagreements(a: ModelScores, b: ModelScores, true_digit: int | None = None) -> dict[str, np.ndarray]:
    """The indices into the test set of the images only A got right ("a right, b wrong"), only B got right
    ("b right, a wrong"), and neither ("both wrong"); only images of ``true_digit`` when it is given."""
    _check_same_images(a, b)
    a_correct, b_correct = a.correct, b.correct
    chosen = np.ones(len(a.labels), dtype=bool) if true_digit is None else a.labels == true_digit
    return {
        "a right, b wrong": np.flatnonzero(chosen & a_correct & ~b_correct),
        "b right, a wrong": np.flatnonzero(chosen & ~a_correct & b_correct),
        "both wrong": np.flatnonzero(chosen & ~a_correct & ~b_correct),
    }


def errors_per_digit(scores: ModelScores) -> np.ndarray:
    """How many images of each true digit 0–9 the model read wrong."""
    return np.bincount(scores.labels[~scores.correct], minlength=len(DIGITS))


def comparison_test_set(dataset: Dataset, card: ModelCard) -> tuple[Dataset, str]:
    """The test images to score every model on, and how to describe them: ``dataset``'s own test set when
    it has one, else the share that the split of ``card``'s training settings holds out (the same images
    that model was tested on, when ``dataset`` is the data it was trained on). Which of them each model
    trained on is for :func:`unseen_part` to find."""
    from digitcnn.training import make_split

    if dataset.test is not None:
        test_set = dataset.test
        return test_set, f"the source's own {len(test_set):,} test images ({test_set.source})"
    # A card may say "own" for a source that had a test set; this one has none, so hold out as it would.
    settings = replace(card.training_config, test_set="holdout")
    test_set = make_split(dataset, settings).test
    how = f"{settings.test_fraction:.0%}, seed {settings.seed}" + (", stratified" if settings.stratify else "")
    return test_set, f"the {len(test_set):,} images held out of {dataset.source} ({how})"


def unseen_part(test_set: Dataset, records: dict[str, TrainingRecord | None]) -> tuple[Dataset, str, bool]:
    """The images of ``test_set`` that none of the models trained on (``records``: each one's record of the
    images it trained on, by name; None where it has none), a sentence saying what was left out, and True; where
    none remain, or it is not known, ``test_set`` itself, a sentence saying why there is no verdict, and False."""
    seen = overlap(records.items(), test_set)
    unseen = seen.unseen(test_set)
    if not seen.known:
        return test_set, f"No verdict: {seen.describe()}.", False
    if unseen is None:
        counts = ", ".join(f"{name} {int(record.seen(test_set).sum()):,}" for name, record in records.items())
        why = (f"No verdict: every one of these {len(test_set):,} images was seen in training by one of the models "
               f"(seen by {counts}), so there are no unseen images to test on and the scores below are no test. Pick "
               f"data none of them trained on (full MNIST's test images, say).")
        return test_set, why, False
    if seen.seen:
        return unseen, (f"{seen.seen:,} of them were seen in training by one of the models and are left out: every "
                        f"model is tested on the {len(unseen):,} others, which none of them trained on."), True
    return test_set, "None of the models trained on any of them.", True


def _check_same_images(a: ModelScores, b: ModelScores) -> None:
    """Raise :class:`SettingsError` unless ``a`` and ``b`` were scored on the same test images."""
    if (len(a.labels) != len(b.labels) or a.test_fingerprint != b.test_fingerprint
            or not np.array_equal(a.labels, b.labels)):
        raise SettingsError(f"{a.name} and {b.name} were scored on different test images "
                            f"({len(a.labels):,} and {len(b.labels):,}); score both on the same test set")
