import numpy as np
import pytest

from digitcnn import data
from digitcnn.networks import architectures
from digitcnn.errors import SettingsError


def test_article_and_a_default_architecture_are_registered():
    assert "article" in architectures.ARCHITECTURES
    assert architectures.DEFAULT_ARCHITECTURE in architectures.ARCHITECTURES
    assert architectures.DEFAULT_ARCHITECTURE != "article"
    assert all(architecture.description for architecture in architectures.ARCHITECTURES.values())


def test_each_architecture_has_a_short_plain_title_for_pages():
    titles = [architecture.title for architecture in architectures.ARCHITECTURES.values()]
    assert all(0 < len(title) <= 30 for title in titles) and len(set(titles)) == len(titles)  # fits a select box
    assert architectures.title_of("article") == architectures.ARCHITECTURES["article"].title
    assert architectures.title_of("made-elsewhere") == "made-elsewhere"  # a model saved by another version keeps its name


def test_article_is_the_tutorials_network_exactly():
    model = architectures.build("article")
    kinds = [layer.__class__.__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Dense"]
    convolution, pooling, _, hidden, dropout, output = model.layers
    assert convolution.filters == 28 and convolution.kernel_size == (3, 3)
    assert convolution.activation.__name__ == "linear"  # the tutorial gives it no activation
    assert pooling.pool_size == (2, 2)
    assert hidden.units == 128 and hidden.activation.__name__ == "relu"
    assert dropout.rate == 0.2
    assert output.units == 10 and output.activation.__name__ == "softmax"
    # 28·(9+1) + (13·13·28)·128 + 128 + 128·10 + 10
    assert model.count_params() == 607_394
    assert model.optimizer.__class__.__name__ == "Adam"
    assert model.loss.get_config()["label_smoothing"] == 0.0


def test_the_unsmoothed_loss_on_one_hot_labels_is_the_tutorials_sparse_cross_entropy():
    import keras

    labels = np.array([0, 3, 9, 3])
    probabilities = np.random.default_rng(1).dirichlet(np.ones(10), size=4).astype("float32")
    ours = architectures.build("article").loss(architectures.one_hot(labels), probabilities)
    tutorials = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    # Two float32 formulas of one loss, summed in their own orders by the CPU's kernels: equal to tens of units of
    # float32's last digit (1.2e-7 each) on any machine, not to a few.
    np.testing.assert_allclose(float(ours), float(tutorials), rtol=1e-5)


def test_label_smoothing_aims_below_certainty():
    labels, certain = np.array([2]), np.eye(10, dtype="float32")[[2]] * 0.999 + 0.0001
    smoothed = architectures.build("compact", label_smoothing=0.1).loss
    assert smoothed.get_config()["label_smoothing"] == 0.1
    # with smoothing, 0.9 on the right digit (0.01 on each other) beats 99.9% certainty
    aimed = np.full((1, 10), 0.01, dtype="float32")
    aimed[0, 2] = 0.91
    assert float(smoothed(architectures.one_hot(labels), aimed)) < float(smoothed(architectures.one_hot(labels), certain))


@pytest.mark.parametrize("name", list(architectures.ARCHITECTURES))
def test_every_architecture_maps_digits_to_ten_probabilities(name, small_dataset):
    model = architectures.build(name)
    assert model.input_shape == (None, 28, 28, 1)
    outputs = np.asarray(model(small_dataset.images[:4, ..., None] / 255.0, training=False))
    assert outputs.shape == (4, 10)
    np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_architecture_lists_the_known_ones():
    with pytest.raises(SettingsError, match="unknown architecture 'resnet'.*article"):
        architectures.build("resnet")


def test_every_architecture_has_a_recipe_the_article_keeps_the_tutorials():
    article = architectures.ARCHITECTURES["article"].recipe
    assert (article.epochs, article.batch_size, article.learning_rate, article.schedule, article.augment) == (
        10, 32, 0.001, "constant", False)
    for architecture in architectures.ARCHITECTURES.values():
        assert architecture.recipe.schedule in architectures.SCHEDULES


def test_warmup_cosine_rises_to_the_peak_then_decays_to_zero():
    schedule = architectures.learning_rate_schedule(0.004, "warmup_cosine", total_steps=1500)
    at = lambda step: float(schedule(step))
    assert at(0) == pytest.approx(0.004 / 20)
    assert at(100) == pytest.approx(0.004)  # the peak, after 1/15 of the steps
    assert at(50) < at(100) and at(800) < at(100)
    assert at(1500) == pytest.approx(0.0, abs=1e-9)
    assert architectures.learning_rate_schedule(0.01, "constant", 1500) == 0.01
    with pytest.raises(SettingsError, match="schedule 'step'"):
        architectures.learning_rate_schedule(0.01, "step", 100)


def test_fused_batch_normalization_computes_what_keras_batch_normalization_does(tmp_path):
    import keras

    rng = np.random.default_rng(0)
    inputs = rng.normal(2.0, 3.0, size=(16, 7, 7, 5)).astype("float32")
    fused = architectures.fused_batch_normalization()(momentum=0.9)
    plain = keras.layers.BatchNormalization(momentum=0.9)
    for layer in (fused, plain):
        layer.build(inputs.shape)
        layer.gamma.assign(rng.uniform(0.5, 2.0, 5).astype("float32"))
        layer.beta.assign(np.linspace(-1, 1, 5).astype("float32"))
    plain.set_weights(fused.get_weights())

    np.testing.assert_allclose(fused(inputs, training=True), plain(inputs, training=True), atol=1e-4)
    np.testing.assert_allclose(fused.moving_mean, plain.moving_mean, rtol=1e-5)
    # TensorFlow's kernel keeps the unbiased variance (n / (n - 1) of the biased one Keras keeps).
    n = 16 * 7 * 7
    expected_variance = 0.9 + 0.1 * inputs.var(axis=(0, 1, 2)) * n / (n - 1)
    np.testing.assert_allclose(fused.moving_variance, expected_variance, rtol=1e-4)
    np.testing.assert_allclose(fused(inputs, training=False), plain(inputs, training=False), rtol=1e-3, atol=1e-3)


def test_a_model_with_fused_normalization_saves_and_loads_in_safe_mode(tmp_path):
    import keras

    model = architectures.build("compact")
    path = tmp_path / "compact.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    assert [layer.__class__.__name__ for layer in loaded.layers].count("FusedBatchNormalization") == 5
    inputs = np.random.default_rng(1).random((3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(loaded(inputs, training=False), model(inputs, training=False), atol=1e-6)


def test_a_not_a_digit_label_teaches_the_uniform_answer_and_does_not_count_for_accuracy():
    targets = np.asarray(architectures.one_hot(np.array([3, data.NOT_A_DIGIT])))
    np.testing.assert_allclose(targets, [np.eye(10)[3], np.full(10, 0.1)])
    model = architectures.build("article")
    accuracy = [metric for metric in model.metrics if metric.name == "accuracy"] or model._compile_metrics
    probabilities = np.eye(10, dtype="float32")[[3, 5]]  # right on the digit; any answer to the non-digit
    metric = architectures._digit_accuracy()
    metric.update_state(targets, probabilities)
    assert float(metric.result()) == 1.0  # only the digit counts
    assert accuracy  # the compiled model reports it under the name "accuracy"


_LOAD_WITHOUT_DIGITCNN = """
import sys, numpy as np, keras
model = keras.models.load_model(sys.argv[1])
images = np.load(sys.argv[2])
np.save(sys.argv[3], model.predict(images, verbose=0))
print([layer.__class__.__name__ for layer in model.layers if "Normalization" in layer.__class__.__name__])
assert "digitcnn" not in sys.modules
"""


@pytest.mark.parametrize("architecture", ["compact", "shipped"])
def test_saved_files_load_in_plain_keras_without_this_project(architecture, small_dataset, tmp_path):
    """Any Keras (or TF.js, LiteRT) tool reads a saved model: standard layers only."""
    import os
    import subprocess
    import sys

    from digitcnn import config
    from digitcnn.storage import registry
    from digitcnn.reading.inference import predict_probabilities

    if architecture == "shipped":
        folder, name = config.PROJECT_ROOT / "models", config.DEFAULT_MODEL_NAME
    else:
        from digitcnn.training import TrainingConfig, train

        result = train(small_dataset, TrainingConfig(architecture="compact", epochs=1, train_limit=100,
                                                    non_digit_share=0.0, validate_each_epoch=False))
        folder, name = tmp_path, "portable"
        registry.save_model(result.model, registry.ModelCard.from_training(name, result), folder)
    model, _ = registry.load_model(name, folder)
    images = small_dataset.images[:20].astype("float32")[..., None] / 255
    np.save(tmp_path / "images.npy", images)
    completed = subprocess.run(
        [sys.executable, "-c", _LOAD_WITHOUT_DIGITCNN, str(folder / f"{name}.keras"), str(tmp_path / "images.npy"),
         str(tmp_path / "plain.npy")], cwd=tmp_path, capture_output=True, text=True, timeout=180,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | {"TF_CPP_MIN_LOG_LEVEL": "3"})
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "FusedBatchNormalization" not in completed.stdout
    np.testing.assert_allclose(np.load(tmp_path / "plain.npy"), predict_probabilities(model, images), atol=1e-5)
