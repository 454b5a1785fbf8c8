"""Running a model on images: ten probabilities per image (and the features a refusal rule reads)."""

from __future__ import annotations

import contextlib
import io
import threading
import weakref

import numpy as np

from digitcnn.data import IMAGE_SIDE, scale_images
from digitcnn.models import CLASS_COUNT
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


def predict_with_features(model, images: np.ndarray, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """The probabilities (N, 10) and the network's features (N, F: what its last layer takes) for each image."""
    inputs = as_network_input(images)
    both = _with_features(model)
    if len(inputs) <= _DIRECT_CALL_LIMIT:
        probabilities, features = both(inputs, training=False)
        return np.asarray(probabilities), np.asarray(features)
    probabilities, features = both.predict(inputs, batch_size=batch_size, verbose=0)
    return probabilities, features


_WITH_FEATURES = weakref.WeakKeyDictionary()  # model → its two-output twin, made once (Keras traces each new one)


def _with_features(model):
    """``model`` giving two outputs, its probabilities and the input of its last layer (sharing its weights)."""
    import keras

    twin = _WITH_FEATURES.get(model)
    if twin is None:
        twin = _WITH_FEATURES[model] = keras.Model(model.inputs[0], [model.outputs[0], model.layers[-1].input])
    return twin


class Predictor:
    """A model ready to read one drawing at a time, fast: the model converted to LiteRT (the
    TensorFlow Lite runtime), whose interpreter answers in about a tenth of a millisecond, where
    ``model.predict`` takes tens. Converting takes about a second, once. Safe to share between
    threads: calls take turns on the one interpreter. ``refusal`` is the model's rule for saying
    "not a digit" (from its card); without one it always answers a digit. A rule with a digit-likeness reads
    the network's features too, which the interpreter then gives with the probabilities."""

    def __init__(self, model, refusal: RefusalRule = NEVER_REFUSE):
        from ai_edge_litert.interpreter import Interpreter

        from digitcnn.runtime import apply_thread_setting

        apply_thread_setting()
        # A rule with a digit-likeness reads the network's features too: the interpreter then gives both.
        converted = _with_features(model) if refusal.likeness is not None else model
        self._interpreter = Interpreter(model_content=_litert_flatbuffer(converted), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {int(np.prod(detail["shape"])): detail["index"] for detail in self._interpreter.get_output_details()}
        self._output = outputs[CLASS_COUNT]
        self._features = None
        if refusal.likeness is not None:
            self._features = outputs.get(len(refusal.likeness.weights))
            if self._features is None:
                raise ValueError(f"the refusal rule reads {len(refusal.likeness.weights)} features; this network "
                                 f"gives {', '.join(map(str, outputs))}")
        self._lock = threading.Lock()
        self.refusal = refusal
        self.model = model  # the Keras model itself, for what the interpreter cannot show (digitcnn.explain)

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """The ten probabilities for one 28×28 image (uint8, or float in [0, 1])."""
        return self._run(image)[0]

    def read(self, image: np.ndarray, threshold: float | None = None) -> Reading:
        """The digit in one 28×28 image, or None when it does not look like a digit: refused below
        ``threshold`` (by default the model's own, see :mod:`digitcnn.refusal`)."""
        return self.refusal.read(*self._run(image), threshold=threshold)

    def _run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The probabilities of one image, and its features when the rule reads them."""
        inputs = as_network_input(image)
        if len(inputs) != 1:
            raise ValueError(f"expected one 28×28 image, got {len(inputs)}")
        with self._lock:
            self._interpreter.set_tensor(self._input, inputs)
            self._interpreter.invoke()
            probabilities = self._interpreter.get_tensor(self._output)[0].copy()
            features = None if self._features is None else self._interpreter.get_tensor(self._features)[0].copy()
        return probabilities, features


def _litert_flatbuffer(model) -> bytes:
    """The model as a LiteRT flatbuffer (float32, the same arithmetic as Keras)."""
    import tensorflow as tf

    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints where it saved its temporary files
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()
