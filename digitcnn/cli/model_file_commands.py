"""``export`` and ``import``: a saved model as a file to take anywhere (:mod:`digitcnn.storage.export`), and a Keras
model made elsewhere brought in (:mod:`digitcnn.storage.importing`)."""

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


def import_model(arguments) -> int:
    """Import the Keras file as a saved model, scored on the data's test images, and say what was found in it."""
    from digitcnn.cli.output import TerminalProgress
    from digitcnn.cli.typed import typed_dataset, typed_path
    from digitcnn.data.seen import card_score_text
    from digitcnn.errors import ModelFileError
    from digitcnn.storage import importing, registry

    name = importing.check_name_free(arguments.name, arguments.models_dir)  # before the data and the model load
    registry.check_writable(arguments.models_dir)
    path = typed_path(arguments.file, "model file", ModelFileError)
    dataset = typed_dataset(arguments.data)
    with start_up_lines_dropped():  # TensorFlow's, as Keras reads the file
        result = importing.import_file(path, name, dataset, arguments.models_dir, on_progress=TerminalProgress())
    card = result.card
    print()
    for line in result.findings:
        print(line)
    print(f"{card_score_text(card)}")
    rule = card.refusal_rule
    print(f'"not a digit": refuses {rule.test_refused * 100:.2f}% of those digits (threshold {rule.threshold:.3f})')
    print(f"saved: {registry.model_paths(name, arguments.models_dir)[0]} (model card "
          f"{name}{registry.CARD_SUFFIX}); read with it: python -m digitcnn predict --model {name} IMAGE")
    return 0
