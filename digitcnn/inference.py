"""Running a model on images: ten probabilities per image."""

from __future__ import annotations

import contextlib
import io
import threading

import numpy as np

from digitcnn.data import IMAGE_SIDE, scale_images
from digitcnn.refusal import NEVER_REFUSE, Reading, RefusalRule

_DIRECT_CALL_LIMIT = 256  # below this many images, one direct call beats model.predict's overhead


def as_network_input(images: np.ndarray) -> np.ndarray:
    """Images as the network takes them, float32 (N, 28, 28, 1) in [0, 1].

    Accepts uint8 (0–255) or float (0–1) images of shape (28, 28), (N, 28, 28) or (N, 28, 28, 1).
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = scale_images(images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE))
    if images.shape[-2:] == (IMAGE_SIDE, IMAGE_SIDE):
        images = images[..., np.newaxis]
    if images.ndim == 3:
        images = images[np.newaxis]
    if images.ndim != 4 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE, 1):
        raise ValueError(f"expected 28×28 images, got an array of shape {images.shape}")
    return images.astype(np.float32, copy=False)


def predict_probabilities(model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The probability of each digit for each image, float (N, 10); rows sum to 1."""
    inputs = as_network_input(images)
    if len(inputs) <= _DIRECT_CALL_LIMIT:
        return np.asarray(model(inputs, training=False))
    return model.predict(inputs, batch_size=batch_size, verbose=0)


class Predictor:
    """A model ready to read one drawing at a time, fast: the model converted to LiteRT (the
    TensorFlow Lite runtime), whose interpreter answers in about a tenth of a millisecond, where
    ``model.predict`` takes tens. Converting takes about a second, once. Safe to share between
    threads: calls take turns on the one interpreter. ``refusal`` is the model's rule for saying
    "not a digit" (from its card); without one it always answers a digit."""

    def __init__(self, model, refusal: RefusalRule = NEVER_REFUSE):
        from ai_edge_litert.interpreter import Interpreter

        from digitcnn.runtime import apply_thread_setting

        apply_thread_setting()
        self._interpreter = Interpreter(model_content=_litert_flatbuffer(model), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._lock = threading.Lock()
        self.refusal = refusal
        self.model = model  # the Keras model itself, for what the interpreter cannot show (digitcnn.explain)

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """The ten probabilities for one 28×28 image (uint8, or float in [0, 1])."""
        inputs = as_network_input(image)
        if len(inputs) != 1:
            raise ValueError(f"expected one 28×28 image, got {len(inputs)}")
        with self._lock:
            self._interpreter.set_tensor(self._input, inputs)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output)[0].copy()

    def read(self, image: np.ndarray, threshold: float | None = None) -> Reading:
        """The digit in one 28×28 image, or None when it does not look like a digit: refused below
        ``threshold`` (by default the model's own, see :mod:`digitcnn.refusal`)."""
        return self.refusal.read(self.probabilities(image), threshold)


def _litert_flatbuffer(model) -> bytes:
    """The model as a LiteRT flatbuffer (float32, the same arithmetic as Keras)."""
    import tensorflow as tf

    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints where it saved its temporary files
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()
