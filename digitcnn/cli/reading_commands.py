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
    """Read each picture (with ``--number``, the number each shows) with the saved model's LiteRT predictor (:func:`digitcnn.storage.registry.load_predictor`:
    converted once and kept beside the model, so a call imports no TensorFlow), as the app reads a drawing."""
    from digitcnn.storage import registry

    cap = runtime.thread_cap(arguments.threads)
    if cap is not None:  # the predictor's interpreter (and a first conversion) take the cap from the environment
        os.environ[config.THREADS_VARIABLE] = str(cap)
    with start_up_lines_dropped():  # LiteRT's line as its interpreter starts, TensorFlow's where it converts
        predictor, _ = registry.load_predictor(arguments.model, arguments.models_dir)
    read, show = (predictor.read_number, _show_number) if arguments.number else (predictor.read_picture, _show_digit)
    failures = 0
    for path in arguments.images:
        try:
            reading = read(typed_path(path, "picture file", ImageError))
        except (ImageError, EmptyDrawingError) as error:
            named = str(error).startswith(("no picture file", os.path.basename(path)))  # it names the file already
            print(str(error) if named else f"{path}: {error}", file=sys.stderr)
            failures += 1
            continue
        show(path, reading)
    return EXIT_USER_ERROR if failures else 0


def _show_digit(path: str, reading) -> None:
    sureness = reading.sureness  # as the app's reading shows it: the digit read's is the reading's score
    if reading.digit is None:
        closest = reading.closest
        print(f"{path}: not a digit (closest: {closest}, {probability_text(sureness[closest])} sure)")
        return
    ranked = sureness[:10].argsort()[::-1]
    runners_up = ", ".join(f"{d} ({probability_text(sureness[d])})" for d in ranked[1:3])
    print(f"{path}: {reading.digit} ({probability_text(reading.score)} sure); next: {runners_up}")


def _show_number(path: str, number) -> None:
    """The number read, how sure the whole reading is, then each digit's answer, left to right (a refused piece
    as "not a digit" with its closest digit); the marks left out are counted."""
    text = number.text or "no digit"  # every piece refused
    refused = f", {number.refused} not a digit" if number.refused else ""
    print(f"{path}: {text} ({probability_text(number.score)} sure{refused})")
    left_out = f"; {len(number.marks)} dot{'s' if len(number.marks) != 1 else ''} left out" if number.marks else ""
    print("  " + ", ".join(map(_digit_answer_text, number.digits)) + left_out)


def _digit_answer_text(part) -> str:
    """One digit of a number as the command line says it: "7 (98.2%)", or "not a digit (closest 7,
    12.3%)"."""
    reading = part.reading
    if reading.digit is None:
        return f"not a digit (closest {reading.closest}, {probability_text(reading.sureness[reading.closest])})"
    return f"{reading.digit} ({probability_text(reading.score)})"


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
            epochs = "" if card.epochs is None else f"{card.epochs} epochs, "
            print(f"{entry.name}: {card.architecture}, {card_score_text(card)}, {_trained_on_text(card)}, "
                  f"{epochs}reading {card.reading}, {card.created}")
    return 0


def _trained_on_text(card) -> str:
    """Whether the model records the images it trained on: what tells a test score from another."""
    if card.imported is not None:
        return f"imported from {card.imported['file']}: trained elsewhere, on images not known"
    if card.trained_on is None:
        return f"which of the images of {card.data_source} it trained on is not recorded"
    return f"records the {card.trained_on['images']:,} images it trained on"
