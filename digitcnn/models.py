"""Named network architectures for 28×28×1 digits with ten softmax outputs.

The names and descriptions are plain data, so the app can list them without importing
Keras; :func:`build` imports Keras when a network is actually made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from digitcnn.errors import SettingsError

INPUT_SHAPE = (28, 28, 1)
CLASS_COUNT = 10


@dataclass(frozen=True)
class Architecture:
    """A network by name: what it is, and the function that lays out its (uncompiled) layers."""

    name: str
    description: str
    layers: Callable[[], list]


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


def _conv_block(filters: int) -> list:
    from keras import layers

    return [
        layers.Conv2D(filters, 3, padding="same", use_bias=False),
        layers.BatchNormalization(momentum=0.9),  # settles within ~50 steps, so short runs score right
        layers.ReLU(),
    ]


def _batchnorm_layers() -> list:
    from keras import layers

    return [
        *_conv_block(32),
        *_conv_block(32),
        layers.MaxPooling2D(2),
        *_conv_block(64),
        *_conv_block(64),
        layers.MaxPooling2D(2),
        *_conv_block(128),
        layers.GlobalAveragePooling2D(),
        layers.Dropout(0.2),
        layers.Dense(CLASS_COUNT, activation="softmax"),
    ]


ARCHITECTURES: dict[str, Architecture] = {
    architecture.name: architecture
    for architecture in (
        Architecture(
            "article",
            "The tutorial's network: Conv2D(28, 3×3) → MaxPool 2×2 → Dense 128 relu → Dropout 0.2 → softmax 10.",
            _article_layers,
        ),
        Architecture(
            "batchnorm",
            "Five 3×3 convolutions with batch normalization in three stages (32, 64, 128 filters), "
            "global average pooling, dropout 0.2, softmax 10.",
            _batchnorm_layers,
        ),
    )
}
DEFAULT_ARCHITECTURE = "batchnorm"


def get_architecture(name: str) -> Architecture:
    """The architecture called ``name``; an unknown name raises :class:`SettingsError`."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise SettingsError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}") from None


def build(name: str = DEFAULT_ARCHITECTURE):
    """A new, compiled Keras model of the named architecture (adam, sparse categorical cross-entropy)."""
    import keras

    architecture = get_architecture(name)
    model = keras.Sequential([keras.Input(shape=INPUT_SHAPE), *architecture.layers()], name=name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
