"""The rows of the tables the pages show, in words for people (Streamlit draws them as they are)."""

from __future__ import annotations

from digitcnn.data import seen
from digitcnn.networks import architectures
from digitcnn.percentages import probability_text, share_text
from digitcnn.reading.inference import READING_WORDS


def saved_model_row(entry) -> dict:
    """One line of the saved-models table; a model without a readable card shows only its problem."""
    # "accuracy", not "test accuracy": a model that trained on its card's images (or, imported, may have) has no test
    # score, and its cell says so; a test score says it is one.
    row = {"name": entry.name, "architecture": "—", "reading": "—", "accuracy": "—", "not a digit below": "—",
           "test digits refused": "—", "data": "—", "train / test images": "—", "epochs": None, "created": "—",
           "problem": entry.problem or ""}
    if card := entry.card:
        rule = card.refusal_rule
        row |= {"architecture": architectures.title_of(card.architecture),
                "reading": READING_WORDS.get(card.reading, card.reading),
                "accuracy": f"{share_text(card.test_accuracy)}{seen.card_test_note(card) or ' (test)'}",
                "not a digit below": probability_text(rule.threshold) if rule.fitted else "never",
                "test digits refused": share_text(rule.test_refused) if rule.fitted else "—",
                "data": card.data_source, "train / test images": f"{card.train_size:,} / {card.test_size:,}",
                "epochs": card.epochs, "created": card.created}
        if card.imported is not None:  # trained elsewhere, on images not known: only scored on the data here
            row |= {"data": f"scored on {card.data_source}", "train / test images": f"not known / {card.test_size:,}"}
    return row
