import numpy as np
import pytest

from digitcnn.networks.evaluation import evaluate


def _one_hot_ish(predicted, confidence):
    probabilities = np.full((len(predicted), 10), (1 - confidence) / 9)
    probabilities[np.arange(len(predicted)), predicted] = confidence
    return probabilities


def test_scores_of_a_known_set_of_predictions():
    labels = np.array([0, 1, 2, 2, 3])
    probabilities = _one_hot_ish(np.array([0, 1, 2, 3, 3]), 0.91)

    evaluation = evaluate(labels, probabilities)

    assert evaluation.accuracy == pytest.approx(0.8)
    right, wrong = -np.log(0.91), -np.log(0.01)
    assert evaluation.loss == pytest.approx((4 * right + wrong) / 5)
    assert evaluation.confusion_matrix.sum() == 5
    assert evaluation.confusion_matrix[2, 3] == 1 and evaluation.confusion_matrix[2, 2] == 1
    assert evaluation.mistakes().tolist() == [3]
    np.testing.assert_array_equal(evaluation.predictions, [0, 1, 2, 3, 3])
    np.testing.assert_allclose(evaluation.confidences, 0.91)
    assert evaluation.report["2"]["recall"] == pytest.approx(0.5)
    assert evaluation.report["3"]["precision"] == pytest.approx(0.5)
    assert evaluation.report["3"]["support"] == 1


def test_mistakes_are_filtered_by_true_and_predicted_digit_surest_first():
    labels = np.array([1, 1, 1, 2, 2, 7, 7])
    probabilities = _one_hot_ish(np.array([7, 7, 1, 7, 2, 1, 7]), 0.5)
    probabilities[[0, 1, 3, 5], [7, 7, 7, 1]] = [0.6, 0.9, 0.7, 0.8]  # how sure each mistake is
    evaluation = evaluate(labels, probabilities)

    assert evaluation.mistakes().tolist() == [1, 5, 3, 0]  # every mistake, surest first
    assert evaluation.mistakes(true=1).tolist() == [1, 0]
    assert evaluation.mistakes(predicted=7).tolist() == [1, 3, 0]
    assert evaluation.mistakes(true=1, predicted=7).tolist() == [1, 0]  # a cell off the diagonal
    assert evaluation.mistakes(true=7, predicted=7).tolist() == [6]  # a cell of it: its right answers
    assert evaluation.mistakes(true=2, predicted=1).tolist() == []


def test_the_images_of_a_filter_are_titled_for_what_they_hold():
    labels = np.array([1, 1, 1, 2, 2, 7, 7])
    evaluation = evaluate(labels, _one_hot_ish(np.array([7, 7, 1, 7, 2, 1, 7]), 0.5))
    assert evaluation.mistakes_title(7, 7) == "Read right as 7 (1 image)"  # a cell of the diagonal
    assert evaluation.mistakes_title(1, 1) == "Read right as 1 (1 image)"
    assert evaluation.mistakes_title(1, 7) == "True 1 read as 7 (2 mistakes)"
    assert evaluation.mistakes_title(2, 1) == "True 2 read as 1 (0 mistakes)"
    assert evaluation.mistakes_title(true=1) == "True 1 read as another digit (2 mistakes)"
    assert evaluation.mistakes_title(predicted=7) == "Other digits read as 7 (3 mistakes)"
    assert evaluation.mistakes_title() == "All mistakes (4)"


def test_predictions_and_confidences_are_computed_once():
    evaluation = evaluate(np.array([0, 1]), _one_hot_ish(np.array([0, 2]), 0.9))
    assert evaluation.predictions is evaluation.predictions
    assert evaluation.confidences is evaluation.confidences


def test_report_table_has_a_row_per_digit_then_the_averages():
    labels = np.arange(10).repeat(3)
    evaluation = evaluate(labels, _one_hot_ish(labels, 0.5))
    table = evaluation.report_table()
    assert list(table.index) == [str(d) for d in range(10)] + ["accuracy", "macro avg", "weighted avg"]
    assert table.loc["accuracy", "f1-score"] == 1.0
    assert table.loc["weighted avg", "support"] == 30
    assert "0.5" not in evaluation.report_text() and "1.0000" in evaluation.report_text()


def test_probabilities_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match=r"\(3, 10\)"):
        evaluate(np.array([1, 2, 3]), np.zeros((3, 9)))


def test_how_sure_of_each_answer_is_a_readings_score_when_given_else_the_top_probability():
    labels = np.array([0, 1])
    probabilities = _one_hot_ish(np.array([0, 2]), 0.9)
    assert evaluate(labels, probabilities).confidences.tolist() == pytest.approx([0.9, 0.9])
    sure = evaluate(labels, probabilities, scores=np.array([0.8, 0.3]))
    assert sure.confidences.tolist() == [0.8, 0.3] and sure.mistakes().tolist() == [1]
