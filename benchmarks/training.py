"""Training, side by side in one run, on the full MNIST (60,000 training, the canonical 10,000
test digits): the tutorial's `article` network (its recipe: 10 epochs), the default
architecture with the shipped model's recipe (read with three pens, as its card says), the Keras
example `mnist_convnet` with its own recipe (the anchor: keras.io/examples/vision/mnist_convnet), and
a classical scikit-learn baseline on raw pixels. Prints each one's test accuracy as it reads and
plain (the network alone), its training time and wall time, the ratios of its errors and of its
training time to the anchor's, training images per second, the rate of batch prediction over the
test set, and the parameter count. The shipped recipe is trained with each of ``--seeds`` (given, not chosen:
its figures are their mean, and each run's), the others with the tutorial's seed.

    python -m benchmarks.training [--data PATH/TO/mnist] [--only article,compact,keras-example,baseline] [--epochs N]
                                  [--seeds 1,2,3]

`--data` defaults to $DIGITCNN_MNIST_DIR. Each of digitcnn's networks is trained through
digitcnn.training, exactly as the app and the command line train it.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from digitcnn import config, data, training
from digitcnn.networks import architectures
from digitcnn.reading.inference import PLAIN, THREE_PENS, predict_probabilities

KERAS_EXAMPLE = "keras-example"
SHIPPED_READING = {architectures.DEFAULT_ARCHITECTURE: THREE_PENS}  # the shipped model's card: read with three pens

from benchmarks.common import machine


def train_network(dataset: data.Dataset, architecture: str, epochs: int | None, seed: int = 42) -> dict:
    epoch_seconds = []

    def on_progress(progress: training.Progress) -> None:
        if progress.stage == "epoch":
            epoch_seconds.append(progress.elapsed - sum(epoch_seconds))
            print(f"  {architecture} seed {seed} epoch {progress.epoch}/{progress.epochs}: {epoch_seconds[-1]:.1f} s, "
                  f"running accuracy {progress.accuracy:.2%}", flush=True)

    reading = SHIPPED_READING.get(architecture, PLAIN)
    settings = training.TrainingConfig(architecture=architecture, epochs=epochs, test_set="own",
                                       validate_each_epoch=False, reading=reading, seed=seed)
    started = time.perf_counter()
    result = training.train(dataset, settings, on_progress=on_progress)
    wall = time.perf_counter() - started
    predicted = time.perf_counter()
    predict_probabilities(result.model, dataset.test.images)
    prediction_seconds = time.perf_counter() - predicted
    plain = result.test_evaluation if reading == PLAIN else training.evaluate_model(result.model, dataset.test)
    return {
        "model": f"{architecture} ({settings.epochs} epochs, read {reading}, {result.config.precision})"
                 + (f", seed {seed}" if architecture in SHIPPED_READING else ""),
        "test accuracy": result.test_evaluation.accuracy,
        "plain accuracy": plain.accuracy,
        "training s": result.training_seconds,
        "wall s": wall,
        "train img/s": settings.epochs * len(result.split.train) / result.training_seconds,
        "predict img/s": len(dataset.test) / prediction_seconds,
        "parameters": result.model.count_params(),
    }


def _mean(rows: list[dict], model: str) -> dict:
    """The mean of ``rows``' figures, as a row named ``model`` (the parameter count, the same in each, as it is)."""
    return {"model": model, "parameters": rows[0]["parameters"],
            **{key: sum(row[key] for row in rows) / len(rows) for key in rows[0] if key not in ("model", "parameters")}}


def train_keras_example(dataset: data.Dataset) -> dict:
    """Keras's own MNIST convnet example as it is published (keras.io/examples/vision/mnist_convnet): two
    convolutions with max pooling, dropout, 15 epochs in batches of 128 with Adam, a tenth of the training images
    held out to validate. Trained here with plain Keras, outside digitcnn: the anchor the other rows are read
    against."""
    import keras
    import numpy as np

    images = (dataset.images.astype("float32") / 255.0)[..., np.newaxis]
    test_images = (dataset.test.images.astype("float32") / 255.0)[..., np.newaxis]
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    epochs = 15
    started = time.perf_counter()
    model.fit(images, keras.utils.to_categorical(dataset.labels, 10), batch_size=128, epochs=epochs,
              validation_split=0.1, verbose=2)
    seconds = time.perf_counter() - started
    predicted = time.perf_counter()
    probabilities = model.predict(test_images, batch_size=512, verbose=0)
    prediction_seconds = time.perf_counter() - predicted
    accuracy = float((probabilities.argmax(axis=1) == dataset.test.labels).mean())
    return {
        "model": f"Keras example mnist_convnet ({epochs} epochs)",
        "test accuracy": accuracy,
        "plain accuracy": accuracy,
        "training s": seconds,
        "wall s": seconds,
        "train img/s": epochs * round(len(dataset) * 0.9) / seconds,
        "predict img/s": len(dataset.test) / prediction_seconds,
        "parameters": model.count_params(),
    }


def train_baseline(dataset: data.Dataset) -> dict:
    """Logistic regression on the 784 pixels scaled to [0, 1]: what a CNN must beat."""
    from sklearn.linear_model import LogisticRegression

    pixels = dataset.images.reshape(len(dataset), -1) / 255.0
    test_pixels = dataset.test.images.reshape(len(dataset.test), -1) / 255.0
    classifier = LogisticRegression(max_iter=200, tol=1e-3)
    started = time.perf_counter()
    classifier.fit(pixels, dataset.labels)
    seconds = time.perf_counter() - started
    predicted = time.perf_counter()
    accuracy = float((classifier.predict(test_pixels) == dataset.test.labels).mean())
    prediction_seconds = time.perf_counter() - predicted
    return {
        "model": "logistic regression (scikit-learn)",
        "test accuracy": accuracy,
        "plain accuracy": accuracy,
        "training s": seconds,
        "wall s": seconds,
        "train img/s": classifier.n_iter_.max() * len(dataset) / seconds,
        "predict img/s": len(dataset.test) / prediction_seconds,
        "parameters": classifier.coef_.size + classifier.intercept_.size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get(config.MNIST_DIR_VARIABLE),
                        help="a folder of the MNIST IDX files (default: $DIGITCNN_MNIST_DIR)")
    parser.add_argument("--only", default=f"article,{architectures.DEFAULT_ARCHITECTURE},{KERAS_EXAMPLE},baseline",
                        help=f"which to run, comma-separated: architecture names, '{KERAS_EXAMPLE}' and 'baseline'")
    parser.add_argument("--epochs", type=int, help="override every network's recipe (quick trials)")
    parser.add_argument("--seeds", default="1,2,3", type=lambda text: [int(seed) for seed in text.split(",")],
                        help="the seeds the shipped recipe is trained with, comma-separated (default: 1,2,3)")
    arguments = parser.parse_args()
    if not arguments.data:
        parser.error(f"name the MNIST folder with --data or ${config.MNIST_DIR_VARIABLE}")
    dataset = data.load_dataset(arguments.data)
    print(f"{machine()}; {len(dataset):,} training and {len(dataset.test):,} test images", flush=True)

    rows = []
    for name in arguments.only.split(","):
        if name == "baseline":
            rows.append(train_baseline(dataset))
        elif name == KERAS_EXAMPLE:
            rows.append(train_keras_example(dataset))
        elif name in SHIPPED_READING:
            runs = [train_network(dataset, name, arguments.epochs, seed) for seed in arguments.seeds]
            rows.extend(runs)
            if len(runs) > 1:
                rows.append(_mean(runs, f"{name}, mean of the {len(runs)} seeds"))
        else:
            rows.append(train_network(dataset, name, arguments.epochs))
    anchor = next((row for row in rows if row["model"].startswith("Keras example")), None)

    print()
    print(f"{'model':58} {'test acc':>9} {'plain':>7} {'train s':>8} {'wall s':>7} {'errors ÷ anchor':>16} "
          f"{'time ÷ anchor':>14} {'train img/s':>12} {'predict img/s':>14} {'params':>9}")
    for row in rows:
        errors = (f"{(1 - row['test accuracy']) / (1 - anchor['test accuracy']):.2f}" if anchor else "—")
        seconds = f"{row['training s'] / anchor['training s']:.2f}" if anchor else "—"
        print(f"{row['model']:58} {row['test accuracy']:>9.2%} {row['plain accuracy']:>7.2%} "
              f"{row['training s']:>8.1f} {row['wall s']:>7.1f} {errors:>16} {seconds:>14} "
              f"{row['train img/s']:>12,.0f} {row['predict img/s']:>14,.0f} {row['parameters']:>9,}")


if __name__ == "__main__":
    main()
