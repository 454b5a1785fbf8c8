"""How TensorFlow uses the machine: CPU threads, and the devices a training run spreads over.

By default TensorFlow uses every core; ``$DIGITCNN_THREADS`` (or the command line's
``--threads``, passed here as an argument) caps it, for a shared server say. On a machine
with several GPUs, training runs under ``tf.distribute.MirroredStrategy`` (one replica per
GPU, the batch split between them); anywhere else it runs under TensorFlow's default strategy,
unchanged.
"""

from __future__ import annotations

import logging

from digitcnn.config import positive_number_setting

_log = logging.getLogger(__name__)

from digitcnn.errors import SettingsError

THREADS_VARIABLE = "DIGITCNN_THREADS"
MAX_THREADS = 1024  # far above any CPU this runs on, far below what overflows TensorFlow's setting


def thread_cap(threads: int | None = None) -> int | None:
    """The cap on TensorFlow's CPU threads: ``threads``, else ``$DIGITCNN_THREADS``, else None (no
    cap). A count that is not a whole number from 1 to :data:`MAX_THREADS` raises :class:`SettingsError`."""
    if threads is None:
        return positive_number_setting(THREADS_VARIABLE, int, f"a whole number of threads from 1 to {MAX_THREADS}",
                                       maximum=MAX_THREADS)
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
        raise SettingsError(f"threads must be a whole number from 1 to {MAX_THREADS}, got {threads!r}")
    return threads


def apply_thread_setting(threads: int | None = None) -> int | None:
    """Cap TensorFlow's CPU threads as :func:`thread_cap` says (no cap: TensorFlow's default, all
    cores); returns the cap. TensorFlow takes the setting only before its first operation, so
    training and prediction call this before they start; a setting that comes too late is
    logged and TensorFlow keeps its threads."""
    threads = thread_cap(threads)
    if threads is None:
        return None
    import tensorflow as tf

    threading = tf.config.threading
    current = (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads())
    if current != (threads, threads):
        try:
            threading.set_intra_op_parallelism_threads(threads)
            threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            _log.warning("%s=%s came after TensorFlow started; it keeps its threads", THREADS_VARIABLE, threads)
            return None
    return threads


def distribution_strategy():
    """MirroredStrategy over all GPUs when there are several, else TensorFlow's default strategy."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    return tf.distribute.get_strategy()
