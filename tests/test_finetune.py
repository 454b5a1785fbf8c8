"""Fine-tuning a saved model on one writer's drawings: it learns their style, keeps the data's digits, is
refused when it forgets them, leaves its base model alone, reports progress, cancels, and its card
round-trips."""

import dataclasses
import json

import numpy as np
import pytest
from scipy.ndimage import grey_dilation

from digitcnn.training import finetune
from digitcnn.reading import inference
from digitcnn.storage import registry
from digitcnn.data import Dataset
from digitcnn.errors import ModelFileError, SettingsError, TrainingCancelled
from digitcnn.data import NOT_A_DIGIT
from digitcnn.percentages import share_text
from digitcnn.jobs.teaching import fine_tune_saved_model
from digitcnn.training.drawings_rule import (MIN_DRAWINGS, check_drawings, drawings_missing, split_drawings,
                                             teaching_rule)
from digitcnn.training.finetune import fine_tune
from digitcnn.training.finetune_config import FineTuneConfig

QUICK = FineTuneConfig(epochs=4, replay=5, batch_size=32, learning_rate=1e-3, augment=False, seed=3)


def in_a_style(images: np.ndarray) -> np.ndarray:
    """The writer's style: a fat pen, and digits drawn low and to the right of the box."""
    fat = grey_dilation(images, size=(1, 3, 3))
    shifted = np.zeros_like(fat)
    shifted[:, 5:, 5:] = fat[:, :-5, :-5]
    return shifted


@pytest.fixture(scope="module")
def writer(embedded, small_dataset):
    """Embedded digits the tiny model never saw, drawn in the writer's style: 20 of each to teach from (some
    kept apart by the fine-tune) and 30 of each more to score on."""
    unseen = [np.flatnonzero(embedded.labels == digit)[60:110] for digit in range(10)]
    taught = np.sort(np.concatenate([indices[:20] for indices in unseen]))
    other = np.sort(np.concatenate([indices[20:] for indices in unseen]))
    return (Dataset(in_a_style(embedded.images[taught]), embedded.labels[taught], "my drawings"),
            Dataset(in_a_style(embedded.images[other]), embedded.labels[other], "my other drawings"))


@pytest.fixture(scope="module")
def base(tiny_result):
    result, _ = tiny_result
    return result.model, registry.ModelCard.from_training("tiny", result), result


@pytest.fixture(scope="module")
def taught(base, writer, small_dataset):
    """The tiny model taught the writer's drawings (a gate that lets anything pass, so it can be saved)."""
    model, card, _ = base
    before = inference.predict_probabilities(model, small_dataset.images)
    weights = [w.copy() for w in model.get_weights()]
    events = []
    settings = dataclasses.replace(QUICK, max_accuracy_drop=1.0)
    result = fine_tune(model, card, writer[0], small_dataset, settings, on_progress=events.append, writer="ana",
                       base_record=base[2].trained_on)
    return result, events, before, weights


def errors(model, dataset: Dataset) -> int:
    return int((inference.predict_probabilities(model, dataset.images).argmax(axis=1) != dataset.labels).sum())


def test_teaching_a_style_lowers_the_errors_on_that_styles_other_drawings(base, taught, writer):
    model, _, _ = base
    result = taught[0]
    before, after = errors(model, writer[1]), errors(result.model, writer[1])
    assert after < 0.6 * before, (before, after)  # the style's errors fall by far
    assert result.after.personal_test_accuracy > result.before.personal_test_accuracy + 0.1
    # 20 drawings of each digit, 30% of them (6) kept apart, chosen per digit
    assert (result.drawings_count, result.personal_test_size, result.taught) == (200, 60, 140)
    # 5 digits of the data replayed per taught drawing, fresh ones in each of the 4 epochs; the tutorial's model
    # learned from no non-digits, so none are replayed
    assert result.replayed == 5 * 140 * 4 and result.train_size == 140 + 2800
    per_digit = np.array(result.after.per_digit_accuracy)
    assert per_digit.shape == (10,) and np.all((per_digit >= 0) & (per_digit <= 1))
    assert result.base_name == "tiny" and result.writer == "ana" and result.temperature == 1.0
    assert result.refusal is not None and result.refusal.fitted
    assert 0 < result.training_seconds <= result.seconds


def test_the_data_test_set_is_the_one_the_base_model_held_out(base, taught):
    _, _, trained = base
    result = taught[0]
    np.testing.assert_array_equal(result.data_test_evaluation.labels, trained.split.test.labels)
    assert result.split_method == "holdout" and result.data_source == "small sample"
    # The base model scored again by the fine-tune's own reading: a picture on the edge of a decision may change sides.
    assert result.before.data_test_accuracy == pytest.approx(trained.test_evaluation.accuracy,
                                                             abs=1 / len(trained.split.test) + 1e-9)
    assert result.after.data_test_accuracy == result.data_test_evaluation.accuracy


def test_the_fine_tuned_model_records_the_base_models_images_the_drawings_taught_and_the_replayed_digits(
        base, taught, writer, small_dataset, tmp_path):
    _, _, trained = base
    result = taught[0]
    record = result.trained_on
    assert record.seen(trained.split.train).all() and not record.seen(trained.split.test).any()
    taught_drawings = record.seen(writer[0])
    assert taught_drawings.sum() == result.taught == 140  # the 60 kept apart to test were not learned
    assert len(record) == len(trained.split.train) + 140  # the replayed digits are the base model's training digits
    assert result.data_test_seen == 0 and "the 198 test digits of small sample" in result.message
    card = registry.ModelCard.from_fine_tune("tiny-ana", result)
    registry.save_model(result.model, card, tmp_path, trained_on=record)
    [entry] = registry.list_models(tmp_path)
    assert entry.card.test_seen == 0 and entry.card.trained_on["images"] == len(record)
    np.testing.assert_array_equal(registry.load_training_record("tiny-ana", tmp_path).digests, record.digests)


def test_digits_the_base_model_trained_on_are_no_test_and_are_said_to_be_none(base, writer, small_dataset):
    """The shipped model taught on the embedded sample, which it trained on, reported "the data's test set"."""
    from digitcnn.data.seen import TrainingRecord, card_score_text

    model, card, _ = base
    settings = dataclasses.replace(QUICK, epochs=1, replay=1, max_accuracy_drop=1.0)
    result = fine_tune(model, card, writer[0], small_dataset, settings, writer="ana",
                       base_record=TrainingRecord.of(small_dataset))  # as if it had trained on all 600 digits
    assert result.data_test_seen == len(result.data_test_evaluation.labels) == 198
    assert "the 198 digits of small sample, all seen in training by tiny (no unseen ones to test on: not a test)" \
        in result.message and "test digits of" not in result.message
    taught_card = registry.ModelCard.from_fine_tune("tiny-ana", result)
    assert card_score_text(taught_card).endswith("images of small sample (seen in training: 198 of 198 — not a test)")
    unknown = fine_tune(model, card, writer[0], small_dataset, settings, writer="ana")  # a base without a record
    assert unknown.data_test_seen is None and unknown.trained_on is None
    assert "not known whether tiny trained on them: not a test" in unknown.message


def test_the_base_model_is_left_as_it_was(base, taught, small_dataset):
    model, _, _ = base
    _, _, predictions, weights = taught
    np.testing.assert_array_equal(inference.predict_probabilities(model, small_dataset.images), predictions)
    for now, then in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(now, then)
    assert taught[0].model is not model


def test_progress_arrives_after_each_batch_and_epoch_and_names_each_step(taught):
    result, events, _, _ = taught
    batches = [event for event in events if event.stage == "batch"]
    epochs = [event for event in events if event.stage == "epoch"]
    assert len(epochs) == QUICK.epochs and len(batches) == QUICK.epochs * batches[0].batches
    assert batches[0].batches == -(-(140 + 700) // QUICK.batch_size)  # each epoch: the drawings, 700 replayed
    assert all(event.validation_accuracy is not None for event in epochs)  # on the writer's test drawings
    fractions = [event.fraction_done for event in events]
    assert fractions == sorted(fractions) and fractions[-1] < 1  # the steps after the learning count in it too
    assert [event.step for event in events if event.stage == "step"] == [
        finetune.SCORING_BEFORE, *finetune.STEPS_AFTER_TEACHING]  # every step named, in order


def test_the_gate_refuses_a_fine_tune_that_forgets_the_data(base, writer, small_dataset):
    model, card, _ = base
    drawings = writer[0]
    wrong = Dataset(drawings.images, (drawings.labels + 1) % 10, "mislabelled drawings")
    settings = dataclasses.replace(QUICK, replay=0, learning_rate=3e-3)
    result = fine_tune(model, card, wrong, small_dataset, settings)
    assert not result.passed
    drop = result.before.data_test_accuracy - result.after.data_test_accuracy
    assert drop > 0.001
    assert (f"fell from {share_text(result.before.data_test_accuracy)} to "
            f"{share_text(result.after.data_test_accuracy)} "
            f"({-drop * 100:+.2f} points, more than the 0.10 allowed): not saved") in result.message
    with pytest.raises(SettingsError, match="not saved"):
        registry.ModelCard.from_fine_tune("tiny-wrong", result)


def test_cancelling_stops_after_the_current_batch(base, writer, small_dataset, cancel_at_second_batch):
    model, card, _ = base
    cancel, on_progress, seen = cancel_at_second_batch
    with pytest.raises(TrainingCancelled):
        fine_tune(model, card, writer[0], small_dataset, QUICK, on_progress=on_progress, cancel=cancel)
    assert len([p for p in seen if p.stage == "batch"]) <= 3


def test_too_few_drawings_say_how_many_are_needed(base, writer, small_dataset):
    model, card, _ = base
    drawings = writer[0]
    with pytest.raises(SettingsError, match="at least 10 drawings.*there are only 9"):
        fine_tune(model, card, drawings.subset(np.arange(9)), small_dataset, QUICK)
    one_three = np.concatenate([np.flatnonzero(drawings.labels != 3), np.flatnonzero(drawings.labels == 3)[:1]])
    with pytest.raises(SettingsError, match=r"at least 2 of each digit drawn \(one to learn .*: digit 3 has only one"):
        fine_tune(model, card, drawings.subset(one_three), small_dataset, QUICK)
    check_drawings(drawings.subset(one_three), personal_test_share=0.0)  # none kept apart: one is enough
    # kept apart to test: one per digit, at least; none when the share is 0
    taught, kept = split_drawings(drawings.subset(one_three[-20:]), 0.3, seed=0)
    assert len(taught) + len(kept) == 20 and set(np.unique(kept.labels)) <= set(np.unique(taught.labels))
    assert split_drawings(drawings, 0.0, seed=0)[1] is None


@pytest.mark.parametrize("counts, share, missing", [
    ({}, 0.3, "Keep 10 more drawings to teach"),
    ({3: 4, 5: 5, NOT_A_DIGIT: 20}, 0.3, "Keep 1 more drawing to teach"),  # "not a digit" is not taught
    ({digit: 2 for digit in range(4)} | {7: 1}, 0.3, "Keep one more drawing of 7 to teach"),
    ({3: 1, 7: 1, 5: 2}, 0.3, "Keep 6 more drawings, one more of each of 3 and 7 among them, to teach"),
    ({3: 1, 7: 1, 5: 2}, 0.0, "Keep 6 more drawings to teach"),  # none kept apart: one of a digit is enough
    ({digit: 2 for digit in range(5)}, 0.3, None),
])
def test_what_the_drawings_lack_to_teach_is_said_before_teaching(counts, share, missing):
    assert drawings_missing(counts, share) == missing


def test_the_rule_stated_before_teaching_is_the_one_checked():
    assert teaching_rule(0.3) in _check_message(np.array([0] * 9), 0.3)
    assert teaching_rule(0.0) in _check_message(np.array([0] * 9), 0.0)
    assert str(MIN_DRAWINGS) in teaching_rule(0.3) and "2 of each digit" in teaching_rule(0.3)


def _check_message(labels: np.ndarray, share: float) -> str:
    images = np.arange(len(labels) * 784, dtype=np.uint32).reshape(-1, 28, 28).astype(np.uint8)  # all different
    with pytest.raises(SettingsError) as raised:
        check_drawings(Dataset(images, labels, "my drawings"), share)
    return str(raised.value)


def test_copies_of_a_few_pictures_count_as_those_few(base, writer, small_dataset):
    """Ten copies of two pictures passed the check: a model learned from two images, or scikit-learn's own words
    reached the page."""
    model, card, _ = base
    two = writer[0].subset(np.flatnonzero(writer[0].labels == 3)[:2])
    copies = Dataset(np.repeat(two.images, 5, axis=0), np.repeat(two.labels, 5), "my drawings")
    with pytest.raises(SettingsError, match="at least 10 drawings.*there are only 2 different ones$"):
        fine_tune(model, card, copies, small_dataset, QUICK)
    with pytest.raises(SettingsError, match="there are only 2 different ones$"):  # before it looks for the model
        fine_tune_saved_model("no-such-model", "no-such-folder", copies, "ana", small_dataset, QUICK)
    one_each = np.concatenate([np.flatnonzero(writer[0].labels == digit)[:1] for digit in range(10)])
    with pytest.raises(SettingsError, match="digits 0, 1, 2, 3, 4, 5, 6, 7, 8 and 9 have only one each"):
        check_drawings(Dataset(np.repeat(writer[0].images[one_each], 2, axis=0),
                               np.repeat(writer[0].labels[one_each], 2), "my drawings"), personal_test_share=0.3)


@pytest.mark.parametrize("setting, value, message", [
    ("epochs", 0, "epochs"), ("learning_rate", 0.0, "learning rate"), ("replay", -1, "replayed"),
    ("personal_test_share", 1.0, "kept apart"), ("max_accuracy_drop", -0.1, "accuracy drop"),
    ("freeze", "everything", "freeze"), ("seed", -1, "seed"), ("batch_size", True, "batch size"),
])
def test_settings_are_checked(setting, value, message):
    with pytest.raises(SettingsError, match=message):
        FineTuneConfig(**{setting: value})


def test_the_card_records_the_fine_tune_and_round_trips(taught, small_dataset, tmp_path):
    result = taught[0]
    card = registry.ModelCard.from_fine_tune("tiny-ana", result)
    registry.save_model(result.model, card, tmp_path)
    model, loaded = registry.load_model("tiny-ana", tmp_path)
    assert loaded == dataclasses.replace(card, model_sha256=loaded.model_sha256)
    np.testing.assert_allclose(inference.predict_probabilities(model, small_dataset.images),
                               inference.predict_probabilities(result.model, small_dataset.images), atol=1e-6)
    record = loaded.fine_tuned
    assert (record["base_model"], record["writer"], record["drawings"], record["personal_test_size"]) == \
        ("tiny", "ana", 200, 60)
    assert record["after"]["data_test_accuracy"] == loaded.test_accuracy == result.after.data_test_accuracy
    assert record["before"]["personal_test_accuracy"] == result.before.personal_test_accuracy
    assert record["settings"]["max_accuracy_drop"] == 1.0
    assert (loaded.architecture, loaded.settings) == ("article", result.base_card.settings)
    assert (loaded.train_size, loaded.test_size, loaded.split_method) == (2940, 198, "holdout")
    assert loaded.refusal == result.refusal.to_dict()


def test_a_card_without_a_fine_tune_reads_as_trained(base):
    _, card, _ = base
    fields = json.loads(card.to_json())
    del fields["fine_tuned"]
    assert registry.ModelCard.from_json(json.dumps(fields)).fine_tuned is None


@pytest.mark.parametrize("change, message", [
    (lambda record: "yes", "'fine_tuned' should be dict"),
    (lambda record: {**record, "drawings": "200"}, "entry 'drawings' should be int"),
    (lambda record: {k: v for k, v in record.items() if k != "writer"}, "missing entry 'writer'"),
    (lambda record: {**record, "writer": ""}, "writer's name"),
    (lambda record: {**record, "base_model": "../x"}, "model name"),
    (lambda record: {**record, "personal_test_size": 200}, "make no sense"),
    (lambda record: {**record, "settings": {**record["settings"], "epochs": 0}}, "settings: epochs"),
    (lambda record: {**record, "settings": {**record["settings"], "colour": 1}}, "unknown setting 'colour'"),
    (lambda record: {**record, "after": {**record["after"], "per_digit_accuracy": [0.5] * 9}}, "ten of them"),
    (lambda record: {**record, "before": {**record["before"], "data_test_accuracy": 1.5}}, "from 0 to 1"),
])
def test_a_bad_fine_tune_record_is_refused(taught, change, message):
    fields = json.loads(registry.ModelCard.from_fine_tune("tiny-ana", taught[0]).to_json())
    fields["fine_tuned"] = change(fields["fine_tuned"])
    with pytest.raises(ModelFileError, match=message):
        registry.ModelCard.from_json(json.dumps(fields))


@pytest.mark.parametrize("freeze", ["nothing", "batchnorm", "features"])
def test_the_copy_takes_the_temperature_out_and_putting_it_back_restores_the_base_model(base, small_dataset, freeze):
    from digitcnn.training.finetune import _fold_temperature, _inference_copy, _trainable_copy

    model, _, _ = base
    copy = _trainable_copy(model, 0.5, dataclasses.replace(QUICK, freeze=freeze), label_smoothing=0.1)
    expected = inference.predict_probabilities(model, small_dataset.images[:50])
    assert not np.allclose(inference.predict_probabilities(copy, small_dataset.images[:50]), expected, atol=1e-3)
    restored = _inference_copy(copy)
    _fold_temperature(restored, 0.5)
    np.testing.assert_allclose(inference.predict_probabilities(restored, small_dataset.images[:50]), expected,
                               atol=1e-5)
    assert all(layer.trainable for layer in restored.layers)


def test_replayed_digits_are_the_base_models_training_digits_balanced_and_fresh_each_epoch(base, small_dataset):
    from digitcnn.training.finetune import _replayed, data_parts

    _, card, trained = base
    pool, test, method = data_parts(small_dataset, card)
    assert method == "holdout" and len(pool) == len(trained.split.train) and len(test) == 198
    replayed = _replayed(pool, 100, 3, np.random.default_rng(0))
    assert [list(np.bincount(epoch.labels, minlength=10)) for epoch in replayed] == [[10] * 10] * 3
    seen = [image.tobytes() for epoch in replayed for image in epoch.images]
    assert len(set(seen)) == 300  # none replayed twice
    assert set(seen) <= {image.tobytes() for image in pool.images}
    assert not set(seen) & {image.tobytes() for image in test.images}
