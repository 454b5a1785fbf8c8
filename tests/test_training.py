import dataclasses

import numpy as np
import pytest

from digitcnn import data, training
from digitcnn.training import augmentation, progress
from digitcnn.networks import calibration, architectures
from digitcnn.errors import DataError, SettingsError, TrainingCancelled


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch size"),
        (dict(test_fraction=1.0), "test fraction"),
        (dict(test_set="validation"), "test set"),
        (dict(learning_rate=0), "learning rate"),
        (dict(schedule="step"), "schedule"),
        (dict(train_limit=5), "training image limit"),
        (dict(architecture="nope"), "unknown architecture"),
        (dict(reading="four pens"), "reading must be one of plain, three-pens"),
    ],
)
def test_settings_are_checked_before_any_work(settings, message):
    with pytest.raises(SettingsError, match=message):
        training.TrainingConfig(**settings)


def test_unset_settings_take_the_architectures_recipe_and_set_ones_win():
    tutorial = training.TrainingConfig(architecture="article")
    assert (tutorial.epochs, tutorial.batch_size, tutorial.learning_rate, tutorial.augment) == (10, 32, 0.001, False)
    mine = training.TrainingConfig(architecture="article", epochs=3, batch_size=64, augment=True,
                                   schedule="warmup_cosine")
    assert (mine.epochs, mine.batch_size, mine.augment, mine.schedule) == (3, 64, True, "warmup_cosine")
    assert mine.to_dict()["learning_rate"] == 0.001  # cards record the values used, never None


def test_split_holds_out_a_fraction_or_uses_the_sources_own_test_set(small_dataset):
    holdout = training.make_split(small_dataset, training.TrainingConfig(test_fraction=0.25))
    assert (len(holdout.train), len(holdout.test), holdout.method) == (450, 150, "holdout")

    with_own = type(small_dataset)(small_dataset.images[:500], small_dataset.labels[:500], "x",
                                   small_dataset.subset(slice(500, 600)))
    own = training.make_split(with_own, training.TrainingConfig())
    assert (len(own.train), len(own.test), own.method) == (500, 100, "own")
    forced = training.make_split(with_own, training.TrainingConfig(test_set="holdout", test_fraction=0.2))
    assert (len(forced.train), len(forced.test)) == (400, 100)
    with pytest.raises(DataError, match="no test set of its own"):
        training.make_split(small_dataset, training.TrainingConfig(test_set="own"))


def test_a_test_image_that_copies_a_training_image_is_no_test_image(small_dataset):
    """A CSV that holds a row twice put a picture on both sides of the split: its score was no test score."""
    twice = np.concatenate([np.arange(600), np.arange(100)])  # the first 100 rows twice
    doubled = small_dataset.subset(twice, "doubled")
    split = training.make_split(doubled, training.TrainingConfig(test_fraction=0.25))
    assert len(split.train) == 525 and not np.isin(split.test.image_digests, split.train.image_digests).any()
    naive = data.split_dataset(doubled, 0.25, training.TrainingConfig.seed)[1]
    assert len(split.test) < len(naive) == 175  # the copies the plain split put in the test part are left out
    with_own = type(small_dataset)(small_dataset.images, small_dataset.labels, "x", small_dataset.subset(slice(0, 9)))
    with pytest.raises(DataError, match="x: each of its 9 test images is also one of its training images: none is "
                                        "left to test on"):
        training.make_split(with_own, training.TrainingConfig())


def test_training_learns_and_reports_every_batch_and_epoch(tiny_result):
    result, events = tiny_result
    fit = [e for e in events if e.stage != "step"]
    batches = fit[0].batches
    # 402 training images, 40 of them held out to validate: ceil(362 / 16), batches of 32 halved to fit so short a run
    assert result.validation_size == 40 and batches == 23
    assert [e.stage for e in fit].count("epoch") == 2
    assert [e.stage for e in fit].count("batch") == 2 * batches
    fractions = [e.fraction_done for e in events]
    assert fractions == sorted(fractions) and 0 < fit[-1].fraction_done < fractions[-1] < 1  # steps still to come
    assert fit[-1].loss < fit[0].loss

    # Two epochs on 362 digits: far from perfect, far better than chance (10%).
    assert result.test_evaluation.accuracy > 0.6
    assert result.test_evaluation.confusion_matrix.sum() == len(result.split.test) == 198
    assert result.history["loss"][1] < result.history["loss"][0]
    assert 0 < result.training_seconds < 120


def test_every_step_before_the_first_batch_and_after_the_last_is_named_in_order(tiny_result):
    _, events = tiny_result
    steps = [(e.step, e.step_number, e.steps) for e in events if e.stage == "step"]
    after = training.STEPS_AFTER_LEARNING
    assert steps == [(training.PREPARING, 0, len(after))] + [(name, number, len(after))
                                                               for number, name in enumerate(after, 1)]
    assert events[0].stage == "step" and events[-1].step == training.SCORING_TEST  # nothing goes unnamed
    last_batch = max(i for i, e in enumerate(events) if e.stage != "step")
    assert all(e.stage == "step" for e in events[last_batch + 1:])
    assert all(e.seconds_left is not None for e in events[last_batch + 1:])  # the time left of the steps too


def test_the_time_left_waits_for_the_pace_after_the_first_batch_then_falls():
    """The first batch also traces the network: a pace counted from the start once said "about 412 s left"."""
    events, clock = [], [0.0]
    relay = progress.ProgressRelay(epochs=2, batches=10, on_progress=events.append,
                                   steps_after=("scoring",), after_units=5)
    progress.time.perf_counter, real = (lambda: clock[0]), progress.time.perf_counter
    try:
        relay.started = 0.0
        for batch in range(10):
            clock[0] = 10.0 if batch == 0 else 10.0 + batch  # a slow first batch, then a second a batch
            relay.batch_end(batch)
        relay.step("scoring")
    finally:
        progress.time.perf_counter = real
    left = [e.seconds_left for e in events]
    assert left[:training.PACE_AFTER_BATCHES] == [None] * training.PACE_AFTER_BATCHES  # estimating, no guess
    assert left[training.PACE_AFTER_BATCHES] == pytest.approx(1.0 * (20 - 6 + 5))  # the steady pace, steps included
    assert left[9] == pytest.approx(10 + 5) and left[10] == pytest.approx(5)  # the scoring step: its own share
    assert events[-1].step == "scoring" and events[-1].fraction_done == pytest.approx(20 / 25)


def test_validation_is_held_out_of_the_training_part_never_the_test_images(small_dataset):
    config = training.TrainingConfig(architecture="article", epochs=1)
    split = training.make_split(small_dataset, config)
    learning, validation = training.validation_split(split.train, config)
    assert len(validation) == round(training.VALIDATION_SHARE * len(split.train))
    assert len(learning) + len(validation) == len(split.train)
    rows = {row.tobytes() for row in split.train.images}
    assert {row.tobytes() for row in validation.images} <= rows
    assert not {row.tobytes() for row in validation.images} & {row.tobytes() for row in learning.images}
    assert training.validation_split(split.train, training.TrainingConfig(validate_each_epoch=False)) == (
        split.train, None)


def test_each_epoch_carries_its_validation_scores_quick_runs_included(tiny_result, embedded):
    result, events = tiny_result
    epochs = [e for e in events if e.stage == "epoch"]
    assert [e.validation_accuracy for e in epochs] == pytest.approx(result.history["val_accuracy"])
    assert all(0 < e.validation_loss for e in epochs)
    assert training.quick_settings("compact", training.train_size(embedded, training.TrainingConfig())
                                   )["validate_each_epoch"] is True


def test_cancelling_stops_after_the_current_batch(small_dataset, cancel_at_second_batch):
    cancel, on_progress, seen = cancel_at_second_batch
    with pytest.raises(TrainingCancelled):
        training.train(small_dataset, training.TrainingConfig(architecture="article", epochs=5),
                       on_progress=on_progress, cancel=cancel)
    assert max(p.epoch for p in seen) == 1
    assert len([p for p in seen if p.stage == "batch"]) <= 3


def test_default_architecture_trains_with_augmentation(small_dataset):
    settings = training.TrainingConfig(epochs=1, batch_size=64, augment=True, validate_each_epoch=False)
    result = training.train(small_dataset, settings)
    assert result.model.name == settings.architecture
    assert "val_loss" not in result.history
    np.testing.assert_allclose(result.test_evaluation.probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_a_model_trained_to_read_with_three_pens_is_scored_so(small_dataset):
    from digitcnn.reading.inference import THREE_PENS, predict_probabilities, predict_with_features

    assert training.TrainingConfig().reading == "plain"
    settings = training.TrainingConfig(architecture="article", epochs=1, batch_size=32, reading=THREE_PENS,
                                       validate_each_epoch=False)
    result = training.train(small_dataset, settings)
    test = result.split.test
    read = predict_probabilities(result.model, test.images, reading=THREE_PENS)
    np.testing.assert_allclose(result.test_evaluation.probabilities, read, atol=1e-5)
    # The training read them through its own twin of the network: the same figures to a few units of the last
    # digits, and a picture on the edge of a decision (the one whose score the refusal threshold is) may change sides.
    one_picture = 1 / len(test) + 1e-9
    assert result.test_evaluation.accuracy == pytest.approx((read.argmax(axis=1) == test.labels).mean(),
                                                            abs=one_picture)
    train_read = predict_probabilities(result.model, result.split.train.images, reading=THREE_PENS)
    assert result.train_evaluation.accuracy == pytest.approx(
        (train_read.argmax(axis=1) == result.split.train.labels).mean(), abs=1 / len(result.split.train) + 1e-9)
    # Its refusal rule scores the pens' probabilities with the likeness of the pictures as drawn, and refuses
    # at most 1% of the test digits so read (fitted a little below, a margin for such differences).
    scores = result.refusal.scores(*predict_with_features(result.model, test.images, reading=THREE_PENS))
    refused = (scores < result.refusal.threshold).mean()
    assert refused == pytest.approx(result.refusal.test_refused, abs=one_picture) and refused <= 0.01


def test_weight_averaging_follows_the_recipe_and_can_be_set(small_dataset):
    assert training.TrainingConfig(architecture="article").ema_momentum == 0.0  # the tutorial's plain Adam
    settings = training.TrainingConfig(architecture="article", epochs=1, ema_momentum=0.9, validate_each_epoch=False,
                                       fit_to_run=False)  # fitted, so short a run would average over too few steps
    result = training.train(small_dataset.subset(slice(0, 200)), settings)
    assert result.config.ema_momentum == 0.9
    optimizer = architectures.build("article", ema_momentum=result.config.ema_momentum).optimizer  # as the run built it
    assert optimizer.use_ema and optimizer.ema_momentum == 0.9
    with pytest.raises(SettingsError, match="weight-averaging momentum"):
        training.TrainingConfig(ema_momentum=1.0)


def test_label_smoothing_follows_the_recipe_and_can_be_set(small_dataset):
    assert training.TrainingConfig(architecture="article").label_smoothing == 0.0  # the tutorial's plain loss
    assert training.TrainingConfig().label_smoothing == architectures.get_architecture("compact").recipe.label_smoothing
    settings = training.TrainingConfig(architecture="article", epochs=1, label_smoothing=0.2, validate_each_epoch=True)
    result = training.train(small_dataset.subset(slice(0, 400)), settings)  # 268 training digits: 27 validate
    assert result.config.label_smoothing == 0.2
    assert architectures.build("article", label_smoothing=0.2).loss.get_config()["label_smoothing"] == 0.2
    low, high = calibration.TEMPERATURE_BOUNDS
    assert result.temperature != 1.0 and low <= result.temperature <= high  # calibrated after smoothing
    images = small_dataset.images[:5, ..., None] / 255.0
    np.testing.assert_allclose(np.asarray(result.model(images, training=False)).sum(axis=1), 1.0, rtol=1e-5)
    assert 0 <= result.history["val_accuracy"][-1] <= 1  # validation labels take the same one-hot form
    for wrong in (1.0, -0.1, "0.1"):
        with pytest.raises(SettingsError, match="label smoothing"):
            training.TrainingConfig(label_smoothing=wrong)


def test_generated_non_digits_join_the_training_images_as_the_recipe_says(small_dataset):
    assert training.TrainingConfig(architecture="article").non_digit_share == 0.0
    assert training.TrainingConfig().non_digit_share == architectures.get_architecture("compact").recipe.non_digit_share > 0
    events = []
    settings = training.TrainingConfig(architecture="article", epochs=1, batch_size=50, non_digit_share=0.5,
                                       validate_each_epoch=False, fit_to_run=False)
    result = training.train(small_dataset.subset(slice(0, 200)), settings, on_progress=events.append)
    digits = len(result.split.train)  # 134: two thirds of the 200, as the tutorial holds out a third
    assert events[-1].batches == -(-(digits + round(0.5 * digits)) // 50)  # half as many non-digits join them
    assert result.train_evaluation.probabilities.shape == (digits, 10)  # scored on the digits alone
    assert result.refusal is not None and result.refusal.test_refused <= 0.01
    for wrong in (-0.1, 1.5, "half"):
        with pytest.raises(SettingsError, match="share of non-digits"):
            training.TrainingConfig(non_digit_share=wrong)


def test_stroke_width_augmentation_thickens_and_thins_but_keeps_the_digit_in_place(small_dataset):
    import tensorflow as tf

    images = tf.constant(small_dataset.images[:200, ..., None] / 255.0, tf.float32)
    varied = augmentation.vary_stroke_width(images).numpy()
    ink_before, ink_after = images.numpy().sum(axis=(1, 2, 3)), varied.sum(axis=(1, 2, 3))
    assert (ink_after > ink_before * 1.05).any() and (ink_after < ink_before * 0.95).any()
    assert varied.min() >= 0 and varied.max() <= 1
    rows = np.arange(28)[None, :, None, None]
    center = lambda batch: (batch * rows).sum(axis=(1, 2, 3)) / batch.sum(axis=(1, 2, 3))  # noqa: E731
    np.testing.assert_allclose(center(varied), center(images.numpy()), atol=1.0)


def test_coarse_scans_make_some_digits_blocky_and_bold_and_leave_them_in_place(small_dataset):
    import tensorflow as tf

    images = tf.constant(small_dataset.images[:400, ..., None] / 255.0, tf.float32)
    scanned = augmentation._some_scanned(images, tf.constant([0, 1], tf.int64)).numpy()
    changed = np.abs(scanned - images.numpy()).max(axis=(1, 2, 3)) > 0
    share = round(augmentation.COARSE_SHARE * len(images))  # the first of a shuffled batch: any of them
    assert changed[:share].all() and not changed[share:].any()
    assert scanned.min() >= 0 and scanned.max() <= 1
    solid = lambda batch: (batch > 0.5).sum(axis=(1, 2, 3))  # noqa: E731
    assert np.median(solid(scanned[changed]) / solid(images.numpy()[changed])) > 1.1  # bolder strokes
    rows = np.arange(28)[None, :, None, None]
    center = lambda batch: (batch * rows).sum(axis=(1, 2, 3)) / batch.sum(axis=(1, 2, 3))  # noqa: E731
    np.testing.assert_allclose(center(scanned), center(images.numpy()), atol=1.5)  # a grid cell is 2–3.5 px


def test_the_digit_likeness_sees_digits_through_every_grid_not_one(small_dataset):
    """The digits the digit-likeness learns from are scanned an equal part through each grid of COARSE_GRID (one
    scan of them all would take one grid, drawn at random). With one ink cut, a scan is deterministic: each part
    equals its own grid's scan, and another grid's differs."""
    images = (small_dataset.images[:60, ..., None] / 255.0).astype(np.float32)
    cut = (0.2, 0.2)
    scanned = augmentation.scanned_through_every_grid(images, cut)
    sides = list(range(augmentation.COARSE_GRID[0], augmentation.COARSE_GRID[1] + 1))
    parts = np.array_split(np.arange(len(images)), len(sides))
    assert scanned.shape == images.shape and len(sides) > 1
    for side, part in zip(sides, parts):
        np.testing.assert_allclose(scanned[part], augmentation._coarse_scan(images[part], side, 0.2).numpy())
        other = sides[-1] if side != sides[-1] else sides[0]
        assert np.abs(scanned[part] - augmentation._coarse_scan(images[part], other, 0.2).numpy()).max() > 0.1


def test_a_network_that_learned_scans_gets_a_digit_likeness_of_more_digits_more_of_them_scanned():
    """On full-size data the digit-likeness of a network trained with coarse scans learns from more digits, more of
    them scanned, than one trained without (a quick run); a small run's learns from half its digits either way, and
    from as many non-digits, never more than LIKENESS_NON_DIGITS."""
    full = data.Dataset(np.zeros((60_000, 28, 28), np.uint8), np.arange(60_000) % 10, "60,000 digits")
    scanned, unscanned = training.likeness_recipe(True), training.likeness_recipe(False)
    assert scanned.digits > unscanned.digits and scanned.coarse_share > unscanned.coarse_share
    for learned_scans, recipe in ((True, scanned), (False, unscanned)):
        sample, order = training.likeness_sample(full, 0, learned_scans=learned_scans)
        assert len(sample.images) == recipe.digits
        assert order["count"] == min(recipe.digits, training.LIKENESS_NON_DIGITS)
        small = full.subset(np.arange(1_000))
        sample, order = training.likeness_sample(small, 0, learned_scans=learned_scans)
        assert len(sample.images) == order["count"] == 500


def test_wider_hands_stretch_narrow_digits_sideways_never_beyond_their_height(small_dataset):
    import tensorflow as tf

    images = np.concatenate([small_dataset.images[:300] / 255.0, np.zeros((1, 28, 28))])[..., None]  # and a blank
    widened = augmentation._widened(tf.constant(images, tf.float32), share=1.0).numpy()
    inked = lambda batch, axis: (batch.max(axis=(axis, 3)) > 0.5).sum(axis=1)  # noqa: E731 - columns or rows
    columns_before, columns_after = inked(images, 1), inked(widened, 1)
    rows_before, rows_after = inked(images, 2), inked(widened, 2)
    narrow = columns_before < 0.6 * rows_before  # a 1, a slim 7: room to widen
    assert narrow.sum() > 20 and np.median(columns_after[narrow] / columns_before[narrow]) > 1.3
    upright = columns_before <= rows_before
    assert (columns_after[upright] <= rows_after[upright] + 2).all()  # never wider than tall (give or take a pixel)
    np.testing.assert_allclose(widened[~upright], images[~upright], atol=1e-6)  # those wider already stay so
    assert np.abs(rows_after - rows_before).max() <= 1  # the height MNIST's layout fixes stays (stretched, a
    # slanted stroke's faint end may drop under the cut)
    assert widened.min() >= 0 and widened.max() <= 1
    assert not widened[-1].any()  # a blank stays blank

    all_600 = small_dataset.images[..., None] / 255.0
    some = augmentation._widened(tf.constant(all_600, tf.float32)).numpy()  # the recipe's share of them
    changed = np.abs(some - all_600).max(axis=(1, 2, 3)) > 1e-3
    narrow = inked(all_600, 1) < 0.6 * inked(all_600, 2)
    assert 0.5 * augmentation.WIDE_SHARE < changed[narrow].mean() < 1.5 * augmentation.WIDE_SHARE


def test_a_run_too_short_to_learn_is_told_the_epochs_it_needs():
    warning = training.short_run_warning(training.TrainingConfig(epochs=1), 100)  # compact: 7 steps of 16
    assert warning.startswith("A run of 7 training steps (1 epoch of 100 digits in batches of 16) learns little: "
                              f"compact needs about {architectures.get_architecture('compact').learning_steps} steps")
    assert "at least 6 epochs, or more images." in warning
    assert training.short_run_warning(training.TrainingConfig(epochs=6), 100) is None  # 6 × 7 steps is enough
    assert training.short_run_warning(training.TrainingConfig(architecture="article", epochs=1), 100) is not None
    assert training.short_run_warning(training.TrainingConfig(architecture="article", epochs=2), 100) is None
    unfitted = training.TrainingConfig(epochs=1, batch_size=512, fit_to_run=False)  # 3 steps: smaller batches help
    assert "at least 14 epochs, more images or smaller batches." in training.short_run_warning(unfitted, 1000)
    assert training.short_run_warning(training.TrainingConfig(**training.quick_settings("compact", 3350)), 3350) is None


def test_batch_normalization_ends_with_the_statistics_of_the_final_weights(small_dataset):
    import keras

    from digitcnn.reading.inference import as_network_input

    settings = training.TrainingConfig(epochs=1, train_limit=100, validate_each_epoch=False)  # 7 steps
    result = training.train(small_dataset, settings)
    first_convolution, first_normalization = result.model.layers[0], result.model.layers[1]
    assert isinstance(first_normalization, keras.layers.BatchNormalization)
    outputs = np.asarray(first_convolution(as_network_input(result.split.train.images)))
    # After 7 steps at momentum 0.9, a moving average would still be half its start (0); settled, it is the mean
    np.testing.assert_allclose(first_normalization.moving_mean.numpy(), outputs.mean(axis=(0, 1, 2)), rtol=0.02,
                               atol=1e-4)
    assert first_normalization.momentum == 0.9  # left as it was, for any training after this
    # Above chance (10%), where such a run stayed before. Seven steps on threads learn a little differently each
    # run: 17-28% measured in five runs, so the bound sits between chance and the least of them.
    assert result.test_evaluation.accuracy > 0.13


@pytest.mark.parametrize("size", [5000, 600, 101, 37])
def test_the_training_size_is_counted_as_the_split_chooses_it(embedded, size):
    dataset = embedded.subset(slice(0, size))
    own_test = data.Dataset(np.roll(embedded.images[4000:4100], 1, axis=2), embedded.labels[4000:4100], "own test")
    with_own = data.Dataset(dataset.images, dataset.labels, "with own", test=own_test)  # pictures none of its own
    for source, settings in [(dataset, {}), (dataset, dict(test_fraction=0.25, stratify=size >= 101)),
                             (dataset, dict(test_fraction=0.05, train_limit=30)), (with_own, {}),
                             (with_own, dict(train_limit=size // 3)), (with_own, dict(test_set="holdout"))]:
        config = training.TrainingConfig(**settings)
        assert training.train_size(source, config) == len(training.make_split(source, config).train), settings


@pytest.mark.parametrize("images, recipe_batch, batch_size",
                         [(1000, None, 16), (1500, None, 32), (3350, None, 64), (60000, None, 128), (40, None, 16),
                          (134, 50, 16), (134, 8, 8)])
def test_a_short_run_gets_smaller_batches_and_shorter_averaging(images, recipe_batch, batch_size):
    fitted = training.fitted_to_run(training.TrainingConfig(epochs=2, batch_size=recipe_batch), images)
    assert fitted.batch_size == batch_size
    steps = 2 * -(-round(images * 1.1) // batch_size)
    if fitted.ema_momentum:  # averaging over at most a tenth of the run's steps
        assert 1 / (1 - fitted.ema_momentum) <= 0.1 * steps + 1e-6 and fitted.ema_momentum >= 0.9
    assert training.fitted_to_run(fitted, images) == fitted  # fitting twice changes nothing more


def test_full_mnist_runs_and_runs_told_not_to_fit_keep_their_recipe():
    recipe = training.TrainingConfig()
    assert training.fitted_to_run(recipe, 60_000) == recipe  # the shipped model's recipe, unchanged
    as_is = training.TrainingConfig(epochs=1, fit_to_run=False)
    assert training.fitted_to_run(as_is, 500) == as_is


def test_two_epochs_of_the_default_on_1500_digits_learn(embedded):
    """Issue 14's target: the recipe made for 60,000 digits scored 9.8% here (chance) before it fitted the run."""
    result = training.train(embedded, training.TrainingConfig(epochs=2, train_limit=1500, validate_each_epoch=False))
    assert result.config.batch_size == 32 and result.config.ema_momentum < 0.99
    assert result.test_evaluation.accuracy >= 0.90


@pytest.mark.parametrize("train_size, epochs, limit", [(3350, 3, None), (60000, 1, 33000), (33000, 1, None),
                                                       (33001, 1, 33000), (500, 13, None), (10000, 1, None),
                                                       (9999, 2, None), (2000, 5, None), (1999, 6, None),
                                                       (0, 13, None)])
def test_a_quick_run_shows_the_network_about_ten_thousand_images_within_the_recipe(train_size, epochs, limit):
    """…augmented only beyond 5 passes, and on big data one epoch of at most 33,000 of its digits, in batches of 64 at
    twice the learning rate."""
    recipe = architectures.ARCHITECTURES["compact"].recipe
    big = limit is not None
    assert training.quick_settings("compact", train_size) == dict(
        epochs=epochs, train_limit=limit, augment=epochs > 5, validate_each_epoch=True,  # a validation curve too
        batch_size=64 if big else recipe.batch_size, learning_rate=2 * recipe.learning_rate if big else recipe.learning_rate)
    assert training.quick_settings("article", train_size)["augment"] is False  # its recipe has none
    assert training.quick_settings("article", train_size)["batch_size"] == 32  # never larger than its recipe's


def test_the_full_recipes_settings_are_the_recipe_on_all_digits_scored_each_epoch():
    recipe = architectures.ARCHITECTURES["article"].recipe
    assert training.recipe_settings("article") == dict(epochs=recipe.epochs, train_limit=None, augment=recipe.augment,
                                                       batch_size=recipe.batch_size, learning_rate=recipe.learning_rate,
                                                       validate_each_epoch=True)


def test_the_mistakes_say_how_sure_the_model_was_as_the_draw_page_would_read_them(tiny_result):
    """One number for how sure a reading is: a test image's, beside its mistake, is the score the draw page's
    reading of that image shows (its probability × how much it looks like a digit), not its probability alone."""
    from digitcnn.reading.inference import Predictor

    result = tiny_result[0]
    evaluation, images = result.test_evaluation, result.split.test.images
    predictor = Predictor(result.model, result.refusal, result.config.reading)
    shown = evaluation.mistakes()[:5]
    assert len(shown) and result.refusal.likeness is not None
    for index in shown:
        assert evaluation.confidences[index] == pytest.approx(predictor.read(images[index]).score, abs=1e-5)
    top = evaluation.probabilities.max(axis=1)
    assert (evaluation.confidences <= top).all() and (evaluation.confidences < top).any()  # the likeness counts


def test_a_seed_gives_the_same_network_twice_and_another_seed_another(small_dataset):
    """Augmented, with weight averaging and non-digits, on parallel pipelines: the same seed gives the same weights."""
    settings = training.TrainingConfig(epochs=1, train_limit=200, validate_each_epoch=False)
    first, again = (training.train(small_dataset, settings).model.get_weights() for _ in range(2))
    other = training.train(small_dataset, dataclasses.replace(settings, seed=43)).model.get_weights()
    for mine, same in zip(first, again):
        np.testing.assert_array_equal(mine, same)
    assert any(not np.array_equal(mine, theirs) for mine, theirs in zip(first, other))


def test_a_network_trained_in_bfloat16_is_saved_and_read_in_float32(small_dataset, tmp_path):
    """In bfloat16 (Keras's mixed precision: on a processor without it, emulated) the network that is scored and
    saved computes in float32, its file loads in plain Keras and reads as the trained network does; the run records
    the arithmetic it took, and "auto" takes one of the two."""
    import keras

    settings = training.TrainingConfig(epochs=1, train_limit=150, validate_each_epoch=False, precision="bfloat16")
    result = training.train(small_dataset, settings)
    assert result.config.precision == "bfloat16"
    assert {layer.dtype_policy.name for layer in result.model.layers} == {"float32"}
    architectures.portable_copy(result.model).save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    images = result.split.test.images[:50, ..., None] / 255.0
    np.testing.assert_allclose(loaded.predict(images, verbose=0), result.model.predict(images, verbose=0), atol=1e-6)
    assert result.test_evaluation.accuracy > 0.3  # it learned: chance is 10%
    chosen = training.train(small_dataset, dataclasses.replace(settings, precision="auto", train_limit=20)).config
    assert chosen.precision in ("float32", "bfloat16")


def test_a_network_built_for_bfloat16_computes_in_it_but_for_its_probabilities():
    model = architectures.build("compact", precision="bfloat16")
    assert {layer.dtype_policy.name for layer in model.layers[:-1]} == {"mixed_bfloat16"}
    assert model.layers[-1].dtype_policy.name == "float32"
    assert model(np.zeros((1, 28, 28, 1), np.float32)).dtype == "float32"
    assert {layer.dtype_policy.name for layer in architectures.portable_copy(model).layers} == {"float32"}
