"""The library as a user's own code meets it: ``import digitcnn`` alone, reading in three lines
(:func:`digitcnn.load`), and training from a plain script whose top-level code must run once."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

import digitcnn
from digitcnn.errors import DigitCNNError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code: str, folder, timeout: float) -> subprocess.CompletedProcess:
    """``code`` run as a script of its own in ``folder``, digitcnn found as an installed package would be."""
    (folder / "script.py").write_text(code)
    environment = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "script.py"], cwd=folder, env=environment, capture_output=True, text=True,
                          timeout=timeout)


def test_import_digitcnn_imports_neither_tensorflow_nor_pandas(tmp_path):
    ran = _run("import sys, digitcnn\n"
               "print(callable(digitcnn.load), *[name in sys.modules for name in ('tensorflow', 'keras', 'pandas')])",
               tmp_path, timeout=60)
    assert ran.stdout.split() == ["True", "False", "False", "False"], ran.stderr


def drawn_seven(side: int = 200) -> Image.Image:
    """A 7 drawn as a person draws it: two dark pen strokes on light paper."""
    picture = Image.new("L", (side, side), 255)
    ImageDraw.Draw(picture).line([(side // 4, side // 5), (3 * side // 4, side // 5), (side * 2 // 5, side * 6 // 7)],
                                 fill=0, width=side // 14, joint="curve")
    return picture


@pytest.fixture(scope="module")
def predictor():
    return digitcnn.load("default")


def test_load_reads_a_picture_of_a_drawn_digit_in_three_lines(predictor, tmp_path):
    drawn_seven().save(tmp_path / "seven.png")
    assert predictor.read_picture(tmp_path / "seven.png").digit == 7  # a path
    assert predictor.read_picture(drawn_seven(90)).digit == 7  # a PIL image, of another size
    assert predictor.card.name == "default"


def test_read_takes_the_picture_laid_out_as_mnist_digits_are(predictor):
    from digitcnn.data.preprocess import photo_to_mnist

    image = photo_to_mnist(drawn_seven())  # 28×28, light on dark, as MNIST's
    by_picture, by_image = predictor.read_picture(drawn_seven()), predictor.read(image)
    assert by_image.digit == 7
    np.testing.assert_allclose(by_image.probabilities, by_picture.probabilities, atol=1e-6)
    assert predictor.read((image * 255).round().astype(np.uint8)).digit == 7  # in 0–255 too


def test_load_of_a_name_with_no_saved_model_says_so(tmp_path):
    with pytest.raises(DigitCNNError, match="nosuch"):
        digitcnn.load("nosuch")
    with pytest.raises(DigitCNNError, match="default"):
        digitcnn.load("default", models_dir=tmp_path)  # an empty folder of models


# A keras-io-style script: top-level code, no `if __name__ == "__main__":`. Training on 2,400 digits draws its refusal
# rule's 1,080 non-digits in a process of their own (digitcnn.data.nondigits_process: 1,000 or more).
SCRIPT = """
with open("ran.txt", "a") as ran:
    ran.write("ran\\n")

from digitcnn import data, training

digits = data.load_embedded().subset(range(2400), "a sample")
settings = training.TrainingConfig(architecture="article", epochs=1, augment=False, non_digit_share=0.0,
                                   test_fraction=0.1, validate_each_epoch=False)
result = training.train(digits, settings)
print(f"trained: {result.test_evaluation.accuracy:.2%} of the test digits right")
"""


@pytest.mark.timeout(300)
def test_a_script_without_a_main_guard_trains_and_runs_once(tmp_path):
    """The process the library started for the non-digits imported the script again: its top-level code ran twice,
    the second time up to its training, where it failed with a traceback ("bootstrapping phase")."""
    ran = _run(SCRIPT, tmp_path, timeout=240)
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    assert "trained: " in ran.stdout
    assert (tmp_path / "ran.txt").read_text() == "ran\n"  # the script's top-level code ran once
    assert "Traceback" not in output
    assert "drawing them here" not in output  # the process drawing the non-digits was not lost on the way
