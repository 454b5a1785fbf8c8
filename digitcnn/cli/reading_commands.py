"""The commands that read with saved models or list them, without TensorFlow: ``predict`` and ``models``."""

from __future__ import annotations

import os
import sys

from digitcnn import config, runtime
from digitcnn.cli.output import EXIT_USER_ERROR
from digitcnn.cli.typed import typed_path
from digitcnn.data.seen import card_score_text
from digitcnn.errors import EmptyDrawingError, ImageError
from digitcnn.native_logs import start_up_lines_dropped
from digitcnn.percentages import probability_text


def predict(arguments) -> int:
    """Read each picture with the saved model's LiteRT predictor (:func:`digitcnn.storage.registry.load_predictor`:
    converted once and kept beside the model, so a call imports no TensorFlow), as the app reads a drawing."""
    from digitcnn.storage import registry

    cap = runtime.thread_cap(arguments.threads)
    if cap is not None:  # the predictor's interpreter (and a first conversion) take the cap from the environment
        os.environ[config.THREADS_VARIABLE] = str(cap)
    with start_up_lines_dropped():  # LiteRT's line as its interpreter starts, TensorFlow's where it converts
        predictor, _ = registry.load_predictor(arguments.model, arguments.models_dir)
    failures = 0
    for path in arguments.images:
        try:
            reading = predictor.read_picture(typed_path(path, "picture file", ImageError))
        except (ImageError, EmptyDrawingError) as error:
            named = str(error).startswith(("no picture file", os.path.basename(path)))  # it names the file already
            print(str(error) if named else f"{path}: {error}", file=sys.stderr)
            failures += 1
            continue
        sureness = reading.sureness  # as the app's reading shows it: the digit read's is the reading's score
        if reading.digit is None:
            closest = reading.closest
            print(f"{path}: not a digit (closest: {closest}, {probability_text(sureness[closest])} sure)")
            continue
        ranked = sureness[:10].argsort()[::-1]
        runners_up = ", ".join(f"{d} ({probability_text(sureness[d])})" for d in ranked[1:3])
        print(f"{path}: {reading.digit} ({probability_text(reading.score)} sure); next: {runners_up}")
    return EXIT_USER_ERROR if failures else 0


def list_models(arguments) -> int:
    from digitcnn.storage import registry

    entries = registry.list_models(arguments.models_dir)
    if not entries:
        print(f"no saved models in {config.models_dir(arguments.models_dir)}")
    for entry in entries:
        if entry.card is None:
            print(f"{entry.name}: unusable: {entry.problem}")
        else:
            card = entry.card
            print(f"{entry.name}: {card.architecture}, {card_score_text(card)}, {_trained_on_text(card)}, "
                  f"{card.epochs} epochs, reading {card.reading}, {card.created}")
    return 0


def _trained_on_text(card) -> str:
    """Whether the model records the images it trained on: what tells a test score from another."""
    if card.trained_on is None:
        return f"which of the images of {card.data_source} it trained on is not recorded"
    return f"records the {card.trained_on['images']:,} images it trained on"
