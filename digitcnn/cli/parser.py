"""The command line's parser: every command, its options, and their help, which shows each option's default."""

from __future__ import annotations

import argparse

from digitcnn import config, data, runtime, training
from digitcnn.cli import data_commands, model_file_commands, model_commands, reading_commands
from digitcnn.cli.data_commands import DEFAULT_WRITER
from digitcnn.networks import architectures
from digitcnn.storage.export import FORMATS as EXPORT_FORMATS

READING_HELP = ("'plain' reads it as it is; 'three-pens' averages the readings of it as drawn, with a bolder pen and "
                "with a finer one (three times the work; better on other writers' digits)")


class _DefaultsShown(argparse.HelpFormatter):
    """Help that ends each option's text with its default, where the text does not say it already and there is
    one to show (a switch that is off unless given, or an option whose default the text explains, has none)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text or not action.option_strings or action.default in (None, False, argparse.SUPPRESS)
                or action.nargs == 0):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """A parser whose help shows the defaults; its commands' parsers are of this class too (argparse makes
    them of their parent's class)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _DefaultsShown)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m digitcnn", description="DigitCNN from a terminal: train, evaluate and use digit classifiers."
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    data_help = (
        "the data: a CSV in the tutorial's format, a folder of MNIST IDX files, an .npz like Keras's mnist.npz, "
        f"or one of {', '.join(data.NAMED_SOURCES)} (default: embedded, 5,000 MNIST digits)"
    )

    train = commands.add_parser("train", help="train a network, evaluate it and save it with its model card")
    train.add_argument("--data", default=data.EMBEDDED, help=data_help)
    rules, defaults = training.SETTINGS, training.TrainingConfig  # the class's defaults: the tutorial's split
    recipe = "default: the recipe's, see --quick"
    train.add_argument("--arch", default=architectures.DEFAULT_ARCHITECTURE, choices=rules["architecture"].choices,
                       help="the network: " + "; ".join(f"{name}, the {architecture.title[0].lower()}"
                                                        f"{architecture.title[1:]}" for name, architecture
                                                        in architectures.ARCHITECTURES.items()))
    full_epochs = ", ".join(f"{architecture.recipe.epochs} epochs for {name}"
                            for name, architecture in architectures.ARCHITECTURES.items())
    train.add_argument("--quick", action="store_true",
                       help="train the app's quick first model instead: enough epochs to show the network about "
                            f"{training.QUICK_RUN_IMAGES:,} images, and on big data one epoch of at most "
                            f"{training.QUICK_RUN_MAX_IMAGES:,} of them (default: off: the architecture's full recipe, "
                            f"made for full MNIST: {full_epochs})")
    train.add_argument("--epochs", type=int, help=f"passes over the training images, {rules['epochs'].rule()} ({recipe})")
    train.add_argument("--batch-size", type=int, help=f"images per step ({recipe})")
    train.add_argument("--learning-rate", type=float,
                       help=f"Adam's (peak) learning rate, {rules['learning_rate'].rule()} ({recipe})")
    train.add_argument("--schedule", choices=rules["schedule"].choices, help=f"how the learning rate changes ({recipe})")
    train.add_argument(
        "--test-set", default=defaults.test_set, choices=rules["test_set"].choices,
        help="'holdout' keeps --test-fraction of the data apart, 'own' uses the source's own test set "
        f"(MNIST's 10,000), 'auto' picks 'own' when there is one (default: {defaults.test_set})",
    )
    train.add_argument("--test-fraction", type=float, default=defaults.test_fraction,
                       help=f"share held out for testing, {rules['test_fraction'].rule()} "
                            f"(default: {defaults.test_fraction:g})")
    train.add_argument("--seed", type=int, default=defaults.seed,
                       help=f"seed of the split, the weights and the shuffling (default: {defaults.seed})")
    train.add_argument("--stratify", action="store_true", help="keep each digit's share equal in both parts")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction,
                       help=f"shift, turn and zoom training images a little, widen some and vary their pens ({recipe})")
    train.add_argument("--fit-to-run", action=argparse.BooleanOptionalAction, default=defaults.fit_to_run,
                       help="for few images or epochs, shrink the batch size and the weight averaging so that a "
                            "short run learns too (default: on; full-MNIST runs are unchanged)")
    train.add_argument("--reading", default=defaults.reading, choices=rules["reading"].choices,
                       help=f"how the model reads a picture: {READING_HELP} (default: {defaults.reading})")
    train.add_argument("--precision", default=defaults.precision, choices=rules["precision"].choices,
                       help="the arithmetic the network trains in; 'auto' is bfloat16 where the processor computes it "
                            "natively (about twice as fast), else float32; the trained network reads in float32 "
                            f"(default: {defaults.precision})")
    train.add_argument("--name", help="save as models/NAME.keras (default: the architecture's name)")
    _add_models_dir_option(train)
    train.add_argument("--no-save", action="store_true", help="train and evaluate only")
    _add_threads_option(train)
    train.set_defaults(command=model_commands.train)

    evaluate = commands.add_parser("evaluate", help="score a saved model on a dataset")
    evaluate.add_argument("--model", default=config.DEFAULT_MODEL_NAME, help="the saved model's name")
    evaluate.add_argument("--data", default=data.EMBEDDED, help=data_help)
    evaluate.add_argument(
        "--all",
        action="store_true",
        help="score every image; by default only the test images, chosen as the model card's settings say",
    )
    _add_models_dir_option(evaluate)
    _add_threads_option(evaluate)
    evaluate.set_defaults(command=model_commands.evaluate, reads_models=True)

    reread = commands.add_parser("reread", help="score a saved model again, read another way, and save its card "
                                                "with the new scores and refusal threshold (the network is unchanged)")
    reread.add_argument("--model", default=config.DEFAULT_MODEL_NAME, help="the saved model's name")
    reread.add_argument("--reading", required=True, choices=rules["reading"].choices,
                        help=f"how it is to read a picture: {READING_HELP}")
    reread.add_argument("--data", default=data.EMBEDDED, help="the data it was trained on, " + data_help.removeprefix(
        "the data: "))
    reread.add_argument("--name", help="save it as models/NAME.keras (default: its own name, replaced)")
    _add_models_dir_option(reread)
    reread.add_argument("--fit-refusal", action="store_true",
                        help="fit its \"not a digit\" rule again, digit-likeness included, the way this version "
                             "fits it after training (for a model trained before the way changed)")
    _add_threads_option(reread)
    reread.set_defaults(command=model_commands.reread, reads_models=True)

    predict = commands.add_parser("predict", help="read the digit (or, with --number, the number) in image files "
                                                "(PNG, JPEG, … of any size)")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="dark-on-light or light-on-dark digit pictures")
    predict.add_argument("--model", default=config.DEFAULT_MODEL_NAME, help="the saved model's name")
    predict.add_argument("--number", action="store_true",
                         help="each picture holds a number, a row of digits: print it and each digit's answer")
    _add_models_dir_option(predict)
    _add_threads_option(predict, who="the reading (LiteRT)")
    predict.set_defaults(command=reading_commands.predict, reads_models=True)

    listing = commands.add_parser("models", help="list saved models with their scores")
    _add_models_dir_option(listing)
    listing.set_defaults(command=reading_commands.list_models, reads_models=True)

    record = commands.add_parser("record", help="record which images a model saved before models kept that record "
                                                "trained on, from the data its card names (the model is unchanged)")
    record.add_argument("--model", default=config.DEFAULT_MODEL_NAME, help="the saved model's name")
    record.add_argument("--data", required=True, help="the data it was trained on, " + data_help.removeprefix(
        "the data: "))
    _add_models_dir_option(record)
    record.set_defaults(command=model_commands.record, reads_models=True)

    model_import = commands.add_parser("import", help="bring in a Keras model made elsewhere (.keras, at most 50 MB): "
                                                      "scored on the data's test images and saved with its card")
    model_import.add_argument("file", metavar="FILE", help="the .keras file: a network that reads one 28×28 picture "
                              "shaped (28, 28, 1), (28, 28) or (784,), pixels 0–1 or 0–255, and gives 10 "
                              "probabilities or logits")
    model_import.add_argument("--name", required=True, help="save it as models/NAME.keras (a name no saved model has)")
    model_import.add_argument("--data", default=data.EMBEDDED,
                              help="the data it is scored on, " + data_help.removeprefix("the data: "))
    _add_models_dir_option(model_import)
    model_import.set_defaults(command=model_file_commands.import_model)

    model_export = commands.add_parser("export", help="write a saved model as a file to take anywhere: Keras (with "
                                                      "its card), LiteRT, or a zip of both with how to read them")
    model_export.add_argument("model", metavar="NAME", help="the saved model's name")
    model_export.add_argument("--format", choices=EXPORT_FORMATS, default="keras",
                              help="keras: the .keras file, loadable in plain Keras 3; tflite: for LiteRT, reading "
                                   "a picture as the app does; zip: both, the card and ten lines of Python for each")
    model_export.add_argument("--output", metavar="PATH", help="the file to write (default: NAME.keras, NAME.tflite "
                                                               "or NAME.zip in the current folder)")
    _add_models_dir_option(model_export)
    model_export.set_defaults(command=model_file_commands.export, reads_models=True)

    export = commands.add_parser("export-csv", help="write a dataset as a CSV in the tutorial's format")
    export.add_argument("--data", default=data.EMBEDDED, help=data_help)
    export.add_argument("--out", required=True, help="the CSV file to write")
    export.add_argument("--first", type=int, default=0, help="index of the first image written (default: 0)")
    export.add_argument("--count", type=int, help="how many images to write (default: all from --first on)")
    export.add_argument("--no-header", action="store_true", help="write no header row (label in column 1)")
    export.set_defaults(command=data_commands.export_csv)

    fetch = commands.add_parser("download-mnist", help="download the full MNIST (60,000 training and 10,000 test "
                                                       "digits, 12 MB) into the data folder, for the app and --data")
    fetch.add_argument("--url", help="the address of a folder that holds MNIST's four files (default: "
                                     f"${config.MNIST_URL_VARIABLE}, else {config.DEFAULT_MNIST_URL})")
    fetch.add_argument("--data-dir", help="the data folder: the files go into its mnist/ (default: data/ or "
                                          f"${config.DATA_DIR_VARIABLE})")
    fetch.set_defaults(command=data_commands.download_mnist)

    _add_drawings_commands(commands)

    fine_tune = commands.add_parser("fine-tune", help="fine-tune a saved model on kept drawings; saved only when "
                                                      "the result passes its before/after check")
    fine_tune.add_argument("--model", default=config.DEFAULT_MODEL_NAME, help="the saved model to start from")
    fine_tune.add_argument("--name", required=True, help="save the fine-tuned model as models/NAME.keras (another "
                           "name than --model's, and not the shipped default's)")
    fine_tune.add_argument("--writer", help="learn from this writer's drawings only (default: everyone's)")
    fine_tune.add_argument("--data", default=data.EMBEDDED,
                           help="the digits that keep the model general, " + data_help.removeprefix("the data: "))
    _add_db_option(fine_tune)
    _add_models_dir_option(fine_tune)
    _add_threads_option(fine_tune)
    fine_tune.set_defaults(command=model_commands.fine_tune, reads_models=True)
    return parser


def _add_drawings_commands(commands) -> None:
    """``drawings add|list|export|import``; ``--db`` goes before or after the sub-command."""
    drawings = commands.add_parser("drawings", help="keep drawings of digits with their labels, to fine-tune on")
    _add_db_option(drawings)
    actions = drawings.add_subparsers(title="drawings commands", required=True, metavar="ACTION")
    # After the sub-command, --db has no default of its own: it would overwrite one given before it.
    db_after = argparse.ArgumentParser(add_help=False)
    _add_db_option(db_after, default=argparse.SUPPRESS)

    add = actions.add_parser("add", parents=[db_after], help="keep pictures of one label (PNG, JPEG, …)")
    add.add_argument("--label", required=True, help="what they show: a digit 0–9, or none (not a digit)")
    add.add_argument("--writer", default=DEFAULT_WRITER, help=f"who drew them (default: {DEFAULT_WRITER})")
    add.add_argument("images", nargs="+", metavar="FILE", help="pictures of one digit each, of any size")
    add.set_defaults(command=data_commands.drawings_add)

    listing = actions.add_parser("list", parents=[db_after], help="count the drawings by writer and label, "
                                                                   "and show the latest")
    listing.add_argument("--writer", help="one writer's only (default: everyone's)")
    listing.set_defaults(command=data_commands.drawings_list)

    export = actions.add_parser("export", parents=[db_after], help="write the drawings of digits as a CSV in "
                                                                   "the tutorial's format")
    export.add_argument("--out", required=True, help="the CSV file to write")
    export.add_argument("--writer", help="one writer's only (default: everyone's)")
    export.set_defaults(command=data_commands.drawings_export)

    importing = actions.add_parser("import", parents=[db_after], help="keep the pictures of a folder with "
                                                                      "sub-folders 0 … 9 and not-a-digit")
    importing.add_argument("folder", metavar="DIR", help="holds folders 0 to 9 (and not-a-digit) of pictures")
    importing.add_argument("--writer", default=DEFAULT_WRITER, help=f"who drew them (default: {DEFAULT_WRITER})")
    importing.set_defaults(command=data_commands.drawings_import)


def _add_db_option(command: argparse.ArgumentParser, default=None) -> None:
    command.add_argument("--db", default=default, help=f"the database of drawings (default: "
                         f"${config.DRAWINGS_DB_VARIABLE}, else data/drawings.sqlite)")


def _add_models_dir_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--models-dir", help=f"where models are saved (default: ${config.MODELS_DIR_VARIABLE}, "
                                              f"else models/)")


def _add_threads_option(command: argparse.ArgumentParser, who: str = "TensorFlow") -> None:
    command.add_argument("--threads", type=int, help=f"CPU threads {who} may use, 1 to {config.MAX_THREADS} "
                         f"(default: ${runtime.THREADS_VARIABLE}, else all cores)")
