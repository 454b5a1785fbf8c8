"""Running a model on images: ten probabilities per image (and the features a refusal rule reads).

A model reads a picture one of :data:`READINGS` ways, as its card says (its settings' ``reading``):

* ``plain``: the network's answer for the picture as it is;
* ``three-pens``: the average of its answers for the picture as drawn, with a bolder pen and with a finer one
  (each half-way to the picture's 3×3 dilation or erosion: :mod:`digitcnn.reading.pens`). Other writers' pens are rarely
  MNIST's, and three readings of one picture agree where one might slip. Measured on the shipped model (trained
  with strokes made bolder and finer, see :mod:`digitcnn.training`): MNIST's test 99.42% plain, 99.60% with the
  three pens; re-drawn scikit-learn digits (``benchmarks.drawn_digits``) 94.82% and 96.05% (the previous shipped
  model: 99.53% and 99.61%, 94.55% and 95.72%). It takes three times the network's work.

The features a refusal rule reads are always those of the picture as drawn: the digit-likeness was fitted to them.
"""

from __future__ import annotations

import contextlib
import io
import threading
import weakref
from collections.abc import Iterator

import numpy as np
from PIL import Image

from digitcnn.reading import pens
from digitcnn.data import IMAGE_SIDE, scale_images
from digitcnn.data.preprocess import photo_to_mnist, read_image
from digitcnn.networks.architectures import CLASS_COUNT
from digitcnn.reading.refusal import NEVER_REFUSE, Reading, RefusalRule

_DIRECT_CALL_LIMIT = 256  # below this many images, one direct call beats model.predict's overhead
PLAIN, THREE_PENS = "plain", "three-pens"
READINGS = (PLAIN, THREE_PENS)
READING_WORDS = {PLAIN: "as drawn", THREE_PENS: "as drawn, bolder and finer"}  # how a page says each reading
# The interpreter's threads for a reading with three pens (within $DIGITCNN_THREADS): its three pictures' network
# took 0.23 ms on two, 0.38 ms on one (2-core AMD EPYC); readings take turns, so at most two cores read at once.
THREE_PENS_THREADS = 2


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


def predict_probabilities(model, images: np.ndarray, batch_size: int = 512, reading: str = PLAIN) -> np.ndarray:
    """The probability of each digit for each image, float (N, 10), read the ``reading`` way; rows sum to 1."""
    variants = pen_variants(as_network_input(images), reading)
    return np.mean([_predict(model, variant, batch_size) for variant in variants], axis=0)


def predict_with_features(model, images: np.ndarray, batch_size: int = 512, reading: str = PLAIN
                          ) -> tuple[np.ndarray, np.ndarray]:
    """The probabilities (N, 10), read the ``reading`` way, and the network's features (N, F: what its last layer
    takes) for each image as drawn."""
    both = _with_features(model)
    variants = pen_variants(as_network_input(images), reading)
    as_drawn, features = _predict(both, next(variants), batch_size)  # the first variant: the pictures as drawn
    # The other pens' features are dropped as they come: 60,000 pictures' are 750 MB.
    others = [_predict(both, variant, batch_size)[0] for variant in variants]
    return np.mean([as_drawn, *others], axis=0), features


def pen_variants(inputs: np.ndarray, reading: str = THREE_PENS) -> Iterator[np.ndarray]:
    """The pictures ``inputs`` (N, 28, 28, 1, floats in [0, 1]) as a ``reading`` reads them, one variant after the
    other (three copies of 60,000 pictures would take half a gigabyte): as drawn first, then (for ``three-pens``)
    redrawn half-way to a bolder pen, and to a finer one."""
    return _variants(inputs, _checked(reading))


def _checked(reading: str) -> str:
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {', '.join(READINGS)}, got {reading!r}")
    return reading


def _variants(inputs: np.ndarray, reading: str) -> Iterator[np.ndarray]:
    yield inputs
    if reading == THREE_PENS:
        for pen in (pens.bolder, pens.finer):
            yield np.asarray(pens.redrawn(inputs, pen))


def _predict(model, inputs: np.ndarray, batch_size: int):
    if len(inputs) <= _DIRECT_CALL_LIMIT:
        outputs = model(inputs, training=False)
        return tuple(map(np.asarray, outputs)) if isinstance(outputs, (list, tuple)) else np.asarray(outputs)
    outputs = model.predict(inputs, batch_size=batch_size, verbose=0)
    return tuple(outputs) if isinstance(outputs, list) else outputs


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
    the network's features too, which the interpreter then gives with the probabilities. ``reading`` is how the
    model reads (its card's, see the module's notes): the three pens are part of the interpreter's graph (the
    pictures made and the answers averaged in the interpreter, on :data:`THREE_PENS_THREADS` threads: about 0.3 ms
    a drawing, where making the pictures in NumPy around one thread's interpreter took 0.8).

    Given ``flatbuffer``, what :func:`litert_flatbuffer` made of the model before (a saved model's is kept, see
    :func:`digitcnn.storage.registry.load_predictor`), it reads without TensorFlow, and ``model`` is a function that loads
    the Keras model, called the first time :attr:`model` is asked for."""

    def __init__(self, model, refusal: RefusalRule = NEVER_REFUSE, reading: str = PLAIN,
                 flatbuffer: bytes | None = None, card=None):
        from ai_edge_litert.interpreter import Interpreter

        from digitcnn.runtime import thread_cap

        reading = _checked(reading)
        self.card = card  # a saved model's card (loaded by name): what it is, how it was trained; else None
        self._model, self._load_model, self._model_lock = None, model, threading.Lock()
        if flatbuffer is None:
            self._model = model
            flatbuffer = litert_flatbuffer(model, reading, features=refusal.likeness is not None)
        threads = 1 if reading == PLAIN else min(THREE_PENS_THREADS, thread_cap() or THREE_PENS_THREADS)
        self._interpreter = Interpreter(model_content=flatbuffer, num_threads=threads)
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
        self.reading = reading

    @property
    def model(self):
        """The Keras model itself, for what the interpreter cannot show (:mod:`digitcnn.reading.explain`); loaded the first
        time it is asked for when the predictor was made from a flatbuffer."""
        with self._model_lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """The ten probabilities for one 28×28 image (uint8, or float in [0, 1])."""
        return self._run(image)[0]

    def probabilities_and_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The probabilities (N×10) of many 28×28 images, read one at a time as drawings are, and their features
        when the rule reads them (else None): what scoring a saved model takes without TensorFlow."""
        runs = [self._run(image) for image in images]
        probabilities = np.stack([probabilities for probabilities, _ in runs])
        return probabilities, None if self._features is None else np.stack([features for _, features in runs])

    def read(self, image: np.ndarray, threshold: float | None = None) -> Reading:
        """The digit in one 28×28 image, or None when it does not look like a digit: refused below
        ``threshold`` (by default the model's own, see :mod:`digitcnn.reading.refusal`)."""
        return self.refusal.read(*self._run(image), threshold=threshold)

    def read_picture(self, picture, threshold: float | None = None) -> Reading:
        """The digit in a picture of one digit: a path or a file object (read by
        :func:`~digitcnn.data.preprocess.read_image`) or a PIL image, a photo, a scan or a drawing of any size, dark
        on light or light on dark, laid out as MNIST's digits first (:func:`~digitcnn.data.preprocess.photo_to_mnist`),
        then read as :meth:`read` reads. A file that is not a picture raises :class:`~digitcnn.errors.ImageError`, a
        picture with nothing drawn :class:`~digitcnn.errors.EmptyDrawingError`."""
        image = picture if isinstance(picture, Image.Image) else read_image(picture)
        return self.read(photo_to_mnist(image), threshold)

    def read_number(self, picture, threshold: float | None = None):
        """The number written in a picture of a row of digits (a canvas's RGBA array, a PIL image, a path or a file
        object), each digit read as :meth:`read` reads: a :class:`~digitcnn.reading.numbers.NumberReading`, whose
        ``text`` is the number. See :func:`digitcnn.reading.numbers.read_number`, which raises the same errors as
        :meth:`read_picture`."""
        from digitcnn.reading.numbers import read_number  # numbers reads with a predictor: it never imports this

        return read_number(picture, self, threshold)

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


def litert_flatbuffer(model, reading: str = PLAIN, features: bool = False) -> bytes:
    """The model, reading one picture the ``reading`` way, as a LiteRT flatbuffer (float32, the same arithmetic as
    Keras), what :class:`Predictor` runs; with ``features``, it gives the network's features too (what a refusal
    rule with a digit-likeness reads). With three pens, the graph makes the three pictures, runs the network on them
    as one batch and gives the mean of their probabilities (and the features of the picture as drawn). Takes
    TensorFlow, and about a second."""
    import tensorflow as tf

    from digitcnn.runtime import apply_thread_setting

    apply_thread_setting()
    model = _with_features(model) if features else model
    reader = model if reading == PLAIN else _reading_with_three_pens(model)
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints where it saved its temporary files
        return tf.lite.TFLiteConverter.from_keras_model(reader).convert()


def _reading_with_three_pens(model):
    """A Keras model of one picture whose graph reads it with three pens, through ``model`` (whose first output is
    the probabilities; any other, features, is given for the picture as drawn). Built for conversion only: a
    concrete function of the same calls converted with its variables unset (NaN answers)."""
    import keras

    picture = keras.Input((IMAGE_SIDE, IMAGE_SIDE, 1), batch_size=1)
    outputs = model(keras.layers.Lambda(pens.three_pens)(picture))
    probabilities, *features = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    mean = keras.layers.Lambda(lambda each: keras.ops.mean(each, axis=0, keepdims=True))(probabilities)
    as_drawn = [keras.layers.Lambda(lambda each: each[:1])(each) for each in features]
    return keras.Model(picture, [mean, *as_drawn])
