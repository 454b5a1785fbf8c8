import numpy as np
import pytest

from digitcnn.networks import calibration, architectures


def _softmax(logits):
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def test_rescaling_keeps_every_prediction_and_sharpens_below_one():
    probabilities = np.random.default_rng(0).dirichlet(np.ones(10), size=50)
    np.testing.assert_allclose(calibration.rescale(probabilities, 1.0), probabilities, rtol=1e-9)
    sharper = calibration.rescale(probabilities, 0.5)
    np.testing.assert_array_equal(sharper.argmax(axis=1), probabilities.argmax(axis=1))
    assert (sharper.max(axis=1) >= probabilities.max(axis=1)).all()
    np.testing.assert_allclose(sharper.sum(axis=1), 1.0)


def test_the_fitted_temperature_undoes_an_underconfident_network():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, size=(20_000, 10))
    labels = np.array([rng.choice(10, p=row) for row in _softmax(logits)])  # calibrated at temperature 1
    underconfident = _softmax(logits / 2.5)
    assert calibration.fit_temperature(underconfident, labels) == pytest.approx(0.4, rel=0.05)


def test_a_fit_to_a_few_digits_all_right_stops_at_the_bound():
    probabilities = np.full((5, 10), 0.05)
    probabilities[np.arange(5), np.arange(5)] = 0.55
    low, _ = calibration.TEMPERATURE_BOUNDS
    assert calibration.fit_temperature(probabilities, np.arange(5)) == pytest.approx(low, abs=1e-3)


def test_the_temperature_goes_into_the_models_last_layer(small_dataset):
    model = architectures.build("compact")
    images = small_dataset.images[:16, ..., None] / 255.0
    before = np.asarray(model(images, training=False), dtype=np.float64)
    calibration.apply_temperature(model, 0.5)
    after = np.asarray(model(images, training=False), dtype=np.float64)
    np.testing.assert_allclose(after, calibration.rescale(before, 0.5), atol=1e-5)


def test_a_model_without_a_softmax_layer_last_is_refused():
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="softmax Dense layer last"):
        calibration.apply_temperature(model, 0.5)
