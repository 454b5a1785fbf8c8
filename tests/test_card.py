"""The model card's format and checks: a card written before a field existed reads with its default, and a bad
card (not JSON, a field of the wrong type, a value out of range, settings that are no training configuration, a
file over 4 MB) is listed as broken with the reason and refused on load, never a crash."""

import dataclasses
import json
import re
import typing

import pytest

from digitcnn.storage import registry
from digitcnn.storage.card import ModelCard
from digitcnn.errors import ModelFileError


def test_a_card_written_before_calibration_reads_as_uncalibrated(saved):
    _, folder = saved
    fields = json.loads((folder / "tiny.json").read_text())
    del fields["temperature"]
    assert ModelCard.from_json(json.dumps(fields)).temperature == 1.0


def _changed(field, value):
    def change(card):
        card[field] = value
        return json.dumps(card)

    return change


def _changed_setting(setting, value):
    def change(card):
        card["settings"][setting] = value
        return json.dumps(card)

    return change


def _without_setting(setting):
    def change(card):
        del card["settings"][setting]
        return json.dumps(card)

    return change


@pytest.mark.parametrize(
    "rewrite, reason",
    [
        (lambda card: json.dumps(card).replace('"parameter_count": 607394', '"parameter_count": ' + "7" * 5001),
         "not valid JSON"),
        (lambda card: json.dumps(card)[:-1] + ', "deep": ' + "[" * 200_000 + "]" * 200_000 + "}", "nested too deeply"),
        (_changed("settings", {}), "architecture 'article' but its settings say 'compact'"),
        (_changed_setting("colour", "blue"), "unknown setting 'colour'"),
        (_changed_setting("epochs", 0), "epochs must be a whole number"),
        (_changed_setting("epochs", True), "setting 'epochs' should be int"),
        (_changed_setting("augment", "yes"), "setting 'augment' should be bool"),
        (_changed_setting("architecture", "compact"), "architecture 'article' but its settings say 'compact'"),
        (_changed("parameter_count", True), "field 'parameter_count' should be int"),
        (_changed("test_accuracy", float("nan")), "field 'test_accuracy' should be float"),
        (_changed("test_loss", float("inf")), "field 'test_loss' should be float"),
        (_changed("test_accuracy", 1.5), "test_accuracy 1.5 is not from 0 to 1"),
        (_changed("train_size", -3), "train_size -3 is not from 1"),
        (_changed("confusion_matrix", [[0] * 10] * 9), "confusion matrix should be 10×10"),
        (_changed("confusion_matrix", [[-1] * 10] * 10), "confusion matrix should be 10×10 counts"),
        (_changed("confusion_matrix", [[2] * 10] * 10), "confusion matrix counts 200 test images, not 198"),
        (_changed("split_method", "guess"), "split method 'guess' is not holdout or own"),
        (_changed("model_sha256", "not a checksum"), "model_sha256 is not a SHA-256"),
        (_changed("created", "yesterday"), "created 'yesterday' is not an ISO 8601 time"),
        (_changed("format", "digitcnn-model-card/99"), "format 'digitcnn-model-card/99' is not"),
        (_changed("versions", {"keras": 3}), "versions should name each library's version as text"),
        (_changed("temperature", 0), "temperature 0 is not from 0.25 to 4"),
        (_changed("name", "../escape"), "not allowed"),
    ],
    ids=["5001-digit number", "nested 200000 deep", "settings empty", "unknown setting",
         "epochs 0", "epochs true", "augment text", "architectures differ", "bool count", "NaN", "infinity",
         "accuracy 1.5", "negative size", "matrix 9x10", "negative counts", "matrix sum", "split method",
         "checksum", "created", "format", "versions", "temperature", "name"],
)
def test_a_bad_card_is_listed_as_broken_and_refused_on_load(saved, rewrite, reason):
    _, folder = saved
    card_file = folder / "tiny.json"
    card_file.write_text(rewrite(json.loads(card_file.read_text())))
    [entry] = registry.list_models(folder)
    assert entry.card is None and reason in entry.problem and entry.problem.startswith("tiny.json: ")
    with pytest.raises(ModelFileError, match=re.escape(reason)):
        registry.load_model("tiny", folder)


@dataclasses.dataclass(frozen=True)
class _CardOfALaterVersion(ModelCard):
    """A card with fields annotated as a later version might annotate them."""

    scores_per_digit: list[float] | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    anything: typing.Any = None


@pytest.mark.parametrize("field, value, accepted", [
    ("scores_per_digit", [0.9] * 10, True), ("scores_per_digit", None, True), ("scores_per_digit", "0.9", False),
    ("tags", {"by": "me"}, True), ("tags", ["by", "me"], False), ("anything", {"a": [1]}, True),
])
def test_a_field_of_any_annotation_is_type_checked_with_a_model_file_error(saved, field, value, accepted):
    _, folder = saved
    card = json.loads((folder / "tiny.json").read_text()) | {field: value}
    if accepted:
        assert getattr(_CardOfALaterVersion.from_json(json.dumps(card)), field) == value
    else:
        with pytest.raises(ModelFileError, match=f"field '{field}' should be"):
            _CardOfALaterVersion.from_json(json.dumps(card))


def test_a_card_older_than_a_setting_reads_with_that_settings_default(saved):
    _, folder = saved
    card_file = folder / "tiny.json"
    card_file.write_text(_without_setting("train_limit")(json.loads(card_file.read_text())))
    [entry] = registry.list_models(folder)
    assert entry.problem is None and entry.card.training_config.train_limit is None
    card_file.write_text(_without_setting("reading")(json.loads(card_file.read_text())))
    [entry] = registry.list_models(folder)
    assert entry.problem is None and entry.card.reading == "plain"  # cards before readings: as drawn


def test_a_card_over_the_largest_a_rule_makes_is_refused_unread(saved):
    from digitcnn.storage.card import MAX_CARD_BYTES

    _, folder = saved
    card_file = folder / "tiny.json"
    card_file.write_text(" " * MAX_CARD_BYTES + card_file.read_text())
    [entry] = registry.list_models(folder)
    assert entry.card is None and "tiny.json: larger than 4 MB" in entry.problem
