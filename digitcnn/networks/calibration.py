"""Temperature scaling: probabilities that say how often the model is right.

A network trained against smoothed labels (see :class:`digitcnn.networks.architectures.Recipe`) is
underconfident by design: about 91% on digits it nearly always gets right. Dividing its logits by
one temperature, fitted to the training digits, undoes that without changing a single
prediction (Guo et al., 2017, "On Calibration of Modern Neural Networks"). The temperature goes
into the weights of the last layer, so saved, converted and served models all carry it.
"""

from __future__ import annotations

import numpy as np

TEMPERATURE_BOUNDS = (0.25, 4.0)  # at most 4× sharper or softer: a fit to a few, all-correct digits stops there
_PROBABILITY_FLOOR = 1e-30


def rescale(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(probabilities) / temperature)``: the probabilities the same network gives
    once its logits are divided by ``temperature`` (below 1 sharpens, above 1 softens)."""
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _PROBABILITY_FLOOR, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature, within :data:`TEMPERATURE_BOUNDS`, that minimizes the cross-entropy of
    the rescaled ``probabilities`` (N, 10) against the true ``labels`` (N,)."""
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(labels))

    def cross_entropy(temperature: float) -> float:
        return float(-np.log(rescale(probabilities, temperature)[rows, labels] + _PROBABILITY_FLOOR).mean())

    return float(minimize_scalar(cross_entropy, bounds=TEMPERATURE_BOUNDS, method="bounded").x)


def apply_temperature(model, temperature: float) -> None:
    """Divide the logits of ``model`` (whose last layer is a softmax ``Dense``) by ``temperature``,
    in place: ``softmax((W x + b) / T)`` is ``softmax((W / T) x + b / T)``."""
    import keras

    last = model.layers[-1]
    if not isinstance(last, keras.layers.Dense) or last.activation is not keras.activations.softmax:
        raise ValueError(f"temperature scaling needs a softmax Dense layer last, got {last.__class__.__name__}")
    last.set_weights([weights / temperature for weights in last.get_weights()])
