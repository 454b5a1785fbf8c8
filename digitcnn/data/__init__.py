"""The data layer: datasets of 28×28 digits, where they come from, how they are checked, how they are split;
the pictures users draw and keep; what a model trained on.

Every source ends as a :class:`Dataset` (uint8 images N×28×28, int labels 0–9, the name of its
source, and the source's own test set when it has one). Loading validates as it goes: a bad
file raises :class:`~digitcnn.errors.DataError` naming the file, the line and the column.

One module per kind of source, each turning its files into a Dataset::

    name or path ──► sources.load_dataset ──► named_sources (embedded sample, Keras's MNIST) ─┐
                                          ├─► idx_files (a folder of MNIST's IDX files) ──────┤
                                          ├─► npz_files (Keras's mnist.npz layout) ───────────┼─► dataset.Dataset
                                          └─► csv_files (the tutorial's CSV; uploads as bytes) ┘     │
                                                                                split_dataset, scale_images

- :mod:`~digitcnn.data.dataset`: the :class:`Dataset` type, the image size, :data:`NOT_A_DIGIT`, the size
  limit every reader checks headers against (:data:`MAX_PIXELS`), the split and the scaling;
- :mod:`~digitcnn.data.sources`: :func:`load_dataset` (a name or a path to the module that reads it) and
  :func:`available_sources` (what a user can pick);
- :mod:`~digitcnn.data.named_sources`, :mod:`~digitcnn.data.idx_files`, :mod:`~digitcnn.data.npz_files`,
  :mod:`~digitcnn.data.csv_files`: the readers (and the CSV writer);
- :mod:`~digitcnn.data.download` fetches the full MNIST as IDX files; :mod:`~digitcnn.data.drawings` keeps
  users' drawings (whose they are: :mod:`~digitcnn.data.writers`); :mod:`~digitcnn.data.preprocess` turns a
  canvas or a photo into a 28×28 digit; :mod:`~digitcnn.data.nondigits` draws pictures that are no digit;
  :mod:`~digitcnn.data.seen` fingerprints images to tell what a model trained on;
  :mod:`~digitcnn.data.summary` describes a dataset.

The names below are re-exported for callers (``from digitcnn import data; data.load_dataset(...)``); modules of
this package import each from the module that defines it.
"""

from digitcnn.data.csv_files import (CSV_COLUMN_COUNT, CSV_LABEL_HEADER, LABEL_COLUMN_NAMES, load_csv, load_csv_bytes,
                                     write_csv)
from digitcnn.data.dataset import (IMAGE_SIDE, MAX_PIXELS, NOT_A_DIGIT, PIXEL_COUNT, Dataset, scale_images,
                                   split_dataset)
from digitcnn.data.idx_files import load_idx_folder, read_idx
from digitcnn.data.named_sources import (EMBEDDED, KERAS_CACHE, KERAS_DOWNLOAD, NAMED_SOURCES, download_keras_mnist,
                                         embedded_csv_path, load_embedded, load_keras_cache)
from digitcnn.data.npz_files import load_npz
from digitcnn.data.sources import SourceChoice, available_sources, load_dataset
from digitcnn.errors import DataError  # the error every source raises, for callers that catch it as data.DataError

__all__ = [
    "CSV_COLUMN_COUNT", "CSV_LABEL_HEADER", "EMBEDDED", "IMAGE_SIDE", "KERAS_CACHE", "KERAS_DOWNLOAD",
    "LABEL_COLUMN_NAMES", "MAX_PIXELS", "NAMED_SOURCES", "NOT_A_DIGIT", "PIXEL_COUNT", "DataError", "Dataset",
    "SourceChoice", "available_sources", "download_keras_mnist", "embedded_csv_path", "load_csv", "load_csv_bytes",
    "load_dataset", "load_embedded", "load_idx_folder", "load_keras_cache", "load_npz", "read_idx", "scale_images",
    "split_dataset", "write_csv",
]
