"""DigitCNN: convolutional networks for handwritten digits, from data to drawing.

The library behind the Streamlit app and ``python -m digitcnn``. It never imports Streamlit,
and imports TensorFlow/Keras only in the functions that need them: ``import digitcnn`` imports
nothing else. Reading with a saved model takes three lines::

    import digitcnn
    predictor = digitcnn.load("default")
    predictor.read_picture("seven.png").digit  # or predictor.read(image), a 28×28 MNIST-style image

and a row of digits, as easily: ``digitcnn.load().read_number("2026.png").text``.
"""

from digitcnn.version import __version__

__all__ = ["__version__", "load"]


def load(name: str | None = None, models_dir=None):
    """The saved model ``name`` (by default the shipped one, ``default``) ready to read digits: a
    :class:`~digitcnn.reading.inference.Predictor`, whose ``read(image)`` reads a 28×28 MNIST-style image and
    ``read_picture(picture)`` a picture of one digit (a path, a file or a PIL image); each gives a
    :class:`~digitcnn.reading.refusal.Reading` (``digit``: None for "not a digit"). ``read_number(picture)`` reads
    a row of digits (:class:`~digitcnn.reading.numbers.NumberReading`, whose ``text`` is the number). Its ``card`` says what the
    model is (:class:`~digitcnn.storage.registry.ModelCard`). Models are looked for in ``models_dir``, else
    ``$DIGITCNN_MODELS_DIR``, else ``models/``; a name with no saved model raises
    :class:`~digitcnn.errors.ModelFileError`. Reads without TensorFlow once the model has been converted for
    reading (the first time, by :func:`digitcnn.storage.registry.load_predictor`, which keeps the result)."""
    from digitcnn.config import DEFAULT_MODEL_NAME
    from digitcnn.storage.registry import load_predictor

    predictor, _ = load_predictor(name or DEFAULT_MODEL_NAME, models_dir)
    return predictor
