"""Importing a model made elsewhere (`digitcnn.storage.importing`): Keras's own example, `mnist_convnet`
(keras.io/examples/vision/mnist_convnet: two convolutions, dropout, a softmax Dense), trained as the example trains
it on MNIST's 60,000 training digits (for --epochs, the example's 15 by default: about 20 s each on 2 cores), then saved three
ways that hold the same weights: as the example saves it (28×28×1, pixels 0–1, probabilities), reading a flat row and
giving logits, and scaling its own pixels from 0–255. Each file is imported twice, scored on the embedded sample
(the command line's default data) and on MNIST (its own 10,000 test digits); the table says what the import found,
how the model scores (the same weights: the same figures each way), what its "not a digit" rule refuses, and how
long the import took.

    python -m benchmarks.importing [--data PATH/TO/mnist] [--epochs 15]

Needs MNIST (--data or $DIGITCNN_MNIST_DIR).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import machine
from digitcnn import config, data
from digitcnn.data import nondigits
from digitcnn.native_logs import start_up_lines_dropped
from digitcnn.storage import importing, registry

NON_DIGITS = 1000  # generated with a seed no fit draws from


def mnist_convnet():
    """The example's network, layer for layer."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def the_same_network(example, front: list, last_activation: str, input_shape: tuple):
    """``example``'s layers and weights behind other ``front`` layers, its last layer's activation changed."""
    import keras

    copies = [type(layer).from_config({**layer.get_config(), **({"activation": last_activation} if layer is
                                                                 example.layers[-1] else {})})
              for layer in example.layers]
    network = keras.Sequential([keras.Input(input_shape), *front, *copies])
    for copy, layer in zip(copies, example.layers):
        copy.set_weights(layer.get_weights())
    return network


def saved_three_ways(mnist, epochs: int, folder: Path) -> dict[str, Path]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)
    example = mnist_convnet()
    example.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    started = time.perf_counter()
    example.fit(mnist.images[..., None].astype("float32") / 255, keras.utils.to_categorical(mnist.labels, 10),
                batch_size=128, epochs=epochs, validation_split=0.1, verbose=0)
    print(f"trained mnist_convnet for {epochs} epoch(s) on {len(mnist):,} digits in {time.perf_counter() - started:.0f} s")
    ways = {
        "as the example saves it": example,
        "a flat row in, logits out": the_same_network(example, [layers.Reshape((28, 28, 1))], "linear", (784,)),
        "pixels 0–255": the_same_network(example, [layers.Rescaling(1 / 255)], "softmax", (28, 28, 1)),
    }
    paths = {}
    for number, (way, network) in enumerate(ways.items()):
        paths[way] = folder / f"convnet{number}.keras"
        network.save(paths[way])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get(config.MNIST_DIR_VARIABLE))
    parser.add_argument("--epochs", type=int, default=15)
    arguments = parser.parse_args()
    if not arguments.data:
        raise SystemExit("needs MNIST: --data PATH/TO/mnist or $DIGITCNN_MNIST_DIR")
    mnist, embedded = data.load_idx_folder(arguments.data), data.load_embedded()
    others = nondigits.generate(NON_DIGITS, seed=12345).images
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        paths = saved_three_ways(mnist, arguments.epochs, folder)
        print()
        print("| file | data scored on | input | pixels found (accuracy each way) | outputs | accuracy (card) | "
              "test digits refused | non-digits refused | import |")
        print("|---|---|---|---|---|---|---|---|---|")
        for number, (way, path) in enumerate(paths.items()):
            for data_name, dataset in (("embedded", embedded), ("MNIST", mnist)):
                name = f"convnet{number}-{data_name.lower()}"
                started = time.perf_counter()
                card = importing.import_file(path, name, dataset, folder / "models").card
                seconds = time.perf_counter() - started
                with start_up_lines_dropped():  # the converter's, as the predictor is made
                    predictor = registry.load_predictor(name, folder / "models")[0]
                refused = np.mean([predictor.read(image).digit is None for image in others])
                found = card.imported
                each_way = ", ".join(f"{pixels} {share * 100:.2f}%" for pixels, share in
                                     found["accuracy_by_pixels"].items())
                print(f"| {way} | {data_name} ({card.test_size:,}) | {tuple(found['input_shape'])} | "
                      f"{found['pixels']} ({each_way}) | {found['outputs']} | {card.test_accuracy * 100:.2f}% | "
                      f"{card.refusal_rule.test_refused * 100:.2f}% | {refused * 100:.1f}% of {NON_DIGITS:,} | "
                      f"{seconds:.1f} s |")
    print()
    print("The embedded sample is part of MNIST's training digits, on which this network trained: its scores there are "
          "on images it learned from (the cards say it is not known); MNIST's 10,000 test digits it never saw.")


if __name__ == "__main__":
    main()
