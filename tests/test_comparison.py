"""Comparing models: McNemar's test, the accuracy interval, the ECE, the verdict's wording, and two real tiny
models scored on the same test images."""

import numpy as np
import pytest
from scipy.stats import binomtest

from digitcnn import comparison
from digitcnn.comparison import (
    PairVerdict,
    accuracy_interval,
    compare_pair,
    confusion_difference,
    disagreements,
    errors_per_digit,
    expected_calibration_error,
    mcnemar,
)
from digitcnn.errors import SettingsError
from digitcnn.networks.evaluation import evaluate
from digitcnn.reading.inference import Predictor


def _scored(model, card, images, **keywords):
    """:func:`comparison.score_model` with the predictor the app would read ``model`` with."""
    return comparison.score_model(Predictor(model, card.refusal_rule, card.reading), card, images, **keywords)


def answers(only_a: int, only_b: int, both_right: int = 5, both_wrong: int = 3):
    """Right/wrong arrays of two models with the given numbers of disagreements."""
    a = [True] * only_a + [False] * only_b + [True] * both_right + [False] * both_wrong
    b = [False] * only_a + [True] * only_b + [True] * both_right + [False] * both_wrong
    return np.array(a), np.array(b)


def one_hot_probabilities(predictions, confidence=0.9):
    """Probabilities whose top digit is each of ``predictions``, at ``confidence``."""
    rows = np.full((len(predictions), 10), (1 - confidence) / 9)
    rows[np.arange(len(predictions)), predictions] = confidence
    return rows


def hand_scores(name, labels, predictions, fingerprint="same images", seen_in_training=0):
    """ModelScores from hand-made predictions, without a model."""
    labels = np.asarray(labels)
    evaluation = evaluate(labels, one_hot_probabilities(np.asarray(predictions)))
    return comparison.ModelScores(
        name=name, probabilities=evaluation.probabilities, labels=evaluation.labels, test_fingerprint=fingerprint,
        evaluation=evaluation, accuracy_interval=accuracy_interval(evaluation.predictions == labels),
        ece=0.0, refused_share=None, parameter_count=1, file_bytes=None, milliseconds_per_drawing=0.1,
        architecture="article", reading="plain", data_source="hand-made", train_size=1, training_seconds=0.0,
        seen_in_training=seen_in_training,
    )


# --- McNemar -------------------------------------------------------------------------------------

@pytest.mark.parametrize("count", [0, 1, 7, 40])
def test_mcnemar_is_one_when_the_disagreements_split_evenly(count):
    assert mcnemar(*answers(count, count)) == 1.0


def test_mcnemar_of_a_one_sided_split():
    assert mcnemar(*answers(0, 10)) == pytest.approx(2 * 0.5**10, rel=1e-12)
    assert mcnemar(*answers(10, 0)) == pytest.approx(2 * 0.5**10, rel=1e-12)


def test_mcnemar_agrees_with_scipys_exact_binomial_test():
    for only_a in [0, 1, 2, 3, 5, 8, 13, 21, 40, 100, 250]:
        for only_b in [0, 1, 2, 4, 6, 9, 15, 30, 60, 139, 300]:
            if only_a + only_b == 0:
                continue
            expected = binomtest(only_a, only_a + only_b, 0.5).pvalue
            assert mcnemar(*answers(only_a, only_b)) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_mcnemar_refuses_answers_of_different_lengths():
    with pytest.raises(ValueError):
        mcnemar(np.ones(3, bool), np.ones(4, bool))


# --- Accuracy interval and ECE ---------------------------------------------------------------------

def test_the_interval_holds_the_accuracy_and_narrows_with_more_images():
    widths = []
    for n in [20, 200, 2000, 20000]:
        correct = np.arange(n) % 10 != 0  # 90% right
        low, high = accuracy_interval(correct)
        assert 0 <= low < 0.9 < high <= 1
        widths.append(high - low)
    assert widths == sorted(widths, reverse=True)
    assert accuracy_interval(np.arange(200) % 10 != 0, confidence=0.99)[0] < accuracy_interval(
        np.arange(200) % 10 != 0)[0]


def test_the_interval_of_all_right_stays_inside_and_below_one():
    low, high = accuracy_interval(np.ones(50, bool))
    assert 0.9 < low < 1 and high == 1.0


def test_ece_of_calibrated_probabilities_is_about_zero():
    rng = np.random.default_rng(0)
    n = 20_000
    labels = rng.integers(0, 10, n)
    confidence = rng.choice([0.55, 0.75, 0.95], n)
    right = rng.random(n) < confidence  # right exactly as often as the model says
    predictions = np.where(right, labels, (labels + 1) % 10)
    probabilities = np.full((n, 10), 0.0)
    probabilities[np.arange(n), predictions] = confidence
    probabilities[np.arange(n), (predictions + 1) % 10] = 1 - confidence  # the rest on a second digit
    assert expected_calibration_error(probabilities, labels) < 0.02


def test_ece_of_an_overconfident_model_is_large():
    labels = np.arange(1000) % 10
    predictions = np.where(np.arange(1000) % 2 == 0, labels, (labels + 1) % 10)  # half right
    ece = expected_calibration_error(one_hot_probabilities(predictions, confidence=0.99), labels)
    assert ece == pytest.approx(0.49, abs=1e-9)


# --- Pairs of hand-made predictions ----------------------------------------------------------------

LABELS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 3]
A_PREDICTS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 4, 8, 3]  # wrong on images 9 and 10
B_PREDICTS = [0, 1, 7, 3, 4, 5, 6, 7, 8, 9, 8, 5]  # wrong on images 2, 10 and 11


def test_confusion_difference_and_disagreements():
    a, b = hand_scores("a", LABELS, A_PREDICTS), hand_scores("b", LABELS, B_PREDICTS)
    difference = confusion_difference(a, b)
    assert difference.shape == (10, 10)
    expected = np.zeros((10, 10), int)
    expected[9, 4] += 1  # a reads the 9 as a 4
    expected[9, 9] -= 1
    expected[2, 7] -= 1  # b reads the 2 as a 7
    expected[2, 2] += 1
    expected[3, 5] -= 1  # b reads a 3 as a 5
    expected[3, 3] += 1
    np.testing.assert_array_equal(difference, expected)

    found = disagreements(a, b)
    assert set(found) == {"a right, b wrong", "b right, a wrong", "both wrong"}
    np.testing.assert_array_equal(found["a right, b wrong"], [2, 11])
    np.testing.assert_array_equal(found["b right, a wrong"], [9])
    np.testing.assert_array_equal(found["both wrong"], [10])
    threes = disagreements(a, b, true_digit=3)
    np.testing.assert_array_equal(threes["a right, b wrong"], [11])
    assert len(threes["b right, a wrong"]) == 0
    np.testing.assert_array_equal(threes["both wrong"], [10])

    verdict = compare_pair(a, b)
    assert (verdict.a_only_right, verdict.b_only_right, verdict.both_wrong) == (2, 1, 1)
    assert verdict.p_value == 1.0 and verdict.better is None


def test_errors_per_digit_count_the_images_of_each_true_digit_read_wrong():
    errors = errors_per_digit(hand_scores("a", LABELS, A_PREDICTS))
    assert errors.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 1]  # a 9 read as a 4, a 3 read as an 8
    assert errors_per_digit(hand_scores("a", LABELS, LABELS)).tolist() == [0] * 10


def test_scores_of_different_images_are_not_compared():
    a = hand_scores("a", LABELS, A_PREDICTS)
    for other in (hand_scores("b", LABELS[:-1], B_PREDICTS[:-1]),  # fewer images
                  hand_scores("b", LABELS[::-1], B_PREDICTS),  # other labels
                  hand_scores("b", LABELS, B_PREDICTS, fingerprint="other images")):  # same labels, other images
        for compare in (compare_pair, confusion_difference, disagreements):
            with pytest.raises(SettingsError, match="different test images"):
                compare(a, other)


def test_no_verdict_on_images_either_model_trained_on_or_may_have():
    a = hand_scores("a", LABELS, A_PREDICTS)
    for other, reason in [(hand_scores("b", LABELS, B_PREDICTS, seen_in_training=3), "b trained on 3 of them"),
                          (hand_scores("b", LABELS, B_PREDICTS, seen_in_training=None),
                           "it is not known which images b trained on")]:
        with pytest.raises(SettingsError, match=f"^no verdict between a and b on these {len(LABELS)} images: {reason}; "
                                                f"a verdict needs images neither trained on$"):
            compare_pair(a, other)


COMPACT_WINS = "compact is better than article: 37 vs 139 images, p < 0.001"


@pytest.mark.parametrize("verdict, words", [
    (PairVerdict("article", "compact", 37, 139, 20, 1e-9), COMPACT_WINS),
    (PairVerdict("compact", "article", 139, 37, 20, 1e-9), COMPACT_WINS),
    (PairVerdict("a", "b", 30, 15, 2, 0.041), "a is better than b: 15 vs 30 images, p = 0.041"),
    (PairVerdict("a", "b", 12, 9, 2, 0.41), "no significant difference between a and b (p = 0.41)"),
    (PairVerdict("a", "b", 5, 5, 2, 1.0), "no significant difference between a and b (p = 1)"),
])
def test_describe(verdict, words):
    assert verdict.describe() == words


# --- Real models ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_models(small_dataset, tiny_result):
    """The tiny model of conftest and a second one, trained for one epoch with another seed, with their cards."""
    from digitcnn import training
    from digitcnn.storage.card import ModelCard

    first, _ = tiny_result
    second = training.train(small_dataset, training.TrainingConfig(architecture="article", epochs=1,
                                                                    batch_size=32, seed=3))
    return [(result.model, ModelCard.from_training(name, result), result.trained_on)
            for name, result in (("tiny", first), ("quick", second))]


def test_real_models_scored_and_compared_on_the_same_test_set(small_dataset, two_models):
    (model_a, card_a, record_a), (model_b, card_b, record_b) = two_models
    candidates, described = comparison.comparison_test_set(small_dataset, card_a)
    assert len(candidates) == card_a.test_size == 198
    assert described == "the 198 images held out of small sample (33%, seed 7)"
    test_set, how, testable = comparison.unseen_part(candidates, {"tiny": record_a, "quick": record_b})
    assert testable and 0 < len(test_set) < 198  # quick held out other digits: it trained on some of tiny's test
    assert how == (f"{198 - len(test_set)} of them were seen in training by one of the models and are left out: every "
                   f"model is tested on the {len(test_set)} others, which none of them trained on.")

    a = _scored(model_a, card_a, candidates, model_file_bytes=12345, record=record_a)
    b = _scored(model_b, card_b, test_set, record=record_b)
    # The same images the card was scored on, scored again by the comparison's own reading: the same figures to the
    # last digits of the scores, but a picture on the edge of a decision may change sides (the refusal threshold is
    # one test picture's score): one picture of the 198 either way.
    one_picture = 1 / 198 + 1e-9
    assert a.accuracy == pytest.approx(card_a.test_accuracy, abs=one_picture)
    assert a.probabilities.shape == (198, 10) and a.accuracy_interval[0] <= a.accuracy <= a.accuracy_interval[1]
    assert 0 <= a.ece <= 1 and a.refused_share == pytest.approx(card_a.refusal["test_refused"], abs=one_picture)
    assert a.file_bytes == 12345 and b.file_bytes is None
    assert a.parameter_count == card_a.parameter_count and a.milliseconds_per_drawing > 0
    assert (a.name, a.architecture, a.train_size) == ("tiny", "article", card_a.train_size)
    reading = Predictor(model_a, card_a.refusal_rule, card_a.reading).read(test_set.images[0])
    assert a.evaluation.confidences[0] == pytest.approx(reading.score, abs=1e-5)  # how sure: as the draw page says
    assert a.seen_in_training == b.seen_in_training == 0
    a = _scored(model_a, card_a, test_set, record=record_a)

    verdict = compare_pair(a, b)
    assert verdict.a_only_right + verdict.b_only_right + verdict.both_wrong == int((~a.correct | ~b.correct).sum())
    assert verdict.p_value == pytest.approx(mcnemar(a.correct, b.correct))
    assert verdict.describe().startswith(("tiny is better", "quick is better", "no significant difference"))
    assert errors_per_digit(a).sum() == len(a.labels) - a.correct.sum()


def test_models_scored_on_different_test_sets_are_not_compared(small_dataset, two_models):
    (model_a, card_a, _), (model_b, card_b, _) = two_models
    a = _scored(model_a, card_a, small_dataset.subset(np.arange(100)))
    b = _scored(model_b, card_b, small_dataset.subset(np.arange(100, 200)))
    with pytest.raises(SettingsError):
        compare_pair(a, b)


def test_a_dataset_with_its_own_test_set_is_compared_on_it(small_dataset, two_models):
    from digitcnn.data import Dataset

    own = small_dataset.subset(np.arange(500, 600), "MNIST test set")
    dataset = Dataset(small_dataset.images[:500], small_dataset.labels[:500], "MNIST", own)
    test_set, described = comparison.comparison_test_set(dataset, two_models[0][1])
    assert test_set is own
    assert described == "the source's own 100 test images (MNIST test set)"


def test_a_model_trained_on_the_embedded_sample_gets_a_verdict_on_mnists_test_images_and_none_where_it_trained(
        two_models, embedded, mnist_dir):
    """The shipped model trained on all of MNIST's training images, the embedded sample among them: against it,
    a model trained on part of the sample is judged on MNIST's test images, which neither saw, and on the embedded
    sample not at all; two models trained on parts of the sample are judged on the part neither trained on."""
    from digitcnn import data
    from digitcnn.storage import registry

    model_a, card_a, record_a = two_models[0]
    shipped, shipped_card = registry.load_predictor("default")  # as the Compare page reads it
    records = {"tiny": record_a, "default": registry.load_training_record("default")}

    candidates, _ = comparison.comparison_test_set(data.load_dataset(mnist_dir), card_a)
    test_set, how, testable = comparison.unseen_part(candidates, records)
    assert testable and test_set is candidates and len(test_set) == 10_000
    assert how == "None of the models trained on any of them."
    scored = test_set.subset(np.arange(2000))  # enough for the verdict, in a fifth of the time
    verdict = compare_pair(_scored(model_a, card_a, scored, record=record_a),
                           comparison.score_model(shipped, shipped_card, scored, record=records["default"]))
    assert verdict.better == "default" and verdict.significant  # 99.6% against a two-epoch model of 402 digits

    candidates, _ = comparison.comparison_test_set(embedded, card_a)
    test_set, how, testable = comparison.unseen_part(candidates, records)
    assert not testable and test_set is candidates and len(candidates) == 1650
    assert how.startswith("No verdict: every one of these 1,650 images was seen in training by one of the models "
                          "(seen by tiny ")
    assert "default 1,650), so there are no unseen images to test on" in how
    scored = comparison.score_model(shipped, shipped_card, test_set.subset(np.arange(100)), record=records["default"])
    assert scored.seen_in_training == 100
    with pytest.raises(SettingsError, match="no verdict between tiny and default on these 100 images: tiny trained "
                                            "on .* and default trained on 100 of them"):
        compare_pair(_scored(model_a, card_a, test_set.subset(np.arange(100)), record=record_a),
                     scored)
