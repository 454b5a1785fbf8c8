"""What decides a training run: :class:`TrainingConfig` and what each of its settings allows (:data:`SETTINGS`, read
by the command line and the train page too); the settings of a quick first run (:func:`quick_settings`) and of an
architecture's full recipe (:func:`recipe_settings`); and the recipe fitted to the size of a run
(:func:`fitted_to_run`: smaller batches and shorter weight averaging for a short one), with the warning for a run
too short to learn (:func:`short_run_warning`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from digitcnn.networks.architectures import ARCHITECTURES, DEFAULT_ARCHITECTURE, SCHEDULES, Recipe, get_architecture
from digitcnn.reading.inference import PLAIN, READINGS
from digitcnn.runtime import AUTO, PRECISIONS
from digitcnn.settings import CHOICE, FLAG, NUMBER, WHOLE, Setting, check_all

TEST_SET_CHOICES = ("auto", "holdout", "own")
MAX_EPOCHS = 200  # the recipes take 10 to 13; more only waits longer
MIN_STEPS_PER_EPOCH = 40  # on small data the batch size is halved until an epoch has at least this many steps…
MIN_BATCH_SIZE = 16  # …but not below this
AVERAGING_SHARE = 0.1  # weight averaging spans at most this share of a run's steps…
MIN_AVERAGING_MOMENTUM = 0.9  # …and is turned off where that would mean averaging over fewer than 10 steps
QUICK_RUN_IMAGES = 10_000  # a quick run shows the network about this many images: ~8 s for compact on 2 cores…
# …without augmentation unless that takes more than this many passes over its digits. Measured with compact on the
# embedded sample (2026-11-26, 2 cores; seed 42, then seeds 1, 2 and 3): 4 epochs of 3,350 digits scored 98.42%,
# 97.15%, 97.70% and 97.45% without, 97.33–98.06%, 96.55%, 97.09% and 96.85% with; 3 epochs without, 97.88%, 97.03%,
# 97.88% and 97.58%, in a fifth less time. 7 epochs of 1,500 digits: 97.15% and 97.39% without (seeds 42 and 1),
# 97.09% and 96.67% with; 10 epochs of 1,000: 96.55% and 96.61% without, 97.45% and 97.64% with.
QUICK_RUN_MAX_EPOCHS_UNAUGMENTED = 5
# On more digits than QUICK_RUN_MAX_IMAGES, a quick run is one epoch of that many of them, in batches of at most
# QUICK_RUN_BATCH_SIZE at QUICK_RUN_RATE_FACTOR times the recipe's learning rate: more steps at a higher rate learn
# more from fewer digits.
# Measured on full MNIST (compact, one epoch, 2 cores; three seeds where a range is given): batches of 128 at 0.003
# scored 99.06–99.09% on 45,000 digits and 98.63% on 30,000; batches of 64 at 0.006 scored 99.03–99.13% on 33,000
# and 99.01–99.03% on 30,000 (0.004: 98.94%, 0.008: 99.00%). A batch of 64 costs about as much processor time per
# digit as one of 128, so this is a quarter less work than 45,000 in batches of 128.
QUICK_RUN_MAX_IMAGES = 33_000
QUICK_RUN_BATCH_SIZE = 64
QUICK_RUN_RATE_FACTOR = 2
MAX_SEED = 2**32 - 1  # the largest seed NumPy and TensorFlow both take


# What each setting of a run allows, read by TrainingConfig's check, the command line and the train page.
SETTINGS = {
    "architecture": Setting("architecture", CHOICE, choices=tuple(ARCHITECTURES)),
    "epochs": Setting("epochs", WHOLE, 1, MAX_EPOCHS),
    "batch_size": Setting("batch size", WHOLE, 1, 65536),
    # Adam's. Measured at the ends (2 epochs on 1,500 embedded digits): 0.1 left article at chance (9%), 1e-5 left
    # compact at 14%; 0.01 gave 90% and 93%, 1e-4 82% and 52% (slower, still learning).
    "learning_rate": Setting("learning rate", NUMBER, 1e-4, 0.01),
    "schedule": Setting("schedule", CHOICE, choices=SCHEDULES),
    "augment": Setting("augment", FLAG),
    "ema_momentum": Setting("weight-averaging momentum", NUMBER, 0, 1, below_high=True, note="0 is off"),
    "label_smoothing": Setting("label smoothing", NUMBER, 0, 1, below_high=True, note="0 is off"),
    "non_digit_share": Setting("the share of non-digits", NUMBER, 0, 1, note="0 is none"),
    "test_fraction": Setting("test fraction", NUMBER, 0.05, 0.5),
    "seed": Setting("seed", WHOLE, 0, MAX_SEED),
    "stratify": Setting("stratify", FLAG),
    "test_set": Setting("test set", CHOICE, choices=TEST_SET_CHOICES),
    "validate_each_epoch": Setting("validate each epoch", FLAG),
    "train_limit": Setting("training image limit", WHOLE, 10, optional=True, note="or none: all"),
    "fit_to_run": Setting("fit to the run", FLAG),
    "reading": Setting("reading", CHOICE, choices=READINGS),
    "precision": Setting("precision", CHOICE, choices=PRECISIONS),
}


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides a training run. Epochs, batch size, learning rate, schedule,
    augmentation, weight averaging and label smoothing left as ``None`` take the architecture's
    recipe (see :mod:`digitcnn.networks.architectures`): for ``article`` that is the tutorial's own settings. The
    test set defaults to the tutorial's: 33% held out with seed 42.

    ``test_set``: ``"holdout"`` splits off ``test_fraction`` of the data; ``"own"`` uses the
    source's own test set (MNIST's 10,000); ``"auto"`` takes the own one when there is one.

    ``reading``: how the trained model reads pictures (:data:`~digitcnn.reading.inference.READINGS`): its scores are
    measured so, and the app and the command line read with it so (it is on its card).

    ``precision``: the arithmetic the network trains in (:data:`~digitcnn.runtime.PRECISIONS`); ``"auto"`` is
    bfloat16 where the processor computes it natively, else float32, and a run records which it took (see
    :func:`digitcnn.runtime.training_precision`). The trained network reads in float32 either way.
    """

    architecture: str = DEFAULT_ARCHITECTURE
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    schedule: str | None = None
    augment: bool | None = None
    ema_momentum: float | None = None
    label_smoothing: float | None = None
    non_digit_share: float | None = None
    test_fraction: float = 0.33
    seed: int = 42
    stratify: bool = False
    test_set: str = "auto"
    validate_each_epoch: bool = True
    train_limit: int | None = None  # learn from at most this many images, for quick trials
    fit_to_run: bool = True  # shrink the batch size and the weight averaging for short runs (see fitted_to_run)
    reading: str = PLAIN  # how the model reads a picture, here and wherever it is used (see digitcnn.reading.inference)
    precision: str = AUTO  # the arithmetic of the training: a run replaces "auto" with the one it took

    def __post_init__(self):
        recipe = get_architecture(self.architecture).recipe
        for setting in fields(Recipe):  # each of the recipe's settings, where this run leaves it open
            if getattr(self, setting.name) is None:
                object.__setattr__(self, setting.name, getattr(recipe, setting.name))
        check_all(self, SETTINGS)

    def to_dict(self) -> dict:
        """The settings as plain JSON-ready values."""
        return asdict(self)


def fitted_to_run(config: TrainingConfig, train_size: int) -> TrainingConfig:
    """``config`` with its batch size and weight averaging fitted to a run on ``train_size`` digits, when
    ``fit_to_run`` (else unchanged). A recipe made for 60,000 digits gives a short trial run too few steps
    to learn (batch 128 on 1,000 digits: 8 an epoch), and weight averaging over ~100 steps then averages
    mostly the untrained start: the batch size is halved (down to :data:`MIN_BATCH_SIZE`) until an epoch
    has :data:`MIN_STEPS_PER_EPOCH` steps, and the averaging's span capped at :data:`AVERAGING_SHARE` of
    the run's steps (off below :data:`MIN_AVERAGING_MOMENTUM`). Full-MNIST runs are left as they are.
    Applying it twice changes nothing more."""
    if not config.fit_to_run:
        return config
    batch_size = config.batch_size
    while batch_size > MIN_BATCH_SIZE and train_size / batch_size < MIN_STEPS_PER_EPOCH:
        batch_size = max(MIN_BATCH_SIZE, batch_size // 2)
    steps = run_steps(replace(config, batch_size=batch_size), train_size)
    momentum = min(config.ema_momentum, math.floor((1 - 1 / (AVERAGING_SHARE * steps)) * 1e4) / 1e4)  # never longer
    return replace(config, batch_size=batch_size,
                   ema_momentum=momentum if momentum >= MIN_AVERAGING_MOMENTUM else 0.0)


def run_steps(config: TrainingConfig, train_size: int) -> int:
    """How many training steps a run of ``config`` makes on ``train_size`` digits: its epochs times the batches of
    those digits and the generated non-digits that join them (as ``config`` is: see :func:`fitted_to_run` for
    what a run changes first)."""
    images = train_size + round(config.non_digit_share * train_size)
    return config.epochs * math.ceil(images / config.batch_size)


def short_run_warning(config: TrainingConfig, train_size: int) -> str | None:
    """What to tell a user about to train ``config`` on ``train_size`` digits when the run is too short to learn
    much (fewer steps, once fitted to the run, than its architecture's ``learning_steps``); None when it is long
    enough."""
    run = fitted_to_run(config, train_size)
    steps, needed = run_steps(run, train_size), get_architecture(run.architecture).learning_steps
    if steps >= needed:
        return None
    epochs_needed = math.ceil(needed / (steps // run.epochs))
    return (f"A run of {steps} training step{'s' if steps != 1 else ''} ({run.epochs} "
            f"epoch{'s' if run.epochs != 1 else ''} of {train_size:,} digits in batches of {run.batch_size}) learns "
            f"little: {run.architecture} needs about {needed} steps to learn much. "
            f"Give it at least {epochs_needed} epochs, "
            + ("more images or smaller batches." if run.batch_size > MIN_BATCH_SIZE else "or more images."))


def quick_settings(architecture: str, train_size: int) -> dict:
    """The epochs, training image limit, augmentation, batch size, learning rate and validation of a quick run of
    ``architecture`` on ``train_size`` training digits: enough epochs to show the network about
    :data:`QUICK_RUN_IMAGES` images, at least one and never more than its recipe's. On more than
    :data:`QUICK_RUN_MAX_IMAGES` digits it is one epoch of that many (``train_limit``; None: all), in batches of
    at most :data:`QUICK_RUN_BATCH_SIZE` at :data:`QUICK_RUN_RATE_FACTOR` times the recipe's learning rate (on
    less the recipe's: :func:`fitted_to_run` already shrinks the batches of a small run). A few passes learn more
    from the digits as they are, so a quick run goes without augmentation unless it makes more than
    :data:`QUICK_RUN_MAX_EPOCHS_UNAUGMENTED` (compact, one epoch of full MNIST: 99.10% without, 98.86% with; more
    measurements with the constant). On the embedded sample (3,350 training digits) that is 3 epochs of ``compact``
    instead of 13, a first model at 97–98% in about 8 s. Like a full run it is scored after each epoch on the
    training digits it holds out to validate (see :func:`validation_split`: 335 of them, a few hundredths of a
    second an epoch), and on its test images once, at its end."""
    recipe = get_architecture(architecture).recipe
    epochs = max(1, min(recipe.epochs, math.ceil(QUICK_RUN_IMAGES / max(1, train_size))))
    settings = dict(recipe_settings(architecture), epochs=epochs,
                    augment=recipe.augment and epochs > QUICK_RUN_MAX_EPOCHS_UNAUGMENTED, validate_each_epoch=True)
    if train_size > QUICK_RUN_MAX_IMAGES:
        settings.update(train_limit=QUICK_RUN_MAX_IMAGES, batch_size=min(recipe.batch_size, QUICK_RUN_BATCH_SIZE),
                        learning_rate=min(recipe.learning_rate * QUICK_RUN_RATE_FACTOR, SETTINGS["learning_rate"].high))
    return settings


def recipe_settings(architecture: str) -> dict:
    """The same settings as :func:`quick_settings`, for a run of ``architecture``'s full recipe on all the
    training digits, scored after each epoch."""
    recipe = get_architecture(architecture).recipe
    return dict(epochs=recipe.epochs, train_limit=None, augment=recipe.augment, batch_size=recipe.batch_size,
                learning_rate=recipe.learning_rate, validate_each_epoch=True)
