"""Looking inside a reading: what each convolution stage sees, which pixels made the answer, and
what small change to the drawing would change it.

Every function takes ``image`` as :class:`digitcnn.reading.inference.Predictor` does: a 28×28 MNIST-style
image, float32 in [0, 1] (uint8 0–255 is accepted too), white ink on black. The model is any saved
Keras model that maps 28×28×1 images to ten softmax probabilities: layers are found by what they
are and what shape they give, never by name, so the tutorial's ``article`` network, the
``compact`` one and later ones all work.

TensorFlow and Keras are imported inside the functions that need them, so that a page can import
this module without paying for them. What is built for a model (a multi-output probe model, the
compiled gradient function) is cached per model object and goes when the model does.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Callable

import numpy as np

from digitcnn.data import IMAGE_SIDE
from digitcnn.reading.inference import as_network_input

# Integrated-gradient steps. Measured on 50 MNIST test digits with the shipped model, the attributions'
# completeness error (how far their sum misses the change in the answer's logit from black to the
# drawing) is 30% at 8 steps (median; 58% for one digit in ten), 6% at 16 (17%) and 3% at 32 (8%);
# the pixel-removal test (tests/test_explain.py) scores 8, 16 and 32 steps alike. 16 is where the
# map is as good as its picture needs, for half the time of 32.
DEFAULT_STEPS = 16
MAX_ROTATION = 45  # degrees either way that smallest_flip("rotation") tries, in 1° steps
MAX_SHIFT = 6  # pixels in each direction that smallest_flip("shift") tries

# Layers that act on each value of the map before them without moving it (normalization, an
# activation): a stage's map is shown after them, as the next stage sees it. A convolution's
# raw output, before its batch normalization and ReLU, is on an arbitrary scale with negative
# values the network then throws away; after them, a bright place is what the next layer takes in.
_FOLLOW_UP_CLASSES = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "PReLU", "ELU",
                      "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout")

# Layers that only bring the picture in (its input, a scaling of its pixels, a new shape): no stage of their own. A
# network made elsewhere often starts with them (see digitcnn.networks.adapting).
_INPUT_CLASSES = ("InputLayer", "Rescaling", "Normalization", "Reshape")

_probes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model → _Probe


# ---------------------------------------------------------------------------------------------
# Activation maps and logits


def activation_maps(model, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """What each convolution and pooling stage of ``model`` gives for ``image``, in order: its name
    and its output, float32 H×W×C.

    A stage is every layer whose output is an image (4-D: batch, H, W, C), such as Conv2D,
    MaxPooling2D or AveragePooling2D. The normalization and activation layers right after a
    stage (BatchNormalization, ReLU…) are folded into it: the map is taken after them and keeps
    the stage's name, so "conv2d_1" shows the features the next layer reads. One forward pass
    gives every map.
    """
    probe = _probe(model)
    outputs = probe.forward(as_network_input(image))
    return [(name, np.asarray(output)[0]) for name, output in zip(probe.stage_names, outputs[:-1])]


def channel_order(maps: np.ndarray) -> np.ndarray:
    """The channels of an H×W×C map, strongest first: sorted by their mean activation (a channel
    lit over a whole stroke ranks above one lit at a single pixel, which its maximum would not say)."""
    maps = np.asarray(maps)
    return np.argsort(-maps.reshape(-1, maps.shape[-1]).mean(axis=0), kind="stable")


def logits_and_probabilities(model, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The last layer's ten values before the softmax (the logits; any temperature the model was
    calibrated with is in them, see :mod:`digitcnn.networks.calibration`) and the ten probabilities."""
    probe = _probe(model)
    logits = np.asarray(probe.forward(as_network_input(image))[-1])[0].astype(np.float64)
    shifted = np.exp(logits - logits.max())
    return logits.astype(np.float32), (shifted / shifted.sum()).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Attribution


def attribution(model, image: np.ndarray, digit: int | None = None, steps: int = DEFAULT_STEPS) -> np.ndarray:
    """How much each pixel of ``image`` counts for ``digit`` (by default the model's answer): a
    28×28 float32 map, positive where ink is evidence for it, negative where it is evidence against.

    Integrated Gradients (Sundararajan et al., 2017) from a black image, MNIST's background, so
    that a pixel's score is its share of the change in the digit's logit between no ink and this
    drawing, and the scores add up to that change. The target is the logit, not the
    log-probability: the log-probability also rises when other digits' evidence falls, so its map
    credits the pixels that argue against the rivals as much as those that argue for the digit;
    the logit asks about the digit alone (and the pixel-removal test found it at least as
    faithful). All ``steps`` + 1 points of the path go through the network in one batch.
    """
    weights = np.zeros(10, np.float32)
    if digit is not None:
        weights[_digit(digit)] = 1.0
    return _integrated_gradients(model, image, weights, steps)


def contrast(model, image: np.ndarray, digit: int, other: int, steps: int = DEFAULT_STEPS) -> np.ndarray:
    """Why ``digit`` and not ``other``: ``attribution(digit) − attribution(other)``, 28×28; positive
    where the ink speaks for ``digit`` over ``other``. Integrated gradients are linear in the
    target, so this is one pass on the difference of the two logits, not two."""
    if _digit(digit) == _digit(other):  # nothing tells a digit from itself (and no weights means "the answer")
        return np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.float32)
    weights = np.zeros(10, np.float32)
    weights[digit] = 1.0
    weights[other] = -1.0
    return _integrated_gradients(model, image, weights, steps)


def _integrated_gradients(model, image: np.ndarray, weights: np.ndarray, steps: int) -> np.ndarray:
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    image = as_network_input(image)
    if len(image) != 1:
        raise ValueError(f"expected one 28×28 image, got {len(image)}")
    gradients = _probe(model).gradient_function(steps)(image, weights)
    return (image[0, :, :, 0] * np.asarray(gradients)).astype(np.float32)


def _digit(digit: int) -> int:
    if not 0 <= int(digit) <= 9:
        raise ValueError(f"a digit is 0–9, got {digit}")
    return int(digit)


# ---------------------------------------------------------------------------------------------
# The model's parts, built once per model


class _Probe:
    """A model taken apart: which of its layers are stages, a model that outputs every stage's map
    and the logits in one pass, and compiled gradient functions (one per number of steps)."""

    def __init__(self, model):
        import keras
        import tensorflow as tf

        names, tensors = [], []
        for layer in model.layers:
            output = layer.output
            if len(output.shape) != 4 or type(layer).__name__ in _INPUT_CLASSES:
                continue
            follows = tensors and any(cls.__name__ in _FOLLOW_UP_CLASSES for cls in type(layer).__mro__)
            if follows and tuple(output.shape) == tuple(tensors[-1].shape):
                tensors[-1] = output  # the stage's map after its normalization/activation
            else:
                names.append(layer.name)
                tensors.append(output)
        self.stage_names = names
        features, self._head = _logit_head(model)
        probe = keras.Model(model.inputs, [*tensors, features])

        def forward(images):
            outputs = probe(images, training=False)
            # A network without a convolution stage (layers of neurons only) gives its features alone, not a list.
            *maps, last = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            return [*maps, self._head(last)]

        # One input shape (a single image), so one trace; later calls skip Keras's eager overhead.
        self.forward = tf.function(forward, input_signature=[tf.TensorSpec([1, IMAGE_SIDE, IMAGE_SIDE, 1], tf.float32)])
        self._features = keras.Model(model.inputs, features)
        self._gradients: dict[int, Callable] = {}

    def gradient_function(self, steps: int) -> Callable:
        """``(image (1, 28, 28, 1), weights (10,)) → 28×28 average gradient`` of ``weights · logits``
        along the straight path from black to the image, trapezoid rule over ``steps`` intervals.
        All-zero ``weights`` stand for the model's answer on the image itself (the path's last point)."""
        if steps not in self._gradients:
            import tensorflow as tf

            alphas = tf.linspace(0.0, 1.0, steps + 1)[:, tf.newaxis, tf.newaxis, tf.newaxis]
            rule = np.full(steps + 1, 1.0 / steps, np.float32)
            rule[[0, -1]] /= 2
            rule = tf.constant(rule)[:, tf.newaxis, tf.newaxis]

            def gradients(image, weights):
                path = alphas * image
                with tf.GradientTape() as tape:
                    tape.watch(path)
                    logits = self._head(self._features(path, training=False))
                    answer = tf.one_hot(tf.argmax(logits[-1]), 10)
                    target = tf.where(tf.reduce_any(weights != 0), weights, tf.stop_gradient(answer))
                    total = tf.reduce_sum(logits * target)  # each path point's gradient is its own
                return tf.reduce_sum(tape.gradient(total, path)[..., 0] * rule, axis=0)

            self._gradients[steps] = tf.function(gradients, input_signature=[
                tf.TensorSpec([1, IMAGE_SIDE, IMAGE_SIDE, 1], tf.float32), tf.TensorSpec([10], tf.float32)])
        return self._gradients[steps]


def _probe(model) -> _Probe:
    if model not in _probes:
        _probes[model] = _Probe(model)
    return _probes[model]


def _logit_head(model):
    """The tensor the logits are computed from, and the function that computes them.

    A softmax Dense layer last (this project's models): its input, and the layer's affine part
    without the softmax. A separate softmax layer last: its input, as it is. Anything else: the
    output, whose logarithm is the logits up to a constant that changes no comparison.
    """
    import keras

    last = model.layers[-1]
    if isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax:
        def affine(features):
            logits = keras.ops.matmul(features, last.kernel)
            return logits + last.bias if last.use_bias else logits

        return last.input, affine
    if isinstance(last, keras.layers.Softmax) or (
            isinstance(last, keras.layers.Activation) and last.activation is keras.activations.softmax):
        return last.input, lambda features: features
    return model.outputs[0], lambda probabilities: keras.ops.log(keras.ops.maximum(probabilities, 1e-30))


# ---------------------------------------------------------------------------------------------
# What changes its mind


def transformed(image: np.ndarray, rotation: float = 0.0, shift: tuple[float, float] = (0, 0), scale: float = 1.0,
                stroke: float = 0.0) -> np.ndarray:
    """``image`` (28×28) changed as a hand might have drawn it: turned ``rotation`` degrees
    (positive: clockwise) and scaled by ``scale`` about the ink's centre of mass (where MNIST puts
    a digit's centre, so a turn or zoom does not also move it), then moved ``shift`` = (right,
    down) pixels, and drawn with a pen ``stroke`` thicker (0 to 1) or thinner (−1 to 0): blended
    that far towards its 3×3 grey dilation or erosion, as training varies it (see
    :func:`digitcnn.training.augmentation.vary_stroke_width`). Bilinear, black outside; float32 in [0, 1].
    """
    from scipy import ndimage

    image = as_network_input(image)[0, :, :, 0]
    if not -1.0 <= stroke <= 1.0:
        raise ValueError(f"stroke is between -1 (thinner) and 1 (thicker), got {stroke}")
    if scale <= 0:
        raise ValueError(f"scale must be above 0, got {scale}")
    if stroke > 0:
        image = image + stroke * (ndimage.grey_dilation(image, size=(3, 3)) - image)
    elif stroke < 0:
        image = image - stroke * (ndimage.grey_erosion(image, size=(3, 3)) - image)
    return _warped(image, [rotation], [shift], scale)[0]


def _warped(image: np.ndarray, rotations, shifts, scale: float = 1.0) -> np.ndarray:
    """``image`` turned by each of ``rotations`` (degrees clockwise) and scaled about its ink's
    centre of mass, then moved by the matching (right, down) of ``shifts``: (K, 28, 28) float32,
    every version sampled in one bilinear ``map_coordinates`` call (a search tries hundreds)."""
    from scipy import ndimage

    centre = _centre_of_mass(image)
    angles = np.radians(np.asarray(rotations, dtype=np.float64))
    cos, sin = np.cos(angles), np.sin(angles)
    # Each output pixel reads from the input place the inverse change takes it to: move back, then
    # turn back by θ anticlockwise on screen (rows grow downwards, so a clockwise turn is a
    # positive angle here) and undo the zoom, all about the centre of mass.
    inverse = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2) / scale  # (K, 2, 2)
    moves = np.asarray(shifts, dtype=np.float64)[:, ::-1]  # (right, down) → (rows, columns)
    rows, columns = np.indices(image.shape, dtype=np.float64)
    relative = np.stack([rows, columns])[np.newaxis] - (centre + moves)[:, :, np.newaxis, np.newaxis]
    places = np.einsum("kij,kjhw->ikhw", inverse, relative) + centre[:, np.newaxis, np.newaxis, np.newaxis]
    result = ndimage.map_coordinates(image, places, order=1, mode="constant", cval=0.0)
    return np.clip(result, 0.0, 1.0).astype(np.float32)


def _centre_of_mass(image: np.ndarray) -> np.ndarray:
    """(row, column) of the ink's centre of mass; the field's centre for a blank image."""
    total = float(image.sum())
    if total <= 0:
        return np.array([13.5, 13.5])
    rows, columns = np.indices(image.shape)
    return np.array([(rows * image).sum() / total, (columns * image).sum() / total])


@dataclass(frozen=True)
class Flip:
    """The smallest change found that makes the model answer otherwise: ``kind`` is "rotation"
    (``rotation`` degrees, positive clockwise) or "shift" (``shift`` = pixels right, down); the
    answer then, ``digit`` (None: not a digit), with its reading's ``score`` (see
    :class:`digitcnn.reading.refusal.Reading`), and the answer before, ``was`` (None: not a digit)."""

    kind: str
    rotation: float
    shift: tuple[int, int]
    digit: int | None
    score: float
    was: int | None

    def describe(self) -> str:
        """The change in words: "turned 23° clockwise it reads 7", "moved 3 px left and 1 px up it reads 7",
        "turned 5° anticlockwise it reads as not a digit"."""
        if self.kind == "rotation":
            direction = "clockwise" if self.rotation > 0 else "anticlockwise"
            change = f"turned {abs(self.rotation):g}° {direction}"
        else:
            dx, dy = self.shift
            parts = [f"{abs(dx)} px {'right' if dx > 0 else 'left'}"] if dx else []
            parts += [f"{abs(dy)} px {'down' if dy > 0 else 'up'}"] if dy else []
            change = "moved " + " and ".join(parts)
        return f"{change} it reads {'as not a digit' if self.digit is None else self.digit}"


FLIP_KINDS = ("rotation", "shift")


def smallest_flip(predictor, image: np.ndarray, kind: str, reach: int | None = None,
                  threshold: float | None = None) -> Flip | None:
    """The smallest turn or move of ``image`` after which ``predictor`` answers otherwise (another digit;
    "not a digit" where it read one; a digit where it refused), or None when none within ``reach`` does.

    Judged exactly as the answer it changes: ``predictor`` is the :class:`digitcnn.reading.inference.Predictor`
    that read ``image``, and each changed version, made as :func:`transformed` makes it, goes through its
    ``read`` with ``threshold`` (None: the model's own), so with the same pens and the same rule for "not a
    digit". Reading ``transformed(image, flip.rotation, flip.shift)`` so gives ``flip.digit`` again; the top
    probability alone would not (a refused star's closest digit changes with a 9° turn while it is still
    refused). ``kind`` "rotation" tries 1°, 2°, … ``reach`` degrees (default 45) both ways; "shift" every move
    of at most ``reach`` pixels (default 6) across and down. Candidates are read smallest first, one at a
    time as the interpreter takes them, and the search stops after the first size that changes the answer;
    of equally small changes, the one read with the highest score wins.
    """
    if kind not in FLIP_KINDS:
        raise ValueError(f"kind is one of {', '.join(FLIP_KINDS)}, got {kind!r}")
    if kind == "rotation":
        reach = MAX_ROTATION if reach is None else reach
        changes = [(sign * angle, (0, 0)) for angle in range(1, int(reach) + 1) for sign in (1, -1)]
        sizes = [abs(angle) for angle, _ in changes]
    else:
        reach = MAX_SHIFT if reach is None else reach
        moves = [(dx, dy) for dx in range(-int(reach), int(reach) + 1) for dy in range(-int(reach), int(reach) + 1)
                 if (dx, dy) != (0, 0)]
        changes = [(0.0, move) for move in moves]
        sizes = [math.hypot(*move) for move in moves]
    if not changes:  # a reach below one step leaves nothing to try
        return None
    image = as_network_input(image)[0, :, :, 0]
    was = predictor.read(image, threshold).digit
    versions = _warped(image, [angle for angle, _ in changes], [move for _, move in changes])
    best = None  # (index, reading)
    for index in sorted(range(len(changes)), key=sizes.__getitem__):
        if best is not None and sizes[index] > sizes[best[0]]:
            break
        reading = predictor.read(versions[index], threshold)
        if reading.digit != was and (best is None or reading.score > best[1].score):
            best = index, reading
    if best is None:
        return None
    index, reading = best
    angle, move = changes[index]
    return Flip(kind, float(angle), move, reading.digit, float(reading.score), was)
