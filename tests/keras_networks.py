"""Keras networks as tutorials build them, trained briefly and saved as .keras files: what the import tests bring in
(Keras's ``mnist_convnet`` with other layer names, logits and a flat input; a (28, 28) input; pixels 0–255; layers
of neurons alone)."""

from __future__ import annotations

from pathlib import Path


def keras_layers():
    """Keras and its layers, imported when a network is built (collecting the tests needs neither)."""
    import keras

    return keras, keras.layers


def convnet_with_logits():
    """Keras's ``mnist_convnet`` example, smaller, its layers named otherwise, reading a flat row of 784 pixels and
    giving logits."""
    keras, layers = keras_layers()
    return keras.Sequential([
        keras.Input((784,), name="row_of_pixels"), layers.Reshape((28, 28, 1), name="as_a_square"),
        layers.Conv2D(8, 3, activation="relu", name="edges"), layers.MaxPooling2D(name="halved"),
        layers.Conv2D(16, 3, activation="relu", name="strokes"), layers.MaxPooling2D(name="halved_again"),
        layers.Flatten(name="flat"), layers.Dropout(0.5, name="forget"), layers.Dense(10, name="logits"),
    ]), 1.0, True


def square_input_with_softmax_layer():
    """A functional network reading (28, 28), its probabilities from a Softmax layer after a linear Dense."""
    keras, layers = keras_layers()
    picture = keras.Input((28, 28))
    x = layers.Reshape((28, 28, 1))(picture)
    x = layers.Conv2D(8, 5, activation="relu", name="looks")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(10, name="votes")(x)
    return keras.Model(picture, layers.Softmax(name="shares")(x)), 1.0, False


def expects_0_to_255():
    """A network that scales its own pixels from 0–255 (a Rescaling layer first, as Keras's guides write it)."""
    keras, layers = keras_layers()
    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Rescaling(1 / 255, name="to_unit"),
        layers.Conv2D(8, 3, activation="relu", name="first_look"), layers.MaxPooling2D(), layers.Flatten(),
        layers.Dense(10, activation="softmax", name="answer"),
    ]), 255.0, False


def neurons_only():
    """Layers of neurons and no convolution, reading a flat row, a softmax activation after a linear Dense: nearly
    as sure of pictures 255 times brighter (its ReLU layers scale with them), so only its sureness tells which
    pixels it expects."""
    keras, layers = keras_layers()
    row = keras.Input((784,))
    hidden = layers.Dense(64, activation="relu", name="hidden")(row)
    scores = layers.Dense(10, name="scores")(hidden)
    return keras.Model(row, layers.Activation("softmax", name="shares")(scores)), 1.0, False


NETWORKS = {"convnet": convnet_with_logits, "square": square_input_with_softmax_layer, "raw-pixels": expects_0_to_255,
            "neurons": neurons_only}


def made_elsewhere(embedded, folder: Path, names=tuple(NETWORKS)) -> dict[str, Path]:
    """Each network of ``names`` trained two epochs on the ``embedded`` sample, as its tutorial would, and saved as a
    .keras file in ``folder`` (a few seconds each)."""
    keras, _ = keras_layers()
    keras.utils.set_random_seed(1)
    paths = {}
    for name in names:
        network, scale, logits = NETWORKS[name]()
        pixels = embedded.images.astype("float32") / 255 * scale
        pixels = pixels.reshape(-1, *network.inputs[0].shape[1:])
        network.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=logits))
        network.fit(pixels, embedded.labels, epochs=2, batch_size=64, verbose=0)
        paths[name] = folder / f"{name}.keras"
        network.save(paths[name])
    return paths
