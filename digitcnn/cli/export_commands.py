"""``export``: a saved model as a file to take anywhere (:mod:`digitcnn.storage.export`)."""

from __future__ import annotations

from digitcnn.native_logs import start_up_lines_dropped


def export(arguments) -> int:
    """Write the saved model as a Keras file (with its card beside it), a LiteRT flatbuffer or a zip of both, and
    say what was written and how to read it."""
    from digitcnn.storage.export import SNIPPETS_NAME, write_export

    with start_up_lines_dropped():  # TensorFlow's lines as it converts the model to LiteRT
        written = write_export(arguments.model, arguments.format, arguments.output, arguments.models_dir)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1e6:,.2f} MB)")
    how = {"keras": "keras.saving.load_model(path) reads it in any Keras 3, without DigitCNN",
           "tflite": "ai_edge_litert's Interpreter reads it: a 28×28 image in (floats 0–1), ten probabilities out",
           "zip": f"its {SNIPPETS_NAME} shows how to read each file in ten lines of Python"}
    print(how[arguments.format])
    return 0
