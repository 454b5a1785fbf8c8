"""The batches a network learns from and is scored in, as TensorFlow pipelines: images scaled to [0, 1] with a
channel axis and labels as target rows (:func:`network_inputs`); for learning, shuffled with the run's seed and
varied as :func:`~digitcnn.training.augmentation.augmented` varies them (:func:`training_dataset`). Scoring reads
in batches of :data:`EVALUATION_BATCH_SIZE`."""

from __future__ import annotations

import numpy as np

from digitcnn.data import Dataset
from digitcnn.training.augmentation import augmented
from digitcnn.training.recipes import TrainingConfig

EVALUATION_BATCH_SIZE = 512


def training_dataset(images: np.ndarray, labels: np.ndarray, config: TrainingConfig):
    """Shuffled batches of scaled images and their target rows, varied as :func:`augmented` varies them if
    ``augment``: the same seed gives the same batches."""
    import tensorflow as tf

    pipeline = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .shuffle(len(labels), seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
        .map(network_inputs, num_parallel_calls=tf.data.AUTOTUNE)
    )
    if config.augment:
        pipeline = augmented(pipeline, config.seed)
    return pipeline.prefetch(tf.data.AUTOTUNE)


def network_dataset(dataset: Dataset, batch_size: int):
    import tensorflow as tf

    pipeline = tf.data.Dataset.from_tensor_slices((dataset.images, dataset.labels)).batch(batch_size)
    return pipeline.map(network_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def network_inputs(images, labels):
    """uint8 images → floats in [0, 1] with a channel axis; labels → target rows (see models.one_hot)."""
    import tensorflow as tf

    from digitcnn.networks.architectures import one_hot

    return tf.cast(images, tf.float32)[..., tf.newaxis] / 255.0, one_hot(labels)
