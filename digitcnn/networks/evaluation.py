"""How good a model is on a labelled set: accuracy, loss, confusion matrix, per-class report,
and which images it got wrong. Works on plain arrays: true labels and predicted probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

DIGITS = list(range(10))
_LOG_FLOOR = 1e-7  # Keras clips probabilities the same way in its cross-entropy


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The scores of one model on one labelled set."""

    labels: np.ndarray  # (N,) true digits
    probabilities: np.ndarray  # (N, 10) predicted probability of each digit
    accuracy: float
    loss: float  # mean sparse categorical cross-entropy
    confusion_matrix: np.ndarray  # (10, 10) counts, rows = true digit, columns = predicted
    report: dict  # scikit-learn's classification_report(output_dict=True)
    # (N,) how sure the model was of each answer as its reading says it (its "not a digit" rule's score, see
    # digitcnn.reading.refusal); None: the probability of the digit read, for a model without a rule
    scores: np.ndarray | None = None

    @cached_property  # computed once: a page filters the mistakes on every rerun
    def predictions(self) -> np.ndarray:
        """The predicted digit of each image."""
        return self.probabilities.argmax(axis=1)

    @cached_property
    def confidences(self) -> np.ndarray:
        """How sure the model was of its answer, for each image: as a reading of it says (``scores``), else the
        probability of the digit read."""
        return self.probabilities.max(axis=1) if self.scores is None else self.scores

    def mistakes(self, true: int | None = None, predicted: int | None = None) -> np.ndarray:
        """Indices of the misclassified images of the true digit ``true`` read as ``predicted`` (None: any),
        surest mistakes first. A cell of the diagonal (``true == predicted``, both given) has no mistakes:
        its right answers are given instead, so that every cell of the confusion matrix shows its images."""
        chosen = np.ones(len(self.labels), dtype=bool)
        if true is not None:
            chosen &= self.labels == true
        if predicted is not None:
            chosen &= self.predictions == predicted
        if true is None or predicted is None or true != predicted:
            chosen &= self.predictions != self.labels
        indices = np.flatnonzero(chosen)
        return indices[np.argsort(-self.confidences[indices], kind="stable")]

    def mistakes_title(self, true: int | None = None, predicted: int | None = None) -> str:
        """What :meth:`mistakes` gives for ``true`` and ``predicted``, in words with its count: right readings
        for a cell of the diagonal ("Read right as 3 (161 images)"), mistakes for any other filter ("True 3
        read as 5 (2 mistakes)")."""
        count = len(self.mistakes(true, predicted))
        if true is not None and true == predicted:
            return f"Read right as {true} ({count:,} image{'' if count == 1 else 's'})"
        mistakes = f"{count:,} mistake{'' if count == 1 else 's'}"
        if true is not None and predicted is not None:
            return f"True {true} read as {predicted} ({mistakes})"
        if true is not None:
            return f"True {true} read as another digit ({mistakes})"
        if predicted is not None:
            return f"Other digits read as {predicted} ({mistakes})"
        return f"All mistakes ({count:,})"

    def report_table(self) -> pd.DataFrame:
        """The classification report as a table: one row per digit, then the averages."""
        rows = {name: scores for name, scores in self.report.items() if isinstance(scores, dict)}
        table = pd.DataFrame(rows).transpose()
        table.loc["accuracy"] = [np.nan, np.nan, self.accuracy, len(self.labels)]
        table = table.loc[[*map(str, DIGITS), "accuracy", "macro avg", "weighted avg"]]
        table["support"] = table["support"].astype(int)
        return table

    def report_text(self) -> str:
        """The classification report as scikit-learn prints it, to four decimals."""
        from sklearn.metrics import classification_report

        return classification_report(self.labels, self.predictions, labels=DIGITS, digits=4, zero_division=0)


def evaluate(labels: np.ndarray, probabilities: np.ndarray, scores: np.ndarray | None = None) -> Evaluation:
    """Score predicted ``probabilities`` (N, 10) against the true ``labels`` (N,); ``scores``: how sure a reading
    of each image is (see :attr:`Evaluation.scores`)."""
    from sklearn.metrics import classification_report, confusion_matrix

    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(labels), 10):
        raise ValueError(f"expected probabilities of shape ({len(labels)}, 10), got {probabilities.shape}")
    predictions = probabilities.argmax(axis=1)
    chosen = probabilities[np.arange(len(labels)), labels]
    return Evaluation(
        labels=labels,
        probabilities=probabilities,
        accuracy=float((predictions == labels).mean()),
        loss=float(-np.log(np.clip(chosen, _LOG_FLOOR, 1.0)).mean()),
        confusion_matrix=confusion_matrix(labels, predictions, labels=DIGITS),
        report=classification_report(labels, predictions, labels=DIGITS, output_dict=True, zero_division=0),
        scores=None if scores is None else np.asarray(scores, dtype=np.float64),
    )
