import numpy as np
import pytest

from digitcnn import inference


def test_network_input_accepts_uint8_and_float_in_any_batch_shape(small_dataset):
    image = small_dataset.images[0]
    from_uint8 = inference.as_network_input(image)
    from_float = inference.as_network_input(image / 255.0)
    assert from_uint8.shape == from_float.shape == (1, 28, 28, 1)
    np.testing.assert_allclose(from_uint8, from_float, atol=1e-7)
    assert inference.as_network_input(small_dataset.images[:5]).shape == (5, 28, 28, 1)


def test_network_input_refuses_other_sizes():
    with pytest.raises(ValueError, match="28×28"):
        inference.as_network_input(np.zeros((32, 32), np.float32))


def test_direct_and_batched_prediction_agree(tiny_result, small_dataset):
    model = tiny_result[0].model
    few = inference.predict_probabilities(model, small_dataset.images[:300][:10])
    many = inference.predict_probabilities(model, small_dataset.images[:300])
    assert many.shape == (300, 10)
    np.testing.assert_allclose(many.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(few, many[:10], atol=1e-5)


def test_predictor_answers_as_the_keras_model_does(tiny_result, small_dataset):
    model = tiny_result[0].model
    predictor = inference.Predictor(model)
    expected = inference.predict_probabilities(model, small_dataset.images[:20])
    for image, probabilities in zip(small_dataset.images[:20], expected):
        np.testing.assert_allclose(predictor.probabilities(image), probabilities, atol=1e-5)
    with pytest.raises(ValueError, match="one 28×28 image"):
        predictor.probabilities(small_dataset.images[:2])


def test_predictor_is_correct_under_many_threads_at_once(tiny_result, small_dataset):
    from concurrent.futures import ThreadPoolExecutor

    model = tiny_result[0].model
    predictor = inference.Predictor(model)
    images = small_dataset.images[:64]
    expected = inference.predict_probabilities(model, images)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(predictor.probabilities, list(images) * 4))
    np.testing.assert_allclose(np.stack(answers), np.concatenate([expected] * 4), atol=1e-5)
