"""The version of digitcnn, where every layer can read it (a saved model's card records it)."""

__version__ = "0.1.0"
