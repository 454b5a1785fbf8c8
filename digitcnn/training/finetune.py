"""Teaching a saved model one writer's drawings without making it forget the digits it learned.

    result = fine_tune(model, card, drawings, load_dataset("mnist"), on_progress=print, writer="ana")
    if result.passed:
        save_model(result.model, ModelCard.from_fine_tune("default-ana", result))
    print(result.message)

The writer's drawings (labelled 28×28 images, a :class:`~digitcnn.data.Dataset`) are split per digit: part
of them (``personal_test_share``) is kept apart as the writer's own test set, the rest is taught. In
each epoch, each taught drawing comes with ``replay`` digits of the active data's *training* part, fresh ones
each epoch, drawn evenly over the ten digits (and, where the base model learned to be unsure of
non-digits, with as many generated non-digits per digit as it learned from), so that the network keeps
what it knew. The drawings are weighted so that every digit drawn counts the same, however many drawings
of it there are.

A fine-tune starts from a copy of the base model (the base model object is never changed), with its
temperature taken out of the last layer (see :mod:`digitcnn.networks.calibration`), learns with the base model's
own loss (its label smoothing), then gets a temperature again and a refusal rule fitted to the data's
test set, as a trained model does. Its scores before and after: on the writer's test drawings (all and
per digit) and on the data's test set, the source's own (MNIST's 10,000) or else the part the base
model's card held out; of those, only the digits the base model never trained on, as its record of them
says (:mod:`digitcnn.data.seen`). Where it trained on all of them (the shipped model, trained on full MNIST,
on the embedded sample), they are scored all the same, to see that nothing is forgotten, and the report
says they are no test. The fine-tuned model's record is the base model's, the taught drawings and the
replayed digits.

The gate: if the accuracy on the data's test set falls by more than ``max_accuracy_drop`` (0.1 points), the
result is marked not passed and :meth:`ModelCard.from_fine_tune <digitcnn.storage.registry.ModelCard.from_fine_tune>`
refuses to make its card, so it cannot be saved.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from digitcnn.data import Dataset
from digitcnn.data.writers import shown_writer
from digitcnn.errors import SettingsError, TrainingCancelled
from digitcnn.networks.evaluation import Evaluation, evaluate
from digitcnn.percentages import share_text
from digitcnn.reading.refusal import RefusalRule, fit_refusal
from digitcnn.data.seen import TrainingRecord, overlap
from digitcnn.training.augmentation import augmented
from digitcnn.training.drawings_rule import check_drawings, split_drawings
from digitcnn.training.finetune_config import FineTuneConfig
from digitcnn.training.likeness import LIKENESS_NON_DIGITS, fit_digit_likeness
from digitcnn.training.pipelines import EVALUATION_BATCH_SIZE, network_dataset, network_inputs
from digitcnn.training.progress import (FITTING_REFUSAL, HANDING_OVER, READ_COST, SCORING_TEST, Progress,
                                        ProgressRelay, images_read_after_learning)
from digitcnn.training.splits import make_split

# The steps of a fine-tune besides its batches (see digitcnn.training's), as a person sees them.
LOADING = "Loading the model"
SCORING_BEFORE = "Scoring the model before it learns"
CALIBRATING_TAUGHT = "Scoring and calibrating on the taught drawings"
STEPS_AFTER_TEACHING = (CALIBRATING_TAUGHT, SCORING_TEST, FITTING_REFUSAL)


@dataclass(frozen=True)
class FineTuneScores:
    """One model's scores in a fine-tune's report: on the writer's test drawings (NaN when none were kept
    apart), on the data's test set, and per digit on the writer's test drawings (NaN for a digit absent)."""

    personal_test_accuracy: float
    data_test_accuracy: float
    per_digit_accuracy: tuple[float, ...]

    def to_dict(self) -> dict:
        """JSON-ready, NaN written as None."""
        return {"personal_test_accuracy": _or_none(self.personal_test_accuracy),
                "data_test_accuracy": self.data_test_accuracy,
                "per_digit_accuracy": [_or_none(value) for value in self.per_digit_accuracy]}


@dataclass(frozen=True, eq=False)
class FineTuneResult:
    """A fine-tuned model with its before/after report and the gate's verdict (see the module's description).
    ``training_seconds`` is the time spent learning; ``seconds`` the whole fine-tune's, scoring included."""

    model: object
    base_name: str
    writer: str
    drawings_count: int
    personal_test_size: int
    before: FineTuneScores
    after: FineTuneScores
    data_test_evaluation: Evaluation = field(repr=False)
    passed: bool
    message: str
    training_seconds: float
    config: FineTuneConfig
    refusal: RefusalRule | None
    temperature: float
    base_card: object = field(repr=False, default=None)  # the base model's registry.ModelCard
    data_source: str = ""
    split_method: str = "own"  # where the data's test set came from: "own" or "holdout" (see training.Split)
    train_size: int = 0  # the images learned from: taught drawings, replayed digits (all epochs') and non-digits
    replayed: int = 0  # replayed digits of the data, all epochs' (non-digits not counted)
    train_accuracy: float = float("nan")  # on the taught drawings and the last epoch's replayed digits
    seconds: float = 0.0
    data_test_seen: int | None = 0  # how many of the data's test digits scored the base model trained on; None: unknown
    data_test_left_out: int = 0  # the data's test digits the base model trained on, left out as others remain
    trained_on: TrainingRecord | None = field(repr=False, default=None)  # None: the base model's is not known

    @property
    def taught(self) -> int:
        """How many drawings were taught (the rest were kept apart to test)."""
        return self.drawings_count - self.personal_test_size


def fine_tune(
    base_model,
    base_card,
    drawings: Dataset,
    data: Dataset,
    settings: FineTuneConfig = FineTuneConfig(),
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    writer: str = "me",
    base_record: TrainingRecord | None = None,
    hand_over: bool = False,
) -> FineTuneResult:
    """Teach a copy of ``base_model`` (whose card is ``base_card``, whose record of the images it trained on is
    ``base_record``: None when it has none) the writer's ``drawings``, replaying digits of ``data``, and score it
    before and after (see the module's description).

    ``on_progress`` receives a :class:`~digitcnn.training.Progress` after every batch and epoch (an
    epoch's ``validation_accuracy`` is on the writer's test drawings). Setting ``cancel`` stops after the
    current batch and raises :class:`TrainingCancelled`. Too few drawings raise :class:`SettingsError`.
    With ``hand_over``, the result's model is a :class:`~digitcnn.networks.architectures.ModelArchive`, ready to
    cross from a worker process to its caller (:data:`~digitcnn.training.HANDING_OVER` is then its last step;
    see :func:`digitcnn.jobs.teaching.fine_tune_saved_model`).
    """
    import keras

    from digitcnn.networks.calibration import fit_temperature
    from digitcnn.reading.inference import PLAIN, predict_probabilities
    from digitcnn.networks.architectures import ModelArchive
    from digitcnn.runtime import apply_thread_setting

    if not isinstance(settings, FineTuneConfig):
        raise SettingsError(f"settings must be a FineTuneConfig, got {type(settings).__name__}")
    writer = shown_writer(writer)  # as the model card and the message name it: a private writer's key never shows
    if not isinstance(drawings, Dataset):
        raise SettingsError(f"the drawings must be a Dataset, got {type(drawings).__name__}")
    check_drawings(drawings, settings.personal_test_share)
    apply_thread_setting()
    started = time.perf_counter()

    base_settings = base_card.training_config
    replay_pool, data_test, split_method = data_parts(data, base_card)
    data_test, test_seen, left_out = _unseen_test_part(data_test, base_card.name, base_record)
    taught, personal_test = split_drawings(drawings, settings.personal_test_share, settings.seed)
    rng = np.random.default_rng(settings.seed)
    replayed = _replayed(replay_pool, settings.replay * len(taught), settings.epochs, rng)
    epochs = _training_mix(taught, replayed, base_settings.non_digit_share, settings.seed, rng)
    reading = base_settings.reading  # the fine-tuned model reads as its base does (its card keeps the settings)
    learned_count = len(taught) + len(replayed[-1])
    read_after = images_read_after_learning(
        learned_count, min(LIKENESS_NON_DIGITS, learned_count // 2),
        len(data_test) + (0 if personal_test is None else len(personal_test)), reading)
    relay = ProgressRelay(settings.epochs, math.ceil(len(epochs[0][1]) / settings.batch_size), on_progress,
                          STEPS_AFTER_TEACHING + ((HANDING_OVER,) if hand_over else ()),
                          read_after * READ_COST / settings.batch_size)

    _check_cancel(cancel)
    relay.step(SCORING_BEFORE)
    before = _scores(base_model, personal_test, data_test, reading)
    _check_cancel(cancel)

    keras.utils.set_random_seed(settings.seed)
    model = _trainable_copy(base_model, base_card.temperature, settings, base_settings.label_smoothing)

    def after_batch(batch, logs=None):
        if cancel is not None and cancel.is_set():
            model.stop_training = True
        relay.batch_end(batch, logs)

    fit_started = time.perf_counter()
    model.fit(
        _pipeline(epochs, settings),
        epochs=settings.epochs,
        steps_per_epoch=relay.batches,  # one pass over each epoch's own mix (see _training_mix)
        validation_data=None if personal_test is None else _validation(personal_test),
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=relay.epoch_begin, on_train_batch_end=after_batch,
                                                  on_epoch_end=relay.epoch_end)],
        shuffle=False,  # the pipeline shuffles, with the run's seed
        verbose=0,
    )
    training_seconds = time.perf_counter() - fit_started
    _check_cancel(cancel)

    relay.step(CALIBRATING_TAUGHT)
    model = _inference_copy(model)
    learned = _Images(np.concatenate([taught.images, replayed[-1].images]),
                      np.concatenate([taught.labels, replayed[-1].labels]))
    train_probabilities = predict_probabilities(model, learned.images, EVALUATION_BATCH_SIZE)
    temperature = fit_temperature(train_probabilities, learned.labels) if settings.refit_temperature \
        else base_card.temperature
    _fold_temperature(model, temperature)
    if reading != PLAIN:  # the temperature was fitted to the plain reading; the scores are the model's reading's
        train_probabilities = predict_probabilities(model, learned.images, EVALUATION_BATCH_SIZE, reading)
    train_accuracy = float((train_probabilities.argmax(axis=1) == learned.labels).mean())
    _check_cancel(cancel)
    relay.step(SCORING_TEST)
    after = _scores(model, personal_test, data_test, reading)
    data_test_evaluation = after.data_test_evaluation
    passed = _drop(before, after) <= settings.max_accuracy_drop + 1e-9
    relay.step(FITTING_REFUSAL)
    # The writer's drawings count among the digits its "not a digit" rule learns from: their hand is a digit's.
    likeness = fit_digit_likeness(model, Dataset(learned.images, learned.labels, f"{writer}'s drawings and digits"),
                                  settings.seed, learned_scans=base_card.training_config.augment or settings.augment)
    refusal = fit_refusal(data_test_evaluation.probabilities, data_test.labels, after.data_test_features, likeness)
    if hand_over:
        relay.step(HANDING_OVER)
        model = ModelArchive.of(model)
    return FineTuneResult(
        model=model,
        base_name=base_card.name,
        writer=writer,
        drawings_count=len(drawings),
        personal_test_size=0 if personal_test is None else len(personal_test),
        before=before.scores,
        after=after.scores,
        data_test_evaluation=data_test_evaluation,
        passed=passed,
        message=_message(writer, len(drawings), personal_test, data.source, before.scores,
                         after.scores, settings.max_accuracy_drop, passed, sum(map(len, replayed)),
                         _data_test_words(base_card.name, len(data_test), data.source, test_seen, left_out)),
        training_seconds=training_seconds,
        config=settings,
        refusal=refusal,
        temperature=float(temperature),
        base_card=base_card,
        data_source=data.source,
        split_method=split_method,
        train_size=sum(len(labels) for _, labels, _ in epochs) - len(taught) * (settings.epochs - 1),
        replayed=sum(map(len, replayed)),
        train_accuracy=train_accuracy,
        seconds=time.perf_counter() - started,
        data_test_seen=test_seen,
        data_test_left_out=left_out,
        trained_on=None if base_record is None else base_record.union(taught, *(part.images for part in replayed)),
    )


# --- The data and the mix --------------------------------------------------------------------------

def data_parts(data: Dataset, base_card) -> tuple[Dataset, Dataset, str]:
    """The digits of ``data`` to replay, its test set, and where that came from: the source's own test set
    ("own") when it has one, else ("holdout") the part that the base model's card held out, so that no
    digit the base model learned from is scored."""
    if data.test is not None:
        return Dataset(data.images, data.labels, data.source), data.test, "own"
    settings = replace(base_card.training_config, test_set="holdout", train_limit=None)
    split = make_split(data, settings)
    return split.train, split.test, "holdout"


def _unseen_test_part(data_test: Dataset, base_name: str, base_record: TrainingRecord | None
                      ) -> tuple[Dataset, int | None, int]:
    """The data's test digits to score on, how many of them the base model trained on (None: not known), and how
    many it trained on were left out: the digits it never trained on where there are some, else all of them."""
    seen = overlap([(base_name, base_record)], data_test)
    unseen = seen.unseen(data_test)
    if unseen is None:
        return data_test, seen.seen, 0
    return unseen, 0, seen.seen


def _data_test_words(base_name: str, size: int, source: str, seen: int | None, left_out: int) -> str:
    """The data's digits a fine-tune scores on, in words that call them test digits only if the base model
    ``base_name`` never trained on them, e.g. "the 1,650 digits of …, all seen in training by default (…)"."""
    if seen is None:
        return f"the {size:,} digits of {source} (not known whether {base_name} trained on them: not a test)"
    if seen:
        return (f"the {size:,} digits of {source}, all seen in training by {base_name} (no unseen ones to test on: "
                f"not a test)")
    others = f" ({left_out:,} others, seen in training by {base_name}, left out)" if left_out else ""
    return f"the {size:,} test digits of {source}{others}"


def _replayed(pool: Dataset, count: int, epochs: int, rng: np.random.Generator) -> list[_Images]:
    """For each epoch, ``count`` digits of ``pool``, as many of each digit it holds as can be, none of them
    replayed twice where the pool has enough (a few hundred digits replayed in every epoch are learned by
    heart, and the network forgets the rest: with the shipped model, 200 digits replayed six times cost
    MNIST's test set 0.16 points where 1,200 different ones cost nothing)."""
    present = [digit for digit in range(10) if (pool.labels == digit).any()]
    per_digit = [count // len(present) + (rank < count % len(present)) for rank in range(len(present))]
    chosen = np.zeros((epochs, 0), np.int64)
    for digit, wanted in zip(present, per_digit):
        indices = np.flatnonzero(pool.labels == digit)
        picked = rng.choice(indices, wanted * epochs, replace=wanted * epochs > len(indices))
        chosen = np.concatenate([chosen, picked.reshape(epochs, wanted)], axis=1)
    return [_Images(pool.images[np.sort(row)], pool.labels[np.sort(row)]) for row in chosen]


@dataclass(frozen=True)
class _Images:
    """Images and labels, maybe none (a Dataset holds at least one image)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def _training_mix(taught: Dataset, replayed: list[_Images], non_digit_share: float, seed: int,
                  rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each epoch's images, labels and weights to learn from, in a random order: the taught drawings, weighted
    so that each digit drawn weighs the same (their weights adding up to their number), the epoch's replayed
    digits, and as many generated non-digits (label :data:`~digitcnn.data.NOT_A_DIGIT`) per replayed digit as
    the base model learned from (so that it stays unsure of what is not a digit)."""
    from digitcnn.data import nondigits
    from digitcnn.data import NOT_A_DIGIT

    counts = np.bincount(taught.labels, minlength=10)
    drawing_weights = (len(taught) / (np.count_nonzero(counts) * counts[taught.labels])).astype(np.float32)
    extra = round(non_digit_share * len(replayed[0]))
    generated = nondigits.generate(extra * len(replayed), seed=seed).images if extra else None
    epochs = []
    for epoch, digits in enumerate(replayed):
        images, labels = [taught.images, digits.images], [taught.labels, digits.labels]
        if extra:
            images.append(generated[epoch * extra: (epoch + 1) * extra])
            labels.append(np.full(extra, NOT_A_DIGIT, np.int64))
        images, labels = np.concatenate(images), np.concatenate(labels).astype(np.int64)
        weights = np.concatenate([drawing_weights, np.ones(len(labels) - len(taught), np.float32)])
        order = rng.permutation(len(labels))
        epochs.append((images[order], labels[order], weights[order]))
    return epochs


# --- The network --------------------------------------------------------------------------------

def _trainable_copy(base_model, temperature: float, settings: FineTuneConfig, label_smoothing: float):
    """A copy of ``base_model`` with its weights, its temperature taken out of the last layer, the layers
    ``settings.freeze`` names frozen, compiled with Adam and the base model's loss."""
    import keras

    from digitcnn.networks.architectures import compile_for_training, fused_batch_normalization

    fused = fused_batch_normalization()
    config = base_model.get_config()
    for layer in config["layers"]:  # the fused kernel trains the same layer faster (see models.py)
        if layer["class_name"] == "BatchNormalization" and settings.freeze == "nothing":
            layer.update(class_name="FusedBatchNormalization", module=None,
                         registered_name="digitcnn>FusedBatchNormalization")
    model = type(base_model).from_config(config, custom_objects={"FusedBatchNormalization": fused})
    model.set_weights(base_model.get_weights())
    _fold_temperature(model, 1 / temperature)  # back to the logits as trained
    if settings.freeze == "batchnorm":
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False  # Keras 3: a frozen BatchNormalization also runs on its statistics
    elif settings.freeze == "features":
        last_flatten = max((i for i, layer in enumerate(model.layers) if isinstance(layer, keras.layers.Flatten)),
                           default=-1)
        for layer in model.layers[: last_flatten + 1]:
            layer.trainable = False
    compile_for_training(model, keras.optimizers.Adam(settings.learning_rate), label_smoothing)
    return model


def _inference_copy(model):
    """The fine-tuned network as saved models are (Keras's own layers, everything trainable, no optimizer)."""
    from digitcnn.networks.architectures import portable_copy

    copy = portable_copy(model)
    for layer in copy.layers:
        layer.trainable = True
    return copy


def _fold_temperature(model, temperature: float) -> None:
    if temperature != 1:
        from digitcnn.networks.calibration import apply_temperature

        apply_temperature(model, temperature)


def _pipeline(epochs: list[tuple[np.ndarray, np.ndarray, np.ndarray]], settings: FineTuneConfig):
    """Each epoch's mix in batches of (inputs, targets, weights), one epoch after the other, augmented as
    training augments when ``augment``."""
    import functools

    import tensorflow as tf

    parts = [tf.data.Dataset.from_tensor_slices(arrays).batch(settings.batch_size) for arrays in epochs]
    pipeline = functools.reduce(tf.data.Dataset.concatenate, parts).map(
        lambda x, y, w: (*network_inputs(x, y), w), num_parallel_calls=tf.data.AUTOTUNE)
    if settings.augment:
        pipeline = augmented(pipeline, settings.seed)
    return pipeline.prefetch(tf.data.AUTOTUNE)


def _validation(dataset: Dataset):
    return network_dataset(dataset, EVALUATION_BATCH_SIZE)


# --- Scores and the report ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _Scored:
    scores: FineTuneScores
    data_test_evaluation: Evaluation
    data_test_features: np.ndarray  # what the refusal rule's digit-likeness reads, from the same pass


def _scores(model, personal_test: Dataset | None, data_test: Dataset, reading: str) -> _Scored:
    from digitcnn.reading.inference import predict_probabilities, predict_with_features

    probabilities, features = predict_with_features(model, data_test.images, EVALUATION_BATCH_SIZE, reading)
    evaluation = evaluate(data_test.labels, probabilities)
    per_digit = [math.nan] * 10
    personal = math.nan
    if personal_test is not None:
        right = predict_probabilities(model, personal_test.images, EVALUATION_BATCH_SIZE, reading).argmax(axis=1) \
            == personal_test.labels
        personal = float(right.mean())
        per_digit = [float(right[personal_test.labels == digit].mean()) if (personal_test.labels == digit).any()
                     else math.nan for digit in range(10)]
    return _Scored(FineTuneScores(personal, evaluation.accuracy, tuple(per_digit)), evaluation, features)


def _drop(before: _Scored, after: _Scored) -> float:
    return before.scores.data_test_accuracy - after.scores.data_test_accuracy


def _message(writer: str, drawings: int, personal_test, source: str, before: FineTuneScores,
             after: FineTuneScores, allowed: float, passed: bool, replayed: int, where: str) -> str:
    """One paragraph: what was taught, the scores before → after, and the gate's verdict with its numbers."""
    kept = 0 if personal_test is None else len(personal_test)
    parts = [f"Taught {drawings - kept} of the {drawings} drawings by {writer} "
             f"({f'{kept} kept apart to test' if kept else 'none kept apart to test'}), "
             f"replaying {replayed:,} digits of {source}."]
    if kept:
        parts.append(f"On the {kept} test drawings by {writer}: {share_text(before.personal_test_accuracy)} → "
                     f"{share_text(after.personal_test_accuracy)}.")
    change = (after.data_test_accuracy - before.data_test_accuracy) * 100
    if passed:
        parts.append(f"On {where}: {share_text(before.data_test_accuracy)} → {share_text(after.data_test_accuracy)} "
                     f"({change:+.2f} points, within the {allowed * 100:.2f} allowed): can be saved.")
    else:
        parts.append(f"The accuracy on {where} fell from {share_text(before.data_test_accuracy)} to "
                     f"{share_text(after.data_test_accuracy)} ({change:+.2f} points, more than the {allowed * 100:.2f} "
                     f"allowed): not saved.")
    return " ".join(parts)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("fine-tuning was cancelled; nothing was saved")


def _or_none(value: float):
    return None if value is None or math.isnan(value) else value
