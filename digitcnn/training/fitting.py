"""Training a network on a dataset and scoring it: :func:`train` (and :func:`train_to_send`, its form in a worker
process), the fit with its progress events and cancellation, then the steps after the learning: batch
normalization settled on the training digits, the calibration, the "not a digit" rule
(:mod:`digitcnn.training.likeness`) and the scores on the test images. :func:`scores_read_as` measures the scores
of a trained model again.

    result = train(load_dataset("embedded"), TrainingConfig(architecture="article", epochs=10),
                   on_progress=print)
    result.test_evaluation.accuracy
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Callable

import numpy as np

from digitcnn.data import IMAGE_SIDE, Dataset
from digitcnn.data.seen import TrainingRecord
from digitcnn.errors import TrainingCancelled
from digitcnn.networks.calibration import apply_temperature, fit_temperature, rescale
from digitcnn.networks.evaluation import Evaluation, evaluate
from digitcnn.reading.inference import PLAIN, predict_probabilities, predict_with_features
from digitcnn.reading.refusal import DigitLikeness, RefusalRule
from digitcnn.training.likeness import fit_digit_likeness, likeness_sample, refusal_on_test_digits
from digitcnn.training.pipelines import EVALUATION_BATCH_SIZE, network_dataset, training_dataset
from digitcnn.training.progress import (CALIBRATING, FITTING_REFUSAL, HANDING_OVER, PREPARING, READ_COST, SCORING_TEST,
                                        SETTLING, STEPS_AFTER_LEARNING, Progress, ProgressRelay,
                                        images_read_after_learning)
from digitcnn.training.recipes import TrainingConfig, fitted_to_run
from digitcnn.training.splits import Split, make_split, train_score_sample, validation_split

WARM_UP_IMAGES = 300  # what warm_up trains on: enough for a validation share and a refusal rule to be fitted


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """A trained model with its settings, its split, its history and its scores. ``temperature``
    is the one its logits were divided by after training (1: left as trained; see
    :mod:`digitcnn.networks.calibration`); the scores are the calibrated model's. ``refusal`` is its rule for
    saying "not a digit", fitted to its test digits (see :mod:`digitcnn.reading.refusal`)."""

    model: object
    config: TrainingConfig
    split: Split
    history: dict[str, list[float]] = field(repr=False)
    train_evaluation: Evaluation = field(repr=False)  # on at most TRAIN_SCORE_SAMPLE training digits
    test_evaluation: Evaluation = field(repr=False)
    training_seconds: float
    temperature: float = 1.0
    refusal: RefusalRule | None = None
    validation_size: int = 0  # of the split's training images, held out of the fit to validate after each epoch

    @cached_property  # its card and its save both ask: hashed once
    def trained_on(self) -> TrainingRecord:
        """The record of the images the model was fitted on (see :mod:`digitcnn.data.seen`): its split's training
        digits, those held out to validate included, since the steps after the learning (batch normalization's
        statistics, calibration, the "not a digit" rule) read a sample of all of them. The generated non-digits
        are left out: no dataset holds them."""
        return TrainingRecord.of(self.split.train)


def train(
    dataset: Dataset,
    config: TrainingConfig = TrainingConfig(),
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> TrainingResult:
    """Train a new network on ``dataset`` and score it.

    ``on_progress`` receives a :class:`Progress` after every batch and epoch, and as each step before the first
    batch and after the last begins (:data:`PREPARING`, then :data:`STEPS_AFTER_LEARNING`). Setting ``cancel``
    stops training after the current batch and raises :class:`TrainingCancelled`.
    """
    return _train(dataset, config, on_progress, cancel)[0]


def _train(dataset: Dataset, config: TrainingConfig, on_progress, cancel, then: tuple[str, ...] = ()
           ) -> tuple[TrainingResult, ProgressRelay]:
    """:func:`train`, and the relay of its progress, whose steps after the learning end with ``then``: the steps
    its caller takes next (:func:`train_to_send`'s handing over), counted in its estimates."""
    from digitcnn.data.nondigits_process import generate_elsewhere
    from digitcnn.runtime import apply_thread_setting, training_precision

    apply_thread_setting()
    split = make_split(dataset, config)
    config = replace(fitted_to_run(config, len(split.train)), precision=training_precision(config.precision))
    learning, validation = validation_split(split.train, config)
    train_sample = train_score_sample(split.train, config.seed)
    likeness_digits, non_digit_order = likeness_sample(split.train, config.seed, learned_scans=config.augment)
    learned = len(learning) + _non_digit_count(learning, config)
    relay = ProgressRelay(config.epochs, math.ceil(learned / config.batch_size), on_progress,
                          STEPS_AFTER_LEARNING + then,
                          images_read_after_learning(len(train_sample), len(likeness_digits), len(split.test),
                                                     config.reading) * READ_COST / config.batch_size)
    relay.step(PREPARING)
    # The non-digits the refusal rule's digit-likeness learns from are drawn on a core of their own while the
    # network trains: drawn after it, they took about 5 s of a quick run on full MNIST.
    likeness_non_digits = generate_elsewhere(**non_digit_order)
    model, history, training_seconds = _fit(learning, validation, config, relay, cancel)
    relay.step(SETTLING)
    _settle_batch_normalization(model, train_sample)
    relay.step(CALIBRATING)
    temperature, train_evaluation = _calibrate(model, train_sample, config)
    relay.step(FITTING_REFUSAL)
    likeness = fit_digit_likeness(model, split.train, config.seed, likeness_non_digits.result(),
                                  learned_scans=config.augment)
    relay.step(SCORING_TEST)
    refusal, test_evaluation = refusal_on_test_digits(model, split.test, likeness, config.reading)
    result = TrainingResult(
        model=model,
        config=config,
        split=split,
        history=history,
        train_evaluation=train_evaluation,
        test_evaluation=test_evaluation,
        training_seconds=training_seconds,
        temperature=temperature,
        refusal=refusal,
        validation_size=0 if validation is None else len(validation),
    )
    return result, relay


def train_to_send(dataset: Dataset, config: TrainingConfig, on_progress=None, cancel=None) -> TrainingResult:
    """:func:`train` in a worker, its result ready to cross to the caller (:data:`HANDING_OVER`, its last step): the
    model as its :class:`~digitcnn.networks.architectures.ModelArchive`, which the caller, the app's server say, holds and saves
    without importing Keras; without the split (``split`` None): the split's images are the caller's own dataset,
    47 MB of them for full MNIST, which :func:`received` chooses again there."""
    from digitcnn.networks.architectures import ModelArchive

    result, relay = _train(dataset, config, on_progress, cancel, then=(HANDING_OVER,))
    relay.step(HANDING_OVER)
    return replace(result, model=ModelArchive.of(result.model), split=None)


def warm_up() -> None:
    """Train once on :data:`WARM_UP_IMAGES` random pictures, through every step a training takes, and forget it:
    what a process does the first time (TensorFlow loading its kernels, Keras the code that traces, scores and
    saves) then costs nothing to the first training asked of it. An app's worker does it before it says it is
    ready. Measured in one process on 2 busy cores: the embedded sample's quick run took 21.9 s first and 12.0 s
    next (its steps before the first batch 10.9 s, then 2.0 s); after this, which took 6.4 s, 1.9 s."""
    rng = np.random.default_rng(0)
    pictures = Dataset(rng.integers(0, 256, (WARM_UP_IMAGES, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8),
                       rng.integers(0, 10, WARM_UP_IMAGES), "warm-up")
    train_to_send(pictures, TrainingConfig(epochs=1))


def received(result: TrainingResult, dataset: Dataset) -> TrainingResult:
    """A result from :func:`train_to_send` with its split chosen again from ``dataset``, as the run chose it
    (:func:`make_split` depends on the dataset and the run's settings alone)."""
    return replace(result, split=make_split(dataset, result.config))


def _fit(learning: Dataset, validation: Dataset | None, config: TrainingConfig, relay: ProgressRelay, cancel
         ) -> tuple[object, dict[str, list[float]], float]:
    """A new network fitted to the digits of ``learning`` (and the run's generated non-digits), scored on
    ``validation`` after each epoch, with its history per epoch and the seconds the fitting took. Raises
    :class:`TrainingCancelled` once ``cancel`` is set."""
    import keras

    from digitcnn.networks.architectures import build, learning_rate_schedule, portable_copy
    from digitcnn.runtime import distribution_strategy

    keras.utils.set_random_seed(config.seed)
    images, labels = _with_non_digits(learning, config)
    with distribution_strategy().scope():
        model = build(config.architecture,
                      learning_rate_schedule(config.learning_rate, config.schedule, config.epochs * relay.batches),
                      config.ema_momentum, config.label_smoothing, config.precision)

    def after_batch(batch, logs=None):
        if cancel is not None and cancel.is_set():
            model.stop_training = True
        relay.batch_end(batch, logs)

    callbacks = [
        keras.callbacks.LambdaCallback(
            on_epoch_begin=relay.epoch_begin, on_train_batch_end=after_batch, on_epoch_end=relay.epoch_end
        )
    ]
    started = time.perf_counter()
    history = model.fit(
        training_dataset(images, labels, config),
        epochs=config.epochs,
        validation_data=None if validation is None else network_dataset(validation, EVALUATION_BATCH_SIZE),
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles, with the run's seed
        verbose=0,
    )
    training_seconds = time.perf_counter() - started
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training was cancelled; nothing was saved")
    # What is scored, calibrated and saved from here on is the network as it reads everywhere: float32, of Keras's
    # own layers (a network trained in bfloat16 reads a few test digits differently in float32).
    history = {key: [float(value) for value in values] for key, values in history.history.items()}
    return portable_copy(model), history, training_seconds


def _settle_batch_normalization(model, train_sample: Dataset) -> None:
    """Give each batch normalization of ``model`` the statistics its final weights produce on the training digits
    (``train_sample``: :func:`train_score_sample`'s, each batch of them counted equally). Training leaves it a moving
    average of the steps' batches, momentum 0.9: after a short run much of it is still the starting mean 0 and
    variance 1 (after 7 steps, half), and the network reads every picture as one digit; and weight averaging swaps
    in, at the end, averaged weights those batches never saw. Measured (2026-11-26, compact): on the embedded
    sample, 100 digits for 1 epoch (7 steps) scored 10.5% before and 34.2% after, 3 epochs 21.5% and 56.6%, 400
    digits for 1 epoch 23.0% and 60.0%, 600 digits 77.6% and 80.0%; on the shipped model, MNIST's test read plain
    99.42% and 99.52%, with three pens 99.60% and 99.62%."""
    from keras import layers

    from digitcnn.reading.inference import as_network_input

    normalizations = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    if not normalizations:
        return
    inputs = as_network_input(train_sample.images)
    momenta = [layer.momentum for layer in normalizations]
    for count, start in enumerate(range(0, len(inputs), EVALUATION_BATCH_SIZE), 1):
        for layer in normalizations:
            layer.momentum = (count - 1) / count  # the k-th batch weighs 1/k: all batches count the same
        model(inputs[start:start + EVALUATION_BATCH_SIZE], training=True)  # updates the statistics, not the weights
    for layer, momentum in zip(normalizations, momenta):
        layer.momentum = momentum


def _calibrate(model, train_sample: Dataset, config: TrainingConfig) -> tuple[float, Evaluation]:
    """The temperature ``model``'s logits are now divided by (1: none; see :mod:`digitcnn.networks.calibration`) and its
    scores on the training digits (read as ``config.reading`` says), both measured on ``train_sample`` (at most
    :data:`TRAIN_SCORE_SAMPLE` of them: :func:`train_score_sample`)."""
    # Through the same two-output twin that the refusal rule's fit then reads: Keras traces each model's
    # prediction once, and one trace fewer is about half a second of every training.
    probabilities = predict_with_features(model, train_sample.images, EVALUATION_BATCH_SIZE)[0]
    temperature = 1.0
    if config.label_smoothing:  # smoothing leaves the network underconfident by design; calibrate it
        temperature = fit_temperature(probabilities, train_sample.labels)
        apply_temperature(model, temperature)
        probabilities = rescale(probabilities, temperature)
    if config.reading != PLAIN:
        probabilities = predict_with_features(model, train_sample.images, EVALUATION_BATCH_SIZE, config.reading)[0]
    return temperature, evaluate(train_sample.labels, probabilities)


def scores_read_as(model, config: TrainingConfig, dataset: Dataset, likeness: DigitLikeness | None, *,
                   fit_likeness_again: bool = False) -> tuple[Evaluation, Evaluation, RefusalRule]:
    """A trained model's scores measured again, read as ``config.reading`` says, on the digits its training chose
    from ``dataset`` with ``config``: on its training digits (the same sample as :func:`train`'s), on its test
    digits, and its refusal rule with the digit-likeness it has (``likeness``; with ``fit_likeness_again``, one
    fitted as :func:`train` fits it) and a threshold fitted again."""
    split = make_split(dataset, config)
    train_sample = train_score_sample(split.train, config.seed)
    train_evaluation = evaluate_model(model, train_sample, config.reading)
    if fit_likeness_again:
        likeness = fit_digit_likeness(model, split.train, config.seed, learned_scans=config.augment)
    refusal, test_evaluation = refusal_on_test_digits(model, split.test, likeness, config.reading)
    return train_evaluation, test_evaluation, refusal


def evaluate_model(model, dataset: Dataset, reading: str = PLAIN) -> Evaluation:
    """Score ``model`` on every image of ``dataset``, read the ``reading`` way."""
    return evaluate(dataset.labels, predict_probabilities(model, dataset.images, EVALUATION_BATCH_SIZE, reading))


def _with_non_digits(train_set: Dataset, config: TrainingConfig) -> tuple[np.ndarray, np.ndarray]:
    """The training images and labels, with ``non_digit_share`` generated non-digits per digit added
    (labelled :data:`~digitcnn.data.NOT_A_DIGIT`)."""
    from digitcnn.data import nondigits
    from digitcnn.data import NOT_A_DIGIT

    count = _non_digit_count(train_set, config)
    if count == 0:
        return train_set.images, train_set.labels
    extra = nondigits.generate(count, seed=config.seed).images
    return (np.concatenate([train_set.images, extra]),
            np.concatenate([train_set.labels, np.full(count, NOT_A_DIGIT, dtype=train_set.labels.dtype)]))


def _non_digit_count(train_set: Dataset, config: TrainingConfig) -> int:
    return round(config.non_digit_share * len(train_set))
