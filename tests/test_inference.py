import numpy as np
import pytest

from digitcnn.reading import inference


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


# --- Reading with three pens -----------------------------------------------------------------------

def test_pen_variants_are_the_picture_as_drawn_then_half_way_to_a_bolder_and_a_finer_pen():
    dot = np.zeros((1, 28, 28, 1), np.float32)
    dot[0, 10, 10] = 1.0  # one inked pixel, inside
    dot[0, 0, 27] = 0.8  # and one in a corner: the border grows no ink from outside the picture
    as_drawn, bolder, finer = inference.pen_variants(dot)
    np.testing.assert_array_equal(as_drawn, dot)
    np.testing.assert_allclose(bolder[0, 9:12, 9:12, 0], [[0.5, 0.5, 0.5], [0.5, 1.0, 0.5], [0.5, 0.5, 0.5]])
    np.testing.assert_allclose(bolder[0, 0:2, 26:28, 0], [[0.4, 0.8], [0.4, 0.4]])
    assert bolder.sum() == pytest.approx(1.0 + 8 * 0.5 + 0.8 + 3 * 0.4)  # nothing else inked
    np.testing.assert_allclose([finer[0, 10, 10, 0], finer[0, 0, 27, 0]], [0.5, 0.4])  # a lone pixel: half as dark
    assert finer.sum() == pytest.approx(0.9)
    solid = np.ones((2, 28, 28, 1), np.float32)
    for variant in inference.pen_variants(solid):
        np.testing.assert_array_equal(variant, solid)  # edges included: a full page stays full with any pen
    assert len(list(inference.pen_variants(dot, inference.PLAIN))) == 1
    with pytest.raises(ValueError, match="reading must be one of plain, three-pens"):
        inference.pen_variants(dot, "four pens")


def test_three_pens_average_the_networks_answers_for_the_three_pictures(tiny_result, small_dataset):
    model = tiny_result[0].model
    images = small_dataset.images[:300]  # over the direct-call limit: through model.predict
    pictures = list(inference.pen_variants(inference.as_network_input(images)))
    each = [inference.predict_probabilities(model, picture) for picture in pictures]
    read = inference.predict_probabilities(model, images, reading=inference.THREE_PENS)
    np.testing.assert_allclose(read, np.mean(each, axis=0), atol=1e-6)
    np.testing.assert_allclose(read.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(read, each[0], atol=1e-3)  # the pens change the answers
    probabilities, features = inference.predict_with_features(model, images[:20], reading=inference.THREE_PENS)
    np.testing.assert_allclose(probabilities, read[:20], atol=1e-5)
    plain_features = inference.predict_with_features(model, images[:20])[1]
    np.testing.assert_allclose(features, plain_features, atol=1e-5)  # a refusal rule's features: as drawn


def test_a_predictor_reading_with_three_pens_answers_as_the_keras_model_does(tiny_result, small_dataset):
    result = tiny_result[0]
    images = small_dataset.images[:20]
    predictor = inference.Predictor(result.model, result.refusal, reading=inference.THREE_PENS)
    expected, features = inference.predict_with_features(result.model, images, reading=inference.THREE_PENS)
    scores = result.refusal.scores(expected, features)
    for image, probabilities, score in zip(images, expected, scores):
        reading = predictor.read(image)  # the pens in the interpreter; the likeness of the picture as drawn
        np.testing.assert_allclose(reading.probabilities, probabilities, atol=1e-5)
        assert reading.score == pytest.approx(score, abs=1e-5)
    with pytest.raises(ValueError, match="reading must be one of plain, three-pens"):
        inference.Predictor(result.model, reading="three pens")
