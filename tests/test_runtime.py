import os
import subprocess
import sys

import pytest

from digitcnn import runtime
from digitcnn.errors import SettingsError


def test_no_setting_leaves_tensorflow_its_threads(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_VARIABLE, raising=False)
    assert runtime.apply_thread_setting() is None


@pytest.mark.parametrize("value", ["two", "0", "-3", "1025", "99999999999999999999"])
def test_a_bad_thread_count_is_refused_with_the_variable_named(monkeypatch, value):
    monkeypatch.setenv(runtime.THREADS_VARIABLE, value)
    with pytest.raises(SettingsError, match=f"DIGITCNN_THREADS='{value}'"):
        runtime.apply_thread_setting()


@pytest.mark.parametrize("threads", [0, -1, 1025, 2**70, True, 2.5])
def test_a_bad_thread_argument_is_refused(threads):
    with pytest.raises(SettingsError, match="threads must be a whole number from 1 to 1024"):
        runtime.apply_thread_setting(threads)


def test_the_thread_setting_reaches_tensorflow_in_a_fresh_process():
    script = ("from digitcnn import runtime; import tensorflow as tf; print(runtime.apply_thread_setting(), "
              "tf.config.threading.get_intra_op_parallelism_threads(), "
              "tf.config.threading.get_inter_op_parallelism_threads())")
    output = subprocess.run([sys.executable, "-c", script], env={**os.environ, "DIGITCNN_THREADS": "1",
                            "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True, check=True, timeout=120)
    assert output.stdout.split() == ["1", "1", "1"]


def test_one_cpu_trains_under_the_default_strategy():
    import tensorflow as tf

    strategy = runtime.distribution_strategy()
    assert strategy is tf.distribute.get_strategy() and strategy.num_replicas_in_sync == 1


def test_trainings_at_once_default_to_one_per_two_cores_and_follow_the_setting(monkeypatch):
    monkeypatch.delenv(runtime.MAX_TRAININGS_VARIABLE, raising=False)
    assert runtime.max_trainings() == max(1, os.cpu_count() // 2)
    monkeypatch.setenv(runtime.MAX_TRAININGS_VARIABLE, "5")
    assert runtime.max_trainings() == 5
    assert runtime.max_trainings(3) == 3  # an argument wins


@pytest.mark.parametrize("value", ["many", "0", "-1", "1025"])
def test_a_bad_count_of_trainings_at_once_names_the_variable(monkeypatch, value):
    monkeypatch.setenv(runtime.MAX_TRAININGS_VARIABLE, value)
    with pytest.raises(SettingsError, match=f"DIGITCNN_MAX_TRAININGS='{value}'.*whole number from 1 to 1024"):
        runtime.max_trainings()


@pytest.mark.parametrize("flags, native", [("fpu sse avx2 avx512f avx512_bf16 avx512_vnni", True),
                                           ("fpu avx2 amx_bf16 amx_tile", True), ("fpu sse avx2 avx512f", False),
                                           ("", False), ("avx512_bf16x", False)])
def test_bfloat16_is_native_where_the_processor_says_so(flags, native):
    assert runtime.native_bfloat16(f"flags\t\t: {flags}\n") is native


def test_a_training_computes_in_bfloat16_only_where_asked_or_native():
    assert runtime.training_precision("float32") == "float32"
    assert runtime.training_precision("bfloat16") == "bfloat16"
    assert runtime.training_precision("auto") == ("bfloat16" if runtime.native_bfloat16() else "float32")
    with pytest.raises(ValueError, match="precision must be one of auto, float32, bfloat16"):
        runtime.training_precision("half")
