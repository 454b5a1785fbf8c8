"""The "not a digit" rule: fitted to a model's test digits, kept on its card, applied to each reading."""

import numpy as np
import pytest

from digitcnn.reading import refusal
from digitcnn.storage import registry
from digitcnn.reading.inference import Predictor, predict_with_features


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
    assert refused == 0.009  # as many as the fit allows (0.95% of 1,000: 9), no more
    assert refusal.FITTED_REFUSED_DIGITS < refusal.MAX_REFUSED_DIGITS == 0.01
    assert rule.test_refused == pytest.approx(refused)
    assert rule.test_accuracy_answered == 1.0  # every answer here is right


def test_the_promise_holds_when_another_machine_scores_the_test_digits_a_little_lower():
    """Issue 32: fitted to refuse exactly 1% on one machine, the shipped rule refused 1.01% on another. The threshold
    is the score of one test digit; scores a millionth lower (other CPU kernels, other thread counts) put that
    digit, and any tied with it, below it."""
    rng = np.random.default_rng(1)
    top = rng.uniform(0.2, 1.0, 10_000)
    labels = rng.integers(0, 10, 10_000)
    rule = refusal.fit_refusal(_probabilities(top, labels), labels)
    elsewhere = _probabilities(top * (1 - 1e-6), labels)
    answered, _ = rule.coverage(elsewhere, labels)
    assert 1 - answered <= refusal.MAX_REFUSED_DIGITS


def test_the_curve_trades_answers_for_accuracy():
    labels = np.array([0, 1, 2, 3])
    read_as = np.array([0, 1, 5, 5])  # the two unsure ones are wrong
    rule = refusal.fit_refusal(_probabilities(np.array([0.99, 0.95, 0.6, 0.4]), read_as), labels)
    assert rule.at(0.0) == (1.0, 0.5)
    assert rule.at(0.5) == (0.75, pytest.approx(2 / 3))
    assert rule.at(0.9) == (0.5, 1.0)
    assert rule.at(1.0) == (0.0, 1.0)  # nothing answered: nothing wrong
    between = np.array([0.99, 0.95, 0.607, 0.603, 0.4])  # a threshold between the curve's points 0.60 and 0.61
    fitted = refusal.fit_refusal(_probabilities(between, np.arange(5)), np.arange(5), max_refused=0.4)
    assert fitted.threshold == pytest.approx(0.607)
    assert fitted.at(fitted.threshold) == (pytest.approx(0.6), 1.0)  # its own figures, not the curve's at 0.60
    assert fitted.at(0.6) == (0.8, 1.0)
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


def test_a_readings_sureness_gives_its_score_to_the_digit_read_and_the_rest_to_the_others_and_not_a_digit():
    likeness = refusal.DigitLikeness(weights=[1.0, 0.0], bias=0.0)  # sigmoid of the first feature
    rule = refusal.RefusalRule(0.5, 0.01, 0.99, [], refusal.SURE_OF_A_DIGIT, likeness)
    probabilities = _probabilities(np.array([0.9]), np.array([7]))[0]
    reading = rule.read(probabilities, np.array([2.0, 5.0]))
    sureness = reading.sureness
    assert len(sureness) == 11 and sureness.sum() == pytest.approx(1.0)
    assert reading.digit == 7 and sureness[7] == reading.score  # one number, the same wherever it is shown
    assert sureness[10] == pytest.approx(1 - reading.likeness)  # "not a digit"
    plain = refusal.NEVER_REFUSE.read(probabilities)
    assert list(plain.sureness) == list(probabilities) and plain.sureness[7] == plain.score


@pytest.mark.parametrize("bad", [
    {"threshold": 1.5}, {"threshold": "high"}, {"curve": [[0.5, 2.0, 1.0]]}, {"score": "energy"}, {"colour": 1},
    {"likeness": {"weights": "many", "bias": 0}},
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
    from digitcnn.data import nondigits

    result = tiny_outlier_result
    registry.save_model(result.model, registry.ModelCard.from_training("ruled", result), tmp_path)
    model, card = registry.load_model("ruled", tmp_path)
    rule = card.refusal_rule
    assert rule.threshold > 0 and rule.test_refused <= 0.01
    assert rule.score == refusal.SURE_OF_A_DIGIT and rule.likeness == result.refusal.likeness
    test = result.split.test
    answered, _ = rule.coverage(*_read(model, test.images, test.labels))
    assert answered >= 0.99

    others = nondigits.generate(200, seed=99)  # drawings it never saw
    refused = 1 - rule.coverage(*_read(model, others.images, np.zeros(len(others))))[0]
    assert refused >= 0.5, refused  # the tiny model's share; the shipped model's is measured by a benchmark

    predictor = Predictor(model, rule)  # LiteRT, reading the features too: the same scores as Keras
    probabilities, features = predict_with_features(model, test.images[:50])
    scores = [predictor.read(image).score for image in test.images[:50]]
    np.testing.assert_allclose(scores, rule.scores(probabilities, features), atol=1e-4)
    surest = int(np.argmax(scores))
    assert predictor.read(test.images[surest]).digit == probabilities[surest].argmax()
    static = nondigits.generate(1, seed=5, kinds=["noise"]).images[0]  # laid out as the app lays out any picture
    assert predictor.read(static).digit is None


def test_a_digit_likeness_fitted_again_is_the_one_the_training_fitted(tiny_outlier_result):
    """What `reread --fit-refusal` fits for a saved model: the pens and scans of its digits are drawn from the
    training's seed, so the same network gets the same digit-likeness, whatever ran in between."""
    import tensorflow as tf

    from digitcnn import training

    result = tiny_outlier_result
    tf.random.uniform([10])  # random numbers drawn in between
    again = training.fit_digit_likeness(result.model, result.split.train, result.config.seed,
                                        learned_scans=result.config.augment)
    assert again == result.refusal.likeness
    other_seed = training.fit_digit_likeness(result.model, result.split.train, result.config.seed + 1,
                                             learned_scans=result.config.augment)
    assert other_seed != result.refusal.likeness
    # This network never learned from coarse scans (trained without augmentation): had it, its digit-likeness
    # would see more of its digits through them.
    assert not result.config.augment
    assert training.fit_digit_likeness(result.model, result.split.train, result.config.seed,
                                       learned_scans=True) != result.refusal.likeness


def test_a_model_of_a_few_digits_gets_its_rule_too(tiny_result):
    """A training on 1s and 7s only (a CSV of two digits, say) fits its digit-likeness with the non-digits those
    digits allow: pieces of 7s, but no overlaps (which need two digits other than 1)."""
    from digitcnn import training

    result, _ = tiny_result
    train_set = result.split.train
    ones_and_sevens = train_set.subset(np.flatnonzero(np.isin(train_set.labels, (1, 7))))
    likeness = training.fit_digit_likeness(result.model, ones_and_sevens, seed=0, learned_scans=True)
    assert len(likeness.weights) == predict_with_features(result.model, ones_and_sevens.images[:1])[1].shape[1]


def _read(model, images, labels):
    """What a rule's coverage takes: probabilities, labels and features."""
    probabilities, features = predict_with_features(model, images)
    return probabilities, labels, features


def test_the_digit_likeness_tells_apart_what_it_was_fitted_on_and_folds_its_scaling_into_its_weights():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    digits = rng.normal(5.0, 1.0, (300, 6)) * [1, 100, 1, 1, 1, 1]  # features of very different scales
    others = rng.normal(3.0, 1.0, (300, 6)) * [1, 100, 1, 1, 1, 1]
    likeness = refusal.fit_likeness(digits, others)
    assert roc_auc_score(np.r_[np.ones(300), np.zeros(300)], likeness.of(np.concatenate([digits, others]))) > 0.99
    assert likeness.of(digits).mean() > 0.5 > likeness.of(others).mean()
    features = np.concatenate([digits, others])
    scaled = (features - features.mean(0)) / (features.std(0) + 1e-6)
    expected = LogisticRegression(C=refusal.LIKENESS_REGULARIZATION, max_iter=1000).fit(
        scaled, np.r_[np.ones(300), np.zeros(300)]).predict_proba(scaled)[:, 1]
    np.testing.assert_allclose(likeness.of(features), expected, atol=1e-4)


def test_a_rule_with_a_digit_likeness_scores_the_top_probability_times_the_likeness():
    likeness = refusal.DigitLikeness(weights=[1.0, -1.0], bias=0.0)
    probabilities = _probabilities(np.array([0.9, 0.9]), np.array([3, 3]))
    features = np.array([[4.0, 0.0], [0.0, 4.0]])  # digit-like, then not
    rule = refusal.fit_refusal(probabilities, np.array([3, 3]), features, likeness, max_refused=0.0)
    assert rule.score == refusal.SURE_OF_A_DIGIT
    np.testing.assert_allclose(rule.scores(probabilities, features), 0.9 / (1 + np.exp([-4.0, 4.0])))
    assert rule.read(probabilities[0], features[0], threshold=0.5).digit == 3
    assert rule.read(probabilities[1], features[1], threshold=0.5).digit is None
    with pytest.raises(ValueError, match="features"):
        rule.read(probabilities[0])
    assert refusal.RefusalRule.from_dict(rule.to_dict()) == rule  # as a card keeps it


def _encoded(prototypes) -> str:
    import base64

    return base64.b64encode(np.asarray(prototypes, dtype="<f2").tobytes()).decode("ascii")


def test_the_closeness_multiplies_the_likeness_by_how_near_the_nearest_prototype_lies():
    likeness = refusal.DigitLikeness(weights=[0.0, 0.0], bias=0.0, prototypes=_encoded([[1, 0], [0, 1]]),
                                     closeness_weight=4.0, near_distance=0.3)  # the regression says 0.5 everywhere
    features = np.array([[3.0, 0.0], [0.0, 0.5], [1.0, 1.0], [-1.0, 0.0]])  # on a prototype (at any length),
    # half-way between the two (cosine 1/√2, within the near distance), and opposite one (cosine 0 to the nearest)
    expected_distance = np.array([0.0, 0.0, 1 - 1 / np.sqrt(2), 1.0])
    np.testing.assert_allclose(likeness.distance(features), expected_distance, atol=1e-6)
    np.testing.assert_allclose(likeness.of(features), 0.5 * np.array([1, 1, 1, np.exp(-4.0 * 0.7)]), atol=1e-6)
    fields = likeness.to_dict()
    assert fields["closeness_weight"] == 4.0 and refusal.DigitLikeness.from_dict(fields) == likeness
    regression_alone = refusal.DigitLikeness(weights=[0.0, 0.0], bias=0.0)
    assert regression_alone.to_dict() == {"weights": [0.0, 0.0], "bias": 0.0}  # as cards were written before it
    np.testing.assert_allclose(regression_alone.of(features), 0.5)


@pytest.mark.parametrize("prototypes, weight", [
    ("not base64!", 4.0), (_encoded([[1, 0, 0]]), 4.0), (_encoded([[1, float("nan")]]), 4.0), ("", 4.0),
    (_encoded([[1, 0]]), -1.0), (_encoded([[1, 0]]), "strong"), (_encoded([[1, 0]]), float("inf")),
])
def test_a_likeness_with_bad_prototypes_is_refused(prototypes, weight):
    with pytest.raises(ValueError, match="digit-likeness"):
        refusal.DigitLikeness.from_dict({"weights": [1.0, 0.0], "bias": 0.0, "prototypes": prototypes,
                                         "closeness_weight": weight})


def test_the_closeness_is_kept_where_it_refuses_a_kind_the_regression_never_learned_from():
    """Digits of two classes point two ways; the non-digits of kind "near" lie where the regression, fitted without
    them, would take them for digits but point a third way: the closeness refuses them, so it is kept."""
    rng = np.random.default_rng(0)
    directions = np.eye(6)
    digits = np.concatenate([3 * directions[0] + rng.normal(0, 0.2, (300, 6)),
                             3 * directions[1] + rng.normal(0, 0.2, (300, 6))])
    labels = np.repeat([0, 1], 300)
    far = -3 * directions[0] + rng.normal(0, 0.2, (300, 6))  # the regression learns these from the others
    near = 2.5 * (directions[0] + directions[1]) / 2 + 3 * directions[2] + rng.normal(0, 0.2, (300, 6))
    non_digits, kinds = np.concatenate([far, near]), np.repeat(["far", "near"], 300)
    likeness = refusal.fit_likeness(digits, non_digits, labels, kinds)
    assert likeness.prototypes is not None and likeness.closeness_weight == refusal.CLOSENESS_WEIGHT
    assert len(likeness._prototype_matrix) == 2 * refusal.PROTOTYPES_PER_DIGIT
    assert np.mean(likeness.closeness(digits) == 1) == pytest.approx(refusal.NEAR_SHARE, abs=0.01)
    assert likeness.of(near).mean() < 0.05 < 0.5 < likeness.of(digits).mean()
    without_kinds = refusal.fit_likeness(digits, non_digits, labels)
    assert without_kinds.prototypes is None  # nothing to tell whether it helps: the regression alone


@pytest.mark.parametrize("bad", [
    {"likeness": {"weights": [1.0, float("nan")], "bias": 0.0}}, {"likeness": {"weights": [], "bias": 0.0}},
    {"likeness": {"weights": [1.0], "bias": "high"}}, {"likeness": None}, {"score": refusal.TOP_PROBABILITY},
])
def test_a_bad_digit_likeness_is_refused(bad):
    likeness = refusal.DigitLikeness(weights=[1.0, -1.0], bias=0.0)
    fields = refusal.fit_refusal(_probabilities(np.array([0.9]), np.array([3])), np.array([3]),
                                 np.array([[1.0, 0.0]]), likeness).to_dict() | bad
    with pytest.raises(ValueError):
        refusal.RefusalRule.from_dict(fields)


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


def test_a_rule_saved_before_the_digit_likeness_still_reads_on_the_top_probability(tiny_result, tmp_path):
    import json

    result, _ = tiny_result
    registry.save_model(result.model, registry.ModelCard.from_training("older", result), tmp_path)
    card_file = tmp_path / "older.json"
    card = json.loads(card_file.read_text())
    test = result.split.test
    old_rule = refusal.fit_refusal(result.test_evaluation.probabilities, test.labels)  # as rules were fitted before
    card["refusal"] = old_rule.to_dict()
    assert "likeness" not in card["refusal"] and card["refusal"]["score"] == "top probability"
    card_file.write_text(json.dumps(card))
    model, loaded = registry.load_model("older", tmp_path)
    rule = loaded.refusal_rule
    assert rule.likeness is None and rule.threshold == old_rule.threshold
    predictor = Predictor(model, rule)
    image = test.images[0]
    assert predictor.read(image).score == pytest.approx(predictor.probabilities(image).max())


def test_a_closeness_judged_on_digits_its_prototypes_were_not_made_of(embedded):
    """On a run of 100 images each prototype is nearly a digit of the fit: judged on those very digits, the
    closeness seemed to refuse every kind left out (100%) while refusing fewer new non-digits than the regression
    alone (14.5% against 16.5%). Judged on the other half of the digits, it is left out."""
    from digitcnn.training import TrainingConfig, train

    result = train(embedded, TrainingConfig(epochs=1, train_limit=100))
    assert result.refusal.likeness is not None and result.refusal.likeness.prototypes is None
