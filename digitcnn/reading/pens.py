"""A picture as another pen would have drawn it: bolder (its 3×3 dilation) or finer (its 3×3 erosion), or part of
the way there. Training varies its digits' pens so (:mod:`digitcnn.training.augmentation`), and a model that reads
with three pens (:mod:`digitcnn.reading.inference`) averages its answers for a picture as drawn, half-way to bolder and
half-way to finer. TensorFlow's operations, so that the same code runs on a batch of pictures, inside a training's
input pipeline, and inside the LiteRT graph that reads one drawing."""

from __future__ import annotations

PEN_CHANGE = 0.5  # how far towards its bolder or finer pen the three-pens reading redraws a picture


def bolder(images):
    """Each picture of ``images`` (N, 28, 28, 1, floats in [0, 1]) dilated by 3×3: each pixel the brightest of its
    neighbourhood (within the picture: a border pixel's neighbourhood is cut short, never padded with ink)."""
    import tensorflow as tf

    return tf.nn.max_pool2d(images, 3, 1, "SAME")


def finer(images):
    """Each picture eroded by 3×3: each pixel the darkest of its neighbourhood (within the picture)."""
    import tensorflow as tf

    return -tf.nn.max_pool2d(-images, 3, 1, "SAME")


def redrawn(images, pen, change=PEN_CHANGE):
    """``images`` ``change`` of the way to ``pen`` (:func:`bolder` or :func:`finer`) of them: one share for all, or
    one per picture (a tensor of shape (N, 1, 1, 1))."""
    return images + change * (pen(images) - images)


def three_pens(images):
    """``images`` as the three-pens reading reads them, one batch after the other (3N pictures): as drawn, then
    :func:`redrawn` with :func:`bolder`, then with :func:`finer`."""
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    return tf.concat([images, redrawn(images, bolder), redrawn(images, finer)], axis=0)
