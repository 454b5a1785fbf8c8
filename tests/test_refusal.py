"""The "not a digit" rule: fitted to a model's test digits, kept on its card, applied to each reading."""

import numpy as np
import pytest

from digitcnn import refusal, registry
from digitcnn.inference import Predictor, predict_probabilities


def _probabilities(top: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Rows whose most probable digit is ``digits`` at ``top``, the rest spread evenly."""
    rows = np.tile(((1 - top) / 9)[:, None], (1, 10))
    rows[np.arange(len(top)), digits] = top
    return rows


def test_the_fitted_threshold_refuses_at_most_one_percent_of_the_test_digits():
    rng = np.random.default_rng(0)
    top = rng.uniform(0.2, 1.0, 1000)
    labels = rng.integers(0, 10, 1000)
    rule = refusal.fit_refusal(_probabilities(top, labels), labels)
    refused = (top < rule.threshold).mean()
    assert refused <= 0.01 and refused >= 0.009  # as many as allowed, no more
    assert rule.test_refused == pytest.approx(refused)
    assert rule.test_accuracy_answered == 1.0  # every answer here is right


def test_the_curve_trades_answers_for_accuracy():
    labels = np.array([0, 1, 2, 3])
    read_as = np.array([0, 1, 5, 5])  # the two unsure ones are wrong
    rule = refusal.fit_refusal(_probabilities(np.array([0.99, 0.95, 0.6, 0.4]), read_as), labels)
    assert rule.at(0.0) == (1.0, 0.5)
    assert rule.at(0.5) == (0.75, pytest.approx(2 / 3))
    assert rule.at(0.9) == (0.5, 1.0)
    assert rule.at(1.0) == (0.0, 1.0)  # nothing answered: nothing wrong
    thresholds = [point[0] for point in rule.curve]
    assert thresholds == sorted(thresholds) and thresholds[0] == 0.0 and thresholds[-1] == 1.0


def test_a_reading_below_the_threshold_is_not_a_digit_but_keeps_its_probabilities():
    rule = refusal.RefusalRule(threshold=0.9, test_refused=0.01, test_accuracy_answered=0.999, curve=[])
    unsure = _probabilities(np.array([0.5]), np.array([4]))[0]
    reading = rule.read(unsure)
    assert reading.digit is None and reading.closest == 4 and reading.score == pytest.approx(0.5)
    assert reading.probabilities.sum() == pytest.approx(1.0)
    assert rule.read(unsure, threshold=0.4).digit == 4  # a user's own, lower threshold answers
    assert refusal.NEVER_REFUSE.read(unsure).digit == 4


@pytest.mark.parametrize("bad", [
    {"threshold": 1.5}, {"threshold": "high"}, {"curve": [[0.5, 2.0, 1.0]]}, {"score": "energy"}, {"colour": 1},
])
def test_a_card_with_a_bad_rule_is_listed_as_broken(tiny_result, tmp_path, bad):
    import json

    result, _ = tiny_result
    registry.save_model(result.model, registry.ModelCard.from_training("ruled", result), tmp_path)
    card_file = tmp_path / "ruled.json"
    card = json.loads(card_file.read_text())
    card["refusal"] |= bad
    card_file.write_text(json.dumps(card))
    [entry] = registry.list_models(tmp_path)
    assert entry.card is None and "refusal" in entry.problem


@pytest.fixture(scope="module")
def tiny_outlier_result(embedded):
    """The tutorial's network trained briefly on 1,500 digits and half as many generated non-digits."""
    from digitcnn.training import TrainingConfig, train

    rng = np.random.default_rng(0)
    chosen = np.concatenate([np.flatnonzero(embedded.labels == digit)[:150] for digit in range(10)])
    digits = embedded.subset(rng.permutation(chosen), "1,500 digits")
    return train(digits, TrainingConfig(architecture="article", epochs=5, batch_size=32, seed=7, non_digit_share=0.5))


def test_a_tiny_model_refuses_non_digits_far_more_than_its_test_digits(tiny_outlier_result, tmp_path):
    from digitcnn import nondigits

    result = tiny_outlier_result
    registry.save_model(result.model, registry.ModelCard.from_training("ruled", result), tmp_path)
    model, card = registry.load_model("ruled", tmp_path)
    rule = card.refusal_rule
    assert rule.threshold > 0 and rule.test_refused <= 0.01
    test = result.split.test
    answered, _ = rule.coverage(predict_probabilities(model, test.images), test.labels)
    assert answered >= 0.99

    others = nondigits.generate(200, seed=99)  # drawings it never saw
    refused = 1 - rule.coverage(predict_probabilities(model, others.images), np.zeros(len(others)))[0]
    assert refused >= 0.25, refused  # the tiny model's share; the shipped model's is measured by a benchmark

    predictor = Predictor(model, rule)
    surest = int(np.argmax(result.test_evaluation.confidences))
    assert predictor.read(test.images[surest]).digit == result.test_evaluation.predictions[surest]
    unsure = int(np.argmin(result.test_evaluation.confidences))
    assert predictor.read(test.images[unsure]).digit is None


def test_a_card_saved_before_refusal_rules_never_refuses(tiny_result, tmp_path):
    import json

    result, _ = tiny_result
    registry.save_model(result.model, registry.ModelCard.from_training("old", result), tmp_path)
    card_file = tmp_path / "old.json"
    card = json.loads(card_file.read_text())
    del card["refusal"]
    card_file.write_text(json.dumps(card))
    model, loaded = registry.load_model("old", tmp_path)
    assert loaded.refusal is None and loaded.refusal_rule is refusal.NEVER_REFUSE
    noise = np.random.default_rng(1).uniform(0, 1, (28, 28)).astype(np.float32)
    assert Predictor(model, loaded.refusal_rule).read(noise).digit is not None
