"""Named network architectures for 28×28×1 digits with ten softmax outputs.

The names and descriptions are plain data, so the app can list them without importing
Keras; :func:`build` imports Keras when a network is actually made.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from digitcnn.data import IMAGE_SIDE
from digitcnn.errors import SettingsError
from digitcnn.runtime import BFLOAT16, FLOAT32, training_precision

CLASS_COUNT = 10


@dataclass(frozen=True)
class Recipe:
    """How an architecture trains best: the settings a run takes unless it is told otherwise.

    ``schedule`` is ``"constant"`` (Adam at ``learning_rate`` throughout, as Keras's ``"adam"``)
    or ``"warmup_cosine"`` (a linear warm-up to ``learning_rate`` over the first
    ``1/WARMUP_SHARE`` of the steps, then a cosine decay to zero). ``ema_momentum`` above 0 makes
    the final weights an exponential moving average of the weights after each step (Adam's
    ``use_ema``), which smooths out the noise of the last steps. ``label_smoothing`` above 0
    trains towards ``1 - label_smoothing`` for the right digit and spreads the rest over all ten
    (Keras's ``CategoricalCrossentropy(label_smoothing=…)``), so the network stops pushing its
    confidence in the training digits towards 100%. ``non_digit_share`` above 0 adds that many
    generated non-digits per training digit (letters, shapes, scribbles, blobs, noise: see
    :mod:`digitcnn.data.nondigits`), each taught to give every digit the same probability ("outlier
    exposure"), so the network learns to be unsure of what is not a digit.
    """

    epochs: int
    batch_size: int
    learning_rate: float
    schedule: str
    augment: bool
    ema_momentum: float = 0.0  # above 0: the trained weights are an exponential moving average of the steps'
    label_smoothing: float = 0.0
    non_digit_share: float = 0.0  # generated non-digits added to the training images, per digit (0: none)


SCHEDULES = ("constant", "warmup_cosine")


@dataclass(frozen=True)
class Architecture:
    """A network by name: what a page calls it (``title``, a few plain words), what it is, the function that
    lays out its layers, and its recipe."""

    name: str
    title: str
    description: str
    layers: Callable[[], list]
    recipe: Recipe
    learning_steps: int = 0  # a run of fewer training steps learns little (a user is told before it starts); 0: none


def _article_layers() -> list:
    from keras import layers

    return [
        layers.Conv2D(28, kernel_size=(3, 3)),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(CLASS_COUNT, activation="softmax"),
    ]


@functools.cache
def fused_batch_normalization() -> type:
    """The ``FusedBatchNormalization`` layer class, defined and registered with Keras on first use
    (so that importing this module needs no Keras; loading a saved model calls this first).

    It is Keras's BatchNormalization whose training step runs TensorFlow's fused kernel: the same
    normalization, and on a CPU the whole network trains about a third faster. At inference it is
    Keras's own layer, so converted and exported models see nothing unusual."""
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="digitcnn")
    class FusedBatchNormalization(keras.layers.BatchNormalization):
        def call(self, inputs, training=None, mask=None):
            fusable = self.axis in (-1, 3) and len(inputs.shape) == 4 and self.center and self.scale
            if not (training and self.trainable and fusable and mask is None):
                return super().call(inputs, training=training, mask=mask)
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True
            )[:3]
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1 - self.momentum))
            return outputs

    return FusedBatchNormalization


def register_custom_objects() -> None:
    """Make the project's own Keras classes known to Keras (:func:`fused_batch_normalization`,
    :func:`digit_accuracy_class`): a model a worker trained comes back as a .keras archive that names them, and
    Keras must know them to load it."""
    fused_batch_normalization()
    digit_accuracy_class()


@dataclass(frozen=True, eq=False)
class ModelArchive:
    """A trained network as the bytes of its portable ``.keras`` file (see :func:`portable_copy`) and its parameter
    count: how a worker process hands a model back, so that the server that shows the results and saves the model
    never imports Keras for it (measured on the app: the server held 550 MB more and spent seconds of a core on
    the import, beside the training). It answers what a model card and a save ask of a Keras model
    (``count_params``, ``save``); :meth:`load` makes it a Keras model again."""

    keras_file: bytes = field(repr=False)
    parameters: int

    @classmethod
    def of(cls, model) -> ModelArchive:
        """The archive of a Keras ``model``."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.keras"
            portable_copy(model).save(path)
            return cls(path.read_bytes(), int(model.count_params()))

    def count_params(self) -> int:
        return self.parameters

    def save(self, path) -> None:
        """Write the ``.keras`` file to ``path``, as Keras's ``model.save`` would."""
        Path(path).write_bytes(self.keras_file)

    def load(self):
        """The Keras model (compiled for nothing: what a saved model loads as)."""
        import keras

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.keras"
            self.save(path)
            return keras.saving.load_model(path, compile=False, safe_mode=True)


def portable_copy(model):
    """A copy of ``model`` made of Keras's own layers only, computing in float32, with its weights and without its
    optimizer's state (a third of a file): what is saved, so that any Keras, TF.js or LiteRT tool reads the file
    without this project. :func:`fused_batch_normalization` is a training-time detail: it computes what
    BatchNormalization computes, with the same weights. A :class:`ModelArchive` is portable already: itself."""
    if isinstance(model, ModelArchive):
        return model
    import keras

    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "FusedBatchNormalization":
            layer.update(class_name="BatchNormalization", module="keras.layers", registered_name=None)
        if "dtype" in layer["config"]:  # a network trained in bfloat16 reads in float32 (see build)
            layer["config"]["dtype"] = FLOAT32
    copy = _sequential_from_config(config) if type(model) is keras.Sequential else type(model).from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def _sequential_from_config(config: dict):
    """The Sequential model of ``config`` built once: Keras's ``from_config`` adds its layers one by one and builds the
    model again after each (0.85 s of a 1.0 s copy of compact, against 0.1 s)."""
    import keras

    layers = [keras.saving.deserialize_keras_object(layer) for layer in config["layers"]]
    return keras.Sequential(layers, name=config["name"])


def _convolution(filters: int) -> list:
    """A 3×3 convolution, batch normalization, ReLU."""
    from keras import layers

    return [
        layers.Conv2D(filters, 3, padding="same", use_bias=False),
        fused_batch_normalization()(momentum=0.9),  # settles within ~50 steps, so short runs score right
        layers.ReLU(),
    ]


def _compact_layers() -> list:
    from keras import layers

    return [
        *_convolution(16),
        layers.MaxPooling2D(2),
        *_convolution(32),
        *_convolution(32),
        layers.MaxPooling2D(2),
        *_convolution(64),
        *_convolution(64),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(CLASS_COUNT, activation="softmax"),
    ]


ARCHITECTURES: dict[str, Architecture] = {
    architecture.name: architecture
    for architecture in (
        Architecture(
            "article",
            "Tutorial's small network",
            "The tutorial's network: Conv2D(28, 3×3) → MaxPool 2×2 → Dense 128 relu → Dropout 0.2 → softmax 10.",
            _article_layers,
            Recipe(epochs=10, batch_size=32, learning_rate=0.001, schedule="constant", augment=False),
            learning_steps=10,  # on the embedded sample (2026-11-26): 7 steps scored 50%, 19–25 steps 73–79%
        ),
        Architecture(
            "compact",
            "Compact network (best)",
            "Five 3×3 convolutions with batch normalization in three stages (16; 32, 32; 64, 64 filters), "
            "dropout 0.3, softmax 10 (101k parameters); trained with augmentation, a warm-up/cosine schedule, "
            "weight averaging and label smoothing.",
            _compact_layers,
            Recipe(epochs=13, batch_size=128, learning_rate=0.003, schedule="warmup_cosine", augment=True,
                   ema_momentum=0.99, label_smoothing=0.1, non_digit_share=0.1),
            learning_steps=40,  # on the embedded sample (2026-11-26): 7 steps scored 33%, 21 steps 46–50%, 28 steps
            # 61%, 42 steps 73–77% (with batch normalization settled at the end: see training/fitting.py)
        ),
    )
}
DEFAULT_ARCHITECTURE = "compact"
WARMUP_SHARE = 15


# The architecture a model card names for a network made elsewhere and imported (digitcnn.storage.importing): none
# of this project's, and nothing to train with.
IMPORTED = "imported"


def title_of(name: str) -> str:
    """What a page calls the architecture ``name``: its title, "Imported Keras model" for an imported network, or
    the name itself for one this version does not know (a model saved by another)."""
    if name == IMPORTED:
        return "Imported Keras model"
    return ARCHITECTURES[name].title if name in ARCHITECTURES else name


def get_architecture(name: str) -> Architecture:
    """The architecture called ``name``; an unknown name raises :class:`SettingsError`."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise SettingsError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}") from None


def build(name: str = DEFAULT_ARCHITECTURE, learning_rate=0.001, ema_momentum: float = 0.0,
          label_smoothing: float = 0.0, precision: str = FLOAT32):
    """A new Keras model of the named architecture, compiled with Adam at ``learning_rate`` (a
    number or a schedule, see :func:`learning_rate_schedule`), weight averaging when
    ``ema_momentum`` is above 0, and categorical cross-entropy with ``label_smoothing`` (0: plain
    cross-entropy, the same loss as the tutorial's sparse one). It learns from one-hot labels
    (:func:`one_hot`).

    In ``precision`` :data:`~digitcnn.runtime.BFLOAT16` its layers compute in bfloat16 but for the last, whose
    probabilities the loss reads in float32; its weights stay float32 (Keras's ``"mixed_bfloat16"``), and
    :func:`portable_copy` makes it a float32 network with the same weights."""
    import keras

    architecture = get_architecture(name)
    policy = "mixed_bfloat16" if training_precision(precision) == BFLOAT16 else FLOAT32
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)  # the policy a layer takes is the one in force when it is made
    try:
        layers = architecture.layers()
    finally:
        keras.config.set_dtype_policy(previous)
    last = layers[-1]
    layers[-1] = type(last).from_config({**last.get_config(), "dtype": FLOAT32})
    model = keras.Sequential([keras.Input(shape=(IMAGE_SIDE, IMAGE_SIDE, 1)), *layers], name=name)
    optimizer = keras.optimizers.Adam(learning_rate, use_ema=ema_momentum > 0, ema_momentum=ema_momentum)
    compile_for_training(model, optimizer, label_smoothing)
    return model


def compile_for_training(model, optimizer, label_smoothing: float) -> None:
    """Compile ``model`` to learn from :func:`one_hot` rows with ``optimizer``, categorical cross-entropy with
    ``label_smoothing``, and accuracy over the digits, and create the optimizer's variables now. Created by the
    first training step instead, they make TensorFlow trace that step twice: about a second more per training
    (on the embedded sample's quick run, its second batch was done after 3.1–3.7 s instead of 4.5 s)."""
    import keras

    model.compile(optimizer=optimizer, loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                  metrics=[_digit_accuracy()])
    optimizer.build(model.trainable_variables)


def one_hot(labels):
    """Training labels (a tensor) as the rows :func:`build`'s models learn from: a digit 0–9 as its
    one-hot row, :data:`~digitcnn.data.NOT_A_DIGIT` as the uniform row (every digit equally likely)."""
    import tensorflow as tf

    digits = tf.one_hot(labels, CLASS_COUNT)
    uniform = tf.fill(tf.shape(digits), 1.0 / CLASS_COUNT)
    return tf.where((labels >= 0)[:, tf.newaxis], digits, uniform)


def _digit_accuracy():
    """Keras's accuracy counted over the digits only (a non-digit's uniform row has no right answer),
    under the name "accuracy", so that progress reads as before."""
    return digit_accuracy_class()(name="accuracy")


@functools.cache
def digit_accuracy_class() -> type:
    """The ``DigitAccuracy`` metric class, defined and registered with Keras on first use (so that a
    compiled model can be cloned or reloaded with its compile settings)."""
    import keras

    @keras.saving.register_keras_serializable(package="digitcnn")
    class DigitAccuracy(keras.metrics.Mean):
        def update_state(self, y_true, y_pred, sample_weight=None):
            ops = keras.ops
            is_digit = ops.cast(ops.max(y_true, axis=-1) > 0.5, "float32")
            right = ops.cast(ops.argmax(y_true, axis=-1) == ops.argmax(y_pred, axis=-1), "float32")
            return super().update_state(right, sample_weight=is_digit)

    return DigitAccuracy


def learning_rate_schedule(learning_rate: float, schedule: str, total_steps: int):
    """The learning rate for Adam: ``learning_rate`` itself when constant, else the warm-up/cosine
    schedule over ``total_steps`` (a Keras schedule: step → rate)."""
    import keras

    if schedule not in SCHEDULES:
        raise SettingsError(f"unknown learning-rate schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if schedule == "constant":
        return learning_rate
    warmup = max(1, total_steps // WARMUP_SHARE)
    return keras.optimizers.schedules.CosineDecay(
        learning_rate / 20, decay_steps=max(1, total_steps - warmup), warmup_target=learning_rate, warmup_steps=warmup
    )
