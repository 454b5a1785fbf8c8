"""DigitCNN: convolutional networks for handwritten digits, from data to drawing.

The library behind the Streamlit app and ``python -m digitcnn``. It never imports Streamlit,
and imports TensorFlow/Keras only in the functions that need them.
"""

__version__ = "0.1.0"
