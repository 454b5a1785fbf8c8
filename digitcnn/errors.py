"""The exceptions a user can cause. Each message says what is wrong and where.

Pages show them with ``st.error``; the command line prints them on one line and
exits non-zero. Anything else escaping the library is a bug.
"""


class DigitCNNError(Exception):
    """Base class of every error a user can cause."""


def not_found(what: str, name: str, there: str | None = None) -> str:
    """The one wording of a thing a user named that is not there, naming it as they did: ``no saved model named
    'nosuch' (saved: default, tiny)``; ``there``, what there is instead, in brackets where given."""
    return f"no {what} named {name!r}" + (f" ({there})" if there else "")


class SettingsError(DigitCNNError, ValueError):
    """A setting is out of range or unknown: an architecture name, an epoch count, a model name."""


class DataError(DigitCNNError, ValueError):
    """A data source is missing or malformed (the message names file, line and column)."""


class ModelFileError(DigitCNNError, OSError):
    """A saved model or its model card is missing, truncated, foreign or misnamed."""


class ModelNotFoundError(ModelFileError):
    """No saved model has the name asked for: neither its model file nor its card is there."""


class ImageError(DigitCNNError, ValueError):
    """An image file cannot be read as a picture of a digit."""


class EmptyDrawingError(DigitCNNError, ValueError):
    """A drawing or image holds no digit to read: no ink, a speck, a dot or a filled blob."""


class NothingDrawnError(EmptyDrawingError):
    """A drawing or image holds no ink at all (a caller reading something other than a digit words it its own way)."""


class TrainingCancelled(DigitCNNError):
    """Training was stopped on request before it finished; nothing was saved."""


class TrainingFailed(DigitCNNError):
    """A training could not run to its end on a Ray cluster: the cluster could not be reached, or the
    worker training the model was lost (killed, out of memory, its node gone) or failed there."""


class DrawingStoreError(DigitCNNError):
    """The database of kept drawings cannot be used: not a database, made by a newer DigitCNN, foreign, busy, or
    asked for a drawing it does not hold. A file that is not a drawings database is left as it is."""


class DownloadError(DigitCNNError):
    """The full MNIST could not be downloaded: no network, an address that does not serve its files, a download cut
    short, or files that are not MNIST's. Nothing of a failed download is left behind."""
