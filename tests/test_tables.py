import dataclasses

from digitcnn import config
from digitcnn.storage import registry
from digitcnn.views import tables


def _shipped():
    [entry] = [entry for entry in registry.list_models(config.PROJECT_ROOT / "models") if entry.name == "default"]
    return entry


def test_a_saved_models_row_gives_its_card_in_words():
    row = tables.saved_model_row(_shipped())
    assert row["name"] == "default" and row["problem"] == ""
    assert row["architecture"] == "Compact network (best)" and row["reading"] == "as drawn, bolder and finer"
    assert row["accuracy"] == "99.67% (test)"  # on its card's test images, which it never trained on
    assert row["not a digit below"] == "5.8%" and row["test digits refused"] == "0.95%"
    assert row["train / test images"] == "60,000 / 10,000" and row["epochs"] == 13


def test_a_model_that_never_refuses_says_so_and_an_unusable_one_shows_only_its_problem():
    shipped = _shipped()
    old = tables.saved_model_row(dataclasses.replace(shipped, card=dataclasses.replace(shipped.card, refusal=None)))
    assert old["not a digit below"] == "never" and old["test digits refused"] == "—"
    broken = tables.saved_model_row(registry.SavedModel("broken", None, "no model card"))
    assert broken["problem"] == "no model card" and broken["epochs"] is None
    assert {value for key, value in broken.items() if key not in ("name", "problem", "epochs")} == {"—"}
