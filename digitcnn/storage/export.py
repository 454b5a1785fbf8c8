"""Taking a saved model anywhere: as its Keras file (loadable in plain Keras 3, without DigitCNN: its layers are
Keras's own), as a LiteRT flatbuffer (phones, microcontrollers) that reads a picture as the app does, or as a zip of
both with the model's card and ten lines of Python for each (:func:`snippets`).

The app reads a drawing the way the model's card says (its ``reading``: as drawn, or with three pens, see
:mod:`digitcnn.reading.inference`): the flatbuffer holds that reading in its graph, and the Keras snippet repeats it,
so that both give the app's probabilities for the same 28×28 image.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from digitcnn import files
from digitcnn.errors import ModelFileError, SettingsError
from digitcnn.storage.card import CARD_SUFFIX, MODEL_SUFFIX, ModelCard
from digitcnn.storage.registry import load_model, read_model_file

FORMATS = ("keras", "tflite", "zip")
LITERT_SUFFIX = ".tflite"
SNIPPETS_NAME = "README.txt"  # in a zip: how to read the files in it


@dataclass(frozen=True)
class ExportedModel:
    """A saved model as a file to take away: its ``filename`` and ``content``, and the ``card`` of the save it was
    made from."""

    filename: str
    content: bytes
    card: ModelCard


def export_model(name: str, format: str, models_dir: str | os.PathLike | None = None) -> ExportedModel:
    """The saved model ``name`` as a ``format`` file (one of :data:`FORMATS`). ``tflite`` and ``zip`` convert the
    model (TensorFlow, a second or two); ``keras`` reads the file as saved."""
    if format not in FORMATS:
        raise SettingsError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    keras_file, card = read_model_file(name, models_dir)
    if format == "keras":
        return ExportedModel(export_filename(name, format), keras_file, card)
    flatbuffer = _flatbuffer(name, card, models_dir)
    if format == "tflite":
        return ExportedModel(export_filename(name, format), flatbuffer, card)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as packed:
        packed.writestr(export_filename(name, "keras"), keras_file)
        packed.writestr(export_filename(name, "tflite"), flatbuffer)
        packed.writestr(f"{name}{CARD_SUFFIX}", card.to_json())
        keras_snippet, litert_snippet = snippets(name, card.reading)
        packed.writestr(SNIPPETS_NAME, f"{name}: a handwritten-digit reader made with DigitCNN. {name}{CARD_SUFFIX} "
                                       f"says how it was trained and how well it reads.\n\nIn Keras 3:\n\n"
                                       f"{keras_snippet}\n\nIn LiteRT (ai-edge-litert):\n\n{litert_snippet}\n")
    return ExportedModel(export_filename(name, format), archive.getvalue(), card)


def export_filename(name: str, format: str) -> str:
    """The file name of the saved model ``name`` exported as ``format``."""
    return name + {"keras": MODEL_SUFFIX, "tflite": LITERT_SUFFIX, "zip": ".zip"}[format]


def write_export(name: str, format: str, output: str | os.PathLike | None = None,
                 models_dir: str | os.PathLike | None = None) -> list[Path]:
    """Write the saved model ``name`` as a ``format`` file to ``output`` (by default its own file name in the
    current folder); a Keras file goes with its card beside it (``NAME.json``). Returns the paths written."""
    exported = export_model(name, format, models_dir)
    path = Path(output) if output is not None else Path(exported.filename)
    written = [_written(path, exported.content)]
    if format == "keras":  # the card of the same save, not of one read again
        written.append(_written(path.with_suffix(CARD_SUFFIX), exported.card.to_json().encode()))
    return written


def snippets(name: str, reading: str) -> tuple[str, str]:
    """Ten lines of Python each that read a 28×28 image (floats 0–1, a white digit on black, as MNIST's) with the
    exported files ``name.keras`` (in plain Keras, repeating the app's ``reading``) and ``name.tflite`` (LiteRT)."""
    from digitcnn.reading.inference import THREE_PENS
    from digitcnn.reading.pens import PEN_CHANGE

    three_pens = ""
    if reading == THREE_PENS:  # as digitcnn.reading.pens: the picture, then half-way to a bolder pen and to a finer one
        three_pens = ('bolder, finer = keras.ops.max_pool(x, 3, 1, "same"), -keras.ops.max_pool(-x, 3, 1, "same")\n'
                      f"x = keras.ops.concatenate([x, x + {PEN_CHANGE} * (bolder - x), x + {PEN_CHANGE} * (finer - x)])"
                      "  # as the app reads: three pens\n")
    keras_snippet = (
        "import keras\nimport numpy as np\n\n"
        f'model = keras.saving.load_model("{name}{MODEL_SUFFIX}")\n'
        'image = np.load("digit.npy")  # 28×28 floats in 0–1: a white digit on black, as MNIST\'s\n'
        "x = image.reshape(1, 28, 28, 1).astype(np.float32)\n"
        f"{three_pens}"
        "probabilities = np.asarray(keras.ops.mean(model(x), axis=0))\n"
        "print(int(probabilities.argmax()), probabilities)"
    )
    litert_snippet = (
        "import numpy as np\nfrom ai_edge_litert.interpreter import Interpreter\n\n"
        f'interpreter = Interpreter(model_path="{name}{LITERT_SUFFIX}")\n'
        "interpreter.allocate_tensors()\n"
        'image = np.load("digit.npy")  # 28×28 floats in 0–1: a white digit on black, as MNIST\'s\n'
        'interpreter.set_tensor(interpreter.get_input_details()[0]["index"], '
        "image.reshape(1, 28, 28, 1).astype(np.float32))\n"
        "interpreter.invoke()\n"
        'probabilities = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]\n'
        "print(int(probabilities.argmax()), probabilities)"
    )
    return keras_snippet, litert_snippet


def _flatbuffer(name: str, card, models_dir) -> bytes:
    """The model as LiteRT reads it, the app's way (its card's reading; probabilities only)."""
    from digitcnn.reading.inference import litert_flatbuffer

    model, loaded = load_model(name, models_dir)
    if loaded.model_sha256 != card.model_sha256:
        raise ModelFileError(f"{name}{MODEL_SUFFIX}: saved again while it was being exported; try again")
    return litert_flatbuffer(model, card.reading)


def _written(path: Path, content: bytes) -> Path:
    try:
        with files.replaced_atomically(path) as temporary:
            temporary.write_bytes(content)
    except OSError as error:
        raise ModelFileError(f"{path.name}: cannot be written ({files.reason(error)})") from None
    return path
