"""How TensorFlow uses the machine: CPU threads, the arithmetic a training computes in, and the devices a training
run spreads over.

By default TensorFlow uses every core; ``$DIGITCNN_THREADS`` (or the command line's
``--threads``, passed here as an argument) caps it, for a shared server say. On a machine
with several GPUs, training runs under ``tf.distribute.MirroredStrategy`` (one replica per
GPU, the batch split between them); anywhere else it runs under TensorFlow's default strategy,
unchanged.

A training computes in bfloat16 where the processor does so natively (:func:`training_precision`): there its
network trains about twice as fast, and the trained network is float32 again, as any other (see
:func:`digitcnn.networks.architectures.build`).
"""

from __future__ import annotations

import functools
import logging
import os
import re
from dataclasses import replace
from pathlib import Path

from digitcnn.config import COUNT, MAX_TRAININGS_VARIABLE, THREADS_VARIABLE, VARIABLES

_log = logging.getLogger(__name__)

CORES_PER_TRAINING = 2  # one training keeps about two cores busy (TensorFlow's ops, and the input pipeline)

# The arithmetic a training computes in: "auto" is bfloat16 where the processor computes it natively, else float32.
# Measured with compact on 2 cores of an AMD EPYC with AVX-512 BF16 (batches of 128, no augmentation): 2,500 images a
# second in float32, 5,000–5,900 in bfloat16 (Keras's "mixed_bfloat16": weights and their updates stay float32). A
# processor without it emulates bfloat16, slower than float32: there "auto" is float32.
AUTO, FLOAT32, BFLOAT16 = "auto", "float32", "bfloat16"
PRECISIONS = (AUTO, FLOAT32, BFLOAT16)
_NATIVE_BFLOAT16 = re.compile(r"\b(avx512_bf16|amx_bf16)\b")  # Linux's names for the x86 instructions


def thread_cap(threads: int | None = None) -> int | None:
    """The cap on TensorFlow's CPU threads: ``threads``, else ``$DIGITCNN_THREADS``, else None (no
    cap). A count that is not a whole number from 1 to :data:`digitcnn.config.MAX_THREADS` raises
    :class:`SettingsError`."""
    return _count_setting(threads, THREADS_VARIABLE, "threads")


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


def training_precision(precision: str = AUTO) -> str:
    """The arithmetic a training of ``precision`` computes in: :data:`FLOAT32` or :data:`BFLOAT16` as asked, and
    for :data:`AUTO` bfloat16 where the processor computes it natively (:func:`native_bfloat16`), else float32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != AUTO:
        return precision
    return BFLOAT16 if native_bfloat16() else FLOAT32


@functools.cache
def native_bfloat16(cpu_flags: str | None = None) -> bool:
    """Whether the processor computes bfloat16 natively (x86's AVX-512 BF16 or AMX), read from ``cpu_flags`` or
    Linux's ``/proc/cpuinfo``; False where neither says (another system, another processor)."""
    if cpu_flags is None:
        try:
            cpu_flags = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    return bool(_NATIVE_BFLOAT16.search(cpu_flags))


def max_trainings(count: int | None = None) -> int:
    """How many trainings one server runs at once: ``count``, else ``$DIGITCNN_MAX_TRAININGS``, else one per
    :data:`CORES_PER_TRAINING` cores (at least one). More at once would only share the same cores, each run
    slower and all of them holding their data and model meanwhile. A count that is not a whole number from
    1 to :data:`digitcnn.config.MAX_THREADS` raises :class:`SettingsError`."""
    count = _count_setting(count, MAX_TRAININGS_VARIABLE, "trainings at once")
    return count or max(1, (os.cpu_count() or 1) // CORES_PER_TRAINING)


def _count_setting(count: int | None, variable: str, what: str) -> int | None:
    """``count``, else ``$variable`` (see :data:`digitcnn.config.VARIABLES`), else None; either must be a
    whole number from 1 to :data:`digitcnn.config.MAX_THREADS`."""
    if count is None:
        return VARIABLES[variable].value()
    replace(COUNT, words=what).check(count)
    return count


def distribution_strategy():
    """MirroredStrategy over all GPUs when there are several, else TensorFlow's default strategy."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    return tf.distribute.get_strategy()
