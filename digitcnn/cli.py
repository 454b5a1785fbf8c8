"""``python -m digitcnn``: train, evaluate, predict, list models, export CSVs, download the full MNIST, keep
drawings and fine-tune a model on them, from a terminal.

Errors a user can cause print one line, ``error: …``, and exit with status 1; a ``DIGITCNN_*`` variable or a
models folder the command cannot start with, before any work, with status 2 (as argparse's own errors).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import unicodedata
from pathlib import Path

from digitcnn import config, data, runtime, training
from digitcnn.networks import architectures
from digitcnn.errors import DigitCNNError, EmptyDrawingError, ImageError, SettingsError, TrainingCancelled
from digitcnn.percentages import probability_text, share_text
from digitcnn.data.seen import card_score_text, overlap

EXIT_USER_ERROR = 1
EXIT_CANNOT_START = 2
EXIT_INTERRUPTED = 130
DEFAULT_WRITER = "me"
NOT_A_DIGIT_WORDS = ("none", "not-a-digit")
LATEST_SHOWN = 5  # drawings listed by `drawings list`
READING_HELP = ("'plain' reads it as it is; 'three-pens' averages the readings of it as drawn, with a bolder pen and "
                "with a finer one (three times the work; better on other writers' digits)")


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the terminal
    arguments = _parser().parse_args(argv)
    try:
        config.check_environment()
        if getattr(arguments, "reads_models", False):
            _check_models_folder(arguments.models_dir)
    except DigitCNNError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CANNOT_START
    try:
        return arguments.command(arguments)
    except DigitCNNError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("\ninterrupted; nothing was saved", file=sys.stderr)
        return EXIT_INTERRUPTED


def _check_models_folder(models_dir: str | None) -> None:
    """Raise :class:`SettingsError` unless the models folder a command reads from is a folder: read as one, a
    missing folder said "default.json: no model card" and a file "no saved models"."""
    folder = config.models_dir(models_dir)
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise SettingsError(f"the models folder '{folder.name}' {problem}: give --models-dir a folder of saved "
                            f"models, or set {config.MODELS_DIR_VARIABLE} to one")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    recipe = "default: the architecture's recipe"
    train.add_argument("--arch", default=architectures.DEFAULT_ARCHITECTURE, choices=rules["architecture"].choices)
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
    train.add_argument("--name", help="save as models/NAME.keras (default: the architecture's name)")
    train.add_argument("--models-dir", help="where models are saved (default: models/ or $DIGITCNN_MODELS_DIR)")
    train.add_argument("--no-save", action="store_true", help="train and evaluate only")
    _add_threads_option(train)
    train.set_defaults(command=_train)

    evaluate = commands.add_parser("evaluate", help="score a saved model on a dataset")
    evaluate.add_argument("--model", default=config.DEFAULT_MODEL_NAME, help="the saved model's name")
    evaluate.add_argument("--data", default=data.EMBEDDED, help=data_help)
    evaluate.add_argument(
        "--all",
        action="store_true",
        help="score every image; by default only the test images, chosen as the model card's settings say",
    )
    evaluate.add_argument("--models-dir", help="where models are saved")
    _add_threads_option(evaluate)
    evaluate.set_defaults(command=_evaluate, reads_models=True)

    reread = commands.add_parser("reread", help="score a saved model again, read another way, and save its card "
                                                "with the new scores and refusal threshold (the network is unchanged)")
    reread.add_argument("--model", default=config.DEFAULT_MODEL_NAME, help="the saved model's name")
    reread.add_argument("--reading", required=True, choices=rules["reading"].choices,
                        help=f"how it is to read a picture: {READING_HELP}")
    reread.add_argument("--data", default=data.EMBEDDED, help="the data it was trained on, " + data_help.removeprefix(
        "the data: "))
    reread.add_argument("--name", help="save it as models/NAME.keras (default: its own name, replaced)")
    reread.add_argument("--models-dir", help="where models are saved")
    reread.add_argument("--fit-refusal", action="store_true",
                        help="fit its \"not a digit\" rule again, digit-likeness included, the way this version "
                             "fits it after training (for a model trained before the way changed)")
    _add_threads_option(reread)
    reread.set_defaults(command=_reread, reads_models=True)

    predict = commands.add_parser("predict", help="read the digit in image files (PNG, JPEG, … of any size)")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="dark-on-light or light-on-dark digit pictures")
    predict.add_argument("--model", default=config.DEFAULT_MODEL_NAME, help="the saved model's name")
    predict.add_argument("--models-dir", help="where models are saved")
    _add_threads_option(predict)
    predict.set_defaults(command=_predict, reads_models=True)

    listing = commands.add_parser("models", help="list saved models with their scores")
    listing.add_argument("--models-dir", help="where models are saved")
    listing.set_defaults(command=_list_models, reads_models=True)

    record = commands.add_parser("record", help="record which images a model saved before models kept that record "
                                                "trained on, from the data its card names (the model is unchanged)")
    record.add_argument("--model", default=config.DEFAULT_MODEL_NAME, help="the saved model's name")
    record.add_argument("--data", required=True, help="the data it was trained on, " + data_help.removeprefix(
        "the data: "))
    record.add_argument("--models-dir", help="where models are saved")
    record.set_defaults(command=_record, reads_models=True)

    export = commands.add_parser("export-csv", help="write a dataset as a CSV in the tutorial's format")
    export.add_argument("--data", default=data.EMBEDDED, help=data_help)
    export.add_argument("--out", required=True, help="the CSV file to write")
    export.add_argument("--first", type=int, default=0, help="index of the first image written (default: 0)")
    export.add_argument("--count", type=int, help="how many images to write (default: all from --first on)")
    export.add_argument("--no-header", action="store_true", help="write no header row (label in column 1)")
    export.set_defaults(command=_export_csv)

    fetch = commands.add_parser("download-mnist", help="download the full MNIST (60,000 training and 10,000 test "
                                                       "digits, 12 MB) into the data folder, for the app and --data")
    fetch.add_argument("--url", help="the address of a folder that holds MNIST's four files (default: "
                                     f"${config.MNIST_URL_VARIABLE}, else {config.DEFAULT_MNIST_URL})")
    fetch.add_argument("--data-dir", help="the data folder: the files go into its mnist/ (default: data/ or "
                                          f"${config.DATA_DIR_VARIABLE})")
    fetch.set_defaults(command=_download_mnist)

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
    fine_tune.add_argument("--models-dir", help="where models are saved")
    _add_threads_option(fine_tune)
    fine_tune.set_defaults(command=_fine_tune, reads_models=True)
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
    add.set_defaults(command=_drawings_add)

    listing = actions.add_parser("list", parents=[db_after], help="count the drawings by writer and label, "
                                                                   "and show the latest")
    listing.add_argument("--writer", help="one writer's only (default: everyone's)")
    listing.set_defaults(command=_drawings_list)

    export = actions.add_parser("export", parents=[db_after], help="write the drawings of digits as a CSV in "
                                                                   "the tutorial's format")
    export.add_argument("--out", required=True, help="the CSV file to write")
    export.add_argument("--writer", help="one writer's only (default: everyone's)")
    export.set_defaults(command=_drawings_export)

    importing = actions.add_parser("import", parents=[db_after], help="keep the pictures of a folder with "
                                                                      "sub-folders 0 … 9 and not-a-digit")
    importing.add_argument("folder", metavar="DIR", help="holds folders 0 to 9 (and not-a-digit) of pictures")
    importing.add_argument("--writer", default=DEFAULT_WRITER, help=f"who drew them (default: {DEFAULT_WRITER})")
    importing.set_defaults(command=_drawings_import)


def _add_db_option(command: argparse.ArgumentParser, default=None) -> None:
    command.add_argument("--db", default=default, help=f"the database of drawings (default: "
                         f"${config.DRAWINGS_DB_VARIABLE}, else data/drawings.sqlite)")


def _add_threads_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--threads", type=int, help=f"CPU threads TensorFlow may use, 1 to {config.MAX_THREADS} "
                         f"(default: ${runtime.THREADS_VARIABLE}, else all cores)")


# The settings `train` takes from options of the same names (the architecture is --arch).
_TRAIN_OPTIONS = ("epochs", "batch_size", "learning_rate", "schedule", "test_fraction", "seed", "stratify", "test_set",
                  "augment", "fit_to_run", "reading")


def _train(arguments) -> int:
    from digitcnn import training
    from digitcnn.storage import registry

    runtime.apply_thread_setting(arguments.threads)
    settings = training.TrainingConfig(architecture=arguments.arch,
                                       **{setting: getattr(arguments, setting) for setting in _TRAIN_OPTIONS})
    name = registry.validate_model_name(arguments.arch if arguments.name is None else arguments.name)
    if not arguments.no_save:  # find out now, not after minutes of training, that the model cannot be kept
        registry.check_writable(arguments.models_dir)
    dataset = data.load_dataset(arguments.data)
    print(f"data: {dataset.source}, {len(dataset):,} images")
    train_size = training.train_size(dataset, settings)
    run = training.fitted_to_run(settings, train_size)  # what train() uses
    print(f"training {run.architecture} for {run.epochs} epochs, batch size {run.batch_size}, "
          f"learning rate {run.learning_rate:g} ({run.schedule}), "
          f"augmentation {'on' if run.augment else 'off'}, "
          f"weight averaging {f'momentum {run.ema_momentum:g}' if run.ema_momentum else 'off'}, "
          f"label smoothing {run.label_smoothing or 'off'}, reading {run.reading}"
          f"{', fitted to the run' if run != settings else ''} (Ctrl-C cancels)")
    if settings.label_smoothing:
        print(f"(the losses shown while training are against labels smoothed by {settings.label_smoothing:g}; "
              f"the final test loss is plain cross-entropy)")
    if (warning := training.short_run_warning(settings, train_size)) is not None:
        print(f"warning: {warning}")
    result = training.train(dataset, settings, on_progress=TerminalProgress())
    card = registry.ModelCard.from_training(name, result)
    print()
    print(f"architecture: {card.architecture} ({card.parameter_count:,} parameters)")
    print(f"data: {card.data_source}: {result.split.describe()}")
    print(f"training time: {result.training_seconds:.1f} s")
    print(f"train accuracy: {share_text(card.train_accuracy)}")
    print(f"test accuracy: {share_text(card.test_accuracy)}")
    print(f"test loss: {card.test_loss:.4f}")
    _print_report(result.test_evaluation)
    if not arguments.no_save:
        path = registry.save_model(result.model, card, arguments.models_dir, trained_on=result.trained_on)
        print(f"saved: {path} (model card {path.with_suffix(registry.CARD_SUFFIX).name})")
    return 0


def _evaluate(arguments) -> int:
    from digitcnn import training
    from digitcnn.storage import registry
    from digitcnn.networks.evaluation import evaluate
    from digitcnn.reading.inference import predict_with_features

    runtime.apply_thread_setting(arguments.threads)
    model, card = registry.load_model(arguments.model, arguments.models_dir)
    record = registry.load_training_record(arguments.model, arguments.models_dir)
    dataset = data.load_dataset(arguments.data)
    if arguments.all:
        chosen, described = dataset, f"all {len(dataset):,} images"
    else:
        split = training.make_split(dataset, card.training_config)
        chosen, described = split.test, f"the part its settings hold out: {split.describe()}"
    seen = overlap([(card.name, record)], chosen)
    scored = seen.unseen(chosen) or chosen  # the unseen images alone where there are some
    probabilities, features = predict_with_features(model, scored.images, reading=card.reading)
    evaluation = evaluate(scored.labels, probabilities)
    print(f"model: {card.name} ({card.architecture}, trained on {card.data_source}; reading: {card.reading})")
    print(f"data: {dataset.source}, {described}")
    print(seen.describe())
    print(f"{_score_name(seen)}: {share_text(evaluation.accuracy)} ({len(scored):,} images)")
    print(f"loss: {evaluation.loss:.4f}")
    if card.refusal is None:
        print("not-a-digit refusal: none (the model was saved before refusal rules; it always answers)")
    else:
        rule = card.refusal_rule
        answered, accuracy = rule.coverage(evaluation.probabilities, evaluation.labels, features)
        print(f"refused as not a digit: {share_text(1 - answered)} of the images "
              f"(below {rule.threshold:.3f} {rule.score}); "
              f"accuracy on the {share_text(answered)} answered: {share_text(accuracy)}")
    _print_report(evaluation)
    return 0


def _reread(arguments) -> int:
    from dataclasses import replace

    from digitcnn.storage import registry

    runtime.apply_thread_setting(arguments.threads)
    model, card = registry.load_model(arguments.model, arguments.models_dir)
    record = registry.load_training_record(arguments.model, arguments.models_dir)
    if card.fine_tuned is not None:
        raise SettingsError(f"{card.name} is fine-tuned from {card.fine_tuned['base_model']}: reread that model, "
                            f"then fine-tune it again")
    dataset = data.load_dataset(arguments.data)
    if dataset.source != card.data_source:
        raise SettingsError(f"{card.name} was trained on {card.data_source}, not {dataset.source}: give that data "
                            f"with --data")
    settings = replace(card.training_config, reading=arguments.reading)
    name = registry.validate_model_name(card.name if arguments.name is None else arguments.name)
    registry.check_writable(arguments.models_dir)  # before the scoring, as train does
    print(f"{card.name}, read {card.reading}: train accuracy {share_text(card.train_accuracy)}, test accuracy "
          f"{share_text(card.test_accuracy)}{_refusal_text(card)}")
    train_evaluation, test_evaluation, refusal = training.scores_read_as(
        model, settings, dataset, card.refusal_rule.likeness, fit_likeness_again=arguments.fit_refusal)
    reread = card.read_as(arguments.reading, train_evaluation, test_evaluation, refusal)
    if arguments.fit_refusal:
        reread = replace(reread, refusal=refusal.to_dict())  # also for a model saved before it had a rule
    print(f"{card.name}, read {reread.reading}: train accuracy {share_text(reread.train_accuracy)}, test accuracy "
          f"{share_text(reread.test_accuracy)}{_refusal_text(reread)}")
    path = registry.save_model(model, replace(reread, name=name), arguments.models_dir, trained_on=record)
    print(f"saved: {path} (model card {path.with_suffix(registry.CARD_SUFFIX).name})")
    return 0


def _score_name(seen) -> str:
    """What a score on the images ``seen`` (a :class:`~digitcnn.data.seen.Overlap`) tells, unseen ones scored alone."""
    if seen.unseen_count:
        return "test accuracy"
    return "accuracy on images it trained on (not a test)" if seen.known else "accuracy (not known to be a test)"


def _record(arguments) -> int:
    from digitcnn.storage import registry
    from digitcnn.data.seen import TrainingRecord

    _, card = registry.load_model(arguments.model, arguments.models_dir)
    if card.fine_tuned is not None:
        raise SettingsError(f"{card.name} is fine-tuned: its record comes from its base model and drawings, which "
                            f"its card does not hold; fine-tune it again")
    dataset = data.load_dataset(arguments.data)
    split = training.make_split(dataset, card.training_config)
    if dataset.source != card.data_source or len(split.train) != card.train_size:
        raise SettingsError(f"{card.name} was trained on {card.train_size:,} images of {card.data_source}, not on "
                            f"{len(split.train):,} of {dataset.source}: give the data it was trained on with --data")
    record = TrainingRecord.of(split.train)
    path = registry.attach_training_record(card.name, record, int(record.seen(split.test).sum()),
                                           arguments.models_dir)
    print(f"recorded: {card.name} trained on these {len(record):,} images of {dataset.source} "
          f"({split.describe()}): {path.name}, {path.stat().st_size:,} bytes")
    return 0


def _refusal_text(card) -> str:
    rule = card.refusal_rule
    if not rule.fitted:
        return ""
    return f", not a digit below {rule.threshold:.3f} ({share_text(rule.test_refused)} of its test digits)"


def _predict(arguments) -> int:
    from digitcnn.reading import inference
    from digitcnn.data import preprocess
    from digitcnn.storage import registry

    runtime.apply_thread_setting(arguments.threads)
    model, card = registry.load_model(arguments.model, arguments.models_dir)
    failures = 0
    for path in arguments.images:
        try:
            digit = preprocess.photo_to_mnist(preprocess.read_image(path))
        except (ImageError, EmptyDrawingError) as error:
            named = str(error).startswith(os.path.basename(path))  # an ImageError names the file already
            print(str(error) if named else f"{path}: {error}", file=sys.stderr)
            failures += 1
            continue
        [probabilities], [features] = inference.predict_with_features(model, digit, reading=card.reading)
        reading = card.refusal_rule.read(probabilities, features)
        sureness = reading.sureness  # as the app's reading shows it: the digit read's is the reading's score
        if reading.digit is None:
            closest = reading.closest
            print(f"{path}: not a digit (closest: {closest}, {probability_text(sureness[closest])} sure)")
            continue
        ranked = sureness[:10].argsort()[::-1]
        runners_up = ", ".join(f"{d} ({probability_text(sureness[d])})" for d in ranked[1:3])
        print(f"{path}: {reading.digit} ({probability_text(reading.score)} sure); next: {runners_up}")
    return EXIT_USER_ERROR if failures else 0


def _list_models(arguments) -> int:
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


def _export_csv(arguments) -> int:
    dataset = data.load_dataset(arguments.data)
    stop = len(dataset) if arguments.count is None else arguments.first + arguments.count
    if not 0 <= arguments.first < len(dataset) or stop > len(dataset) or stop <= arguments.first:
        raise data.DataError(
            f"{dataset.source}: holds {len(dataset):,} images; cannot write from {arguments.first} to {stop}"
        )
    part = dataset.subset(slice(arguments.first, stop))
    path = data.write_csv(part, arguments.out, header=not arguments.no_header)
    print(f"wrote {len(part):,} rows to {path}")
    return 0


def _download_mnist(arguments) -> int:
    from digitcnn.data import download

    folder = config.mnist_download_dir(arguments.data_dir)
    if not download.is_downloaded(arguments.data_dir):
        address = config.mnist_url(arguments.url)
        print(f"downloading the full MNIST ({download.DOWNLOAD_BYTES / 1e6:.0f} MB) from {address} into {folder}/")
        with DownloadProgress() as progress:
            download.download_mnist(address, arguments.data_dir, on_progress=progress,
                                    on_wait=lambda: print("another download into it is under way: waiting for it"))
    print(f"the full MNIST is in {folder}/: use it with --data {folder}; the app lists it as Full MNIST (downloaded)")
    return 0


def _drawings_add(arguments) -> int:
    from digitcnn.data import preprocess
    from digitcnn.data.drawings import DrawingStore, writer_name

    label = _drawing_label(arguments.label)
    writer = writer_name(arguments.writer)
    store = DrawingStore(arguments.db)
    images = []
    for path in arguments.images:  # all read before any is kept: a bad picture keeps none
        try:
            images.append(preprocess.photo_to_mnist(preprocess.read_image(path)))
        except EmptyDrawingError as error:
            raise EmptyDrawingError(f"{os.path.basename(path)}: {error}; nothing kept") from None
        except ImageError as error:
            raise ImageError(f"{error}; nothing kept") from None  # it names the file already
    kept_before = {drawing.id for drawing in store.drawings(writer, label)}
    ids = list(dict.fromkeys(store.add(writer, label, image) for image in images))  # a picture is kept once
    new = [drawing_id for drawing_id in ids if drawing_id not in kept_before]
    what = "not a digit" if label == data.NOT_A_DIGIT else f"a {label}"
    print(f"kept {len(new)} drawing{'s' if len(new) != 1 else ''} of {what} by {writer} in {store.path.name}"
          + (f" (id {', '.join(map(str, new))})" if new else ""))
    if repeated := len(images) - len(new):
        print(f"{repeated} of the pictures {'was' if repeated == 1 else 'were'} kept already (the same picture of "
              f"the same label by the same writer): a picture is kept once")
    return 0


def _drawings_list(arguments) -> int:
    from digitcnn.data.drawings import DrawingStore, shown_writer, writer_name

    asked = None if arguments.writer is None else writer_name(arguments.writer)  # "" is refused before any output
    store = DrawingStore(arguments.db)
    writers = [asked] if asked else store.writers()
    table = {writer: store.counts(writer) for writer in writers}
    total = sum(sum(counts.values()) for counts in table.values())
    if not total:
        print(f"{store.path.name}: no drawings yet" + (f" by {asked}" if asked else ""))
        return 0
    print(f"{store.path.name}: {total:,} drawing{'s' if total != 1 else ''} by {len(writers)} "
          f"writer{'s' if len(writers) != 1 else ''}")
    names = {writer: shown_writer(writer) for writer in writers}  # a browser's own drawings: "a private writer"
    width = max(6, *map(_display_width, names.values()))
    print(_left("writer", width) + "".join(str(digit).rjust(6) for digit in range(10)) + "  not a digit   total")
    for writer, counts in table.items():
        print(_left(names[writer], width) + "".join(str(counts[digit]).rjust(6) for digit in range(10))
              + str(counts.get(data.NOT_A_DIGIT, 0)).rjust(13) + str(sum(counts.values())).rjust(8))
    print("\nlatest:")
    for drawing in store.drawings(asked, latest=LATEST_SHOWN):
        label = "not a digit" if drawing.label == data.NOT_A_DIGIT else drawing.label
        reading = ""
        if drawing.model is not None:
            answer = "not a digit" if drawing.answer is None else drawing.answer
            confidence = "" if drawing.confidence is None else f", {probability_text(drawing.confidence)} sure"
            reading = f"; {drawing.model} read {answer}{confidence}"
        print(f"  #{drawing.id} {drawing.created} {shown_writer(drawing.writer)}: {label}{reading}")
    return 0


def _display_width(text: str) -> int:
    """How many columns ``text`` takes on a terminal: East Asian wide and full-width characters two, combining
    marks none, others one."""
    return sum(0 if unicodedata.combining(character) else
               2 if unicodedata.east_asian_width(character) in "WF" else 1 for character in text)


def _left(text: str, width: int) -> str:
    """``text`` padded with blanks to ``width`` terminal columns."""
    return text + " " * max(0, width - _display_width(text))


def _drawings_export(arguments) -> int:
    from digitcnn.data.drawings import DrawingStore, writer_name

    writer = None if arguments.writer is None else writer_name(arguments.writer)
    store = DrawingStore(arguments.db)
    dataset = store.dataset(writer)
    path = data.write_csv(dataset, arguments.out)
    print(f"wrote {len(dataset):,} drawings of digits ({dataset.source}) to {path}")
    return 0


def _drawings_import(arguments) -> int:
    from digitcnn.data.drawings import DrawingStore, writer_name

    writer = writer_name(arguments.writer)
    store = DrawingStore(arguments.db)
    count = store.import_folder(arguments.folder, writer)
    print(f"imported {count:,} drawing{'s' if count != 1 else ''} by {writer} "
          f"from {Path(arguments.folder).resolve().name}/ into {store.path.name}")
    return 0


def _drawing_label(text: str) -> int:
    """A label as typed: a digit 0–9, or one of :data:`NOT_A_DIGIT_WORDS`."""
    word = text.strip().lower()
    if word in NOT_A_DIGIT_WORDS:
        return data.NOT_A_DIGIT
    if len(word) == 1 and word in "0123456789":
        return int(word)
    raise SettingsError(f"label {text!r} is not a digit 0–9 or {' / '.join(NOT_A_DIGIT_WORDS)} (not a digit)")


def _fine_tune(arguments) -> int:
    from digitcnn.storage import registry
    from digitcnn.data.drawings import DrawingStore, writer_name

    runtime.apply_thread_setting(arguments.threads)
    name = registry.check_new_name(arguments.name, starts_from=arguments.model)  # `train` makes the shipped model
    registry.check_writable(arguments.models_dir)  # find out now, not after the fine-tuning, that it cannot be kept
    writer = None if arguments.writer is None else writer_name(arguments.writer)
    store = DrawingStore(arguments.db)
    drawings = store.dataset(writer)
    writers = [writer] if writer else store.writers()
    from digitcnn.training import finetune  # TensorFlow comes with the fine-tuning itself, after these quick checks
    from digitcnn.training.drawings_rule import check_drawings
    from digitcnn.training.finetune_config import FineTuneConfig

    check_drawings(drawings, FineTuneConfig().personal_test_share)  # before the model and data load
    model, card = registry.load_model(arguments.model, arguments.models_dir)
    record = registry.load_training_record(arguments.model, arguments.models_dir)
    dataset = data.load_dataset(arguments.data)
    print(f"model: {card.name} ({card.architecture}, trained on {card.data_source})")
    print(f"drawings: {drawings.source}, {len(drawings):,} of digits; data: {dataset.source}, {len(dataset):,} images")
    print("fine-tuning (Ctrl-C cancels)")
    result = finetune.fine_tune(model, card, drawings, dataset, on_progress=TerminalProgress(),
                                writer=writers[0] if len(writers) == 1 else "everyone", base_record=record)
    print()
    print(result.message)
    if not result.passed:
        print("error: the fine-tuned model did not pass its check (see above); nothing was saved", file=sys.stderr)
        return EXIT_USER_ERROR
    path = registry.save_model(result.model, registry.ModelCard.from_fine_tune(name, result), arguments.models_dir,
                               trained_on=result.trained_on)
    print(f"saved: {path} (model card {path.with_suffix(registry.CARD_SUFFIX).name})")
    return 0


class TerminalProgress:
    """Shows training progress: a live line on a terminal, one line per epoch in a log."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.live = stream.isatty()
        self.last_drawn = 0.0

    def __call__(self, progress) -> None:
        if progress.stage == "epoch":
            scores = ""
            if progress.validation_accuracy is not None:
                scores = (f", validation loss {progress.validation_loss:.4f}, "
                          f"validation accuracy {share_text(progress.validation_accuracy)}")
            self._write(f"{self._status(progress)}{scores}", end="\n")
        elif self.live and (progress.stage == "step" or time.monotonic() - self.last_drawn > 0.1):
            self.last_drawn = time.monotonic()
            self._write(self._status(progress), end="")

    def _write(self, text: str, end: str) -> None:
        prefix = "\r\033[K" if self.live else ""
        self.stream.write(prefix + text + end)
        self.stream.flush()

    @staticmethod
    def _status(progress) -> str:
        if progress.stage == "step":  # before the first batch or after the last: scoring, calibrating, …
            return f"{progress.step}… {_clock(progress.elapsed)} elapsed"
        width = 20
        filled = round(width * progress.batch / progress.batches)
        left = progress.seconds_left
        eta = f", {_clock(left)} left" if left is not None and progress.stage == "batch" else ""
        return (
            f"epoch {progress.epoch}/{progress.epochs} [{'#' * filled}{'.' * (width - filled)}] "
            f"{progress.batch}/{progress.batches}: loss {progress.loss:.4f}, accuracy {share_text(progress.accuracy)}, "
            f"{_clock(progress.elapsed)} elapsed{eta}"
        )


class DownloadProgress:
    """Shows a download's progress: a live line on a terminal, a line as each file starts in a log."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.live = stream.isatty()
        self.file = None
        self.last_drawn = 0.0

    def __enter__(self):
        return self

    def __call__(self, progress) -> None:
        if self.live and (progress.file != self.file or time.monotonic() - self.last_drawn > 0.1):
            self.last_drawn = time.monotonic()
            self.stream.write(f"\r\033[K{progress.file}: {progress.received / 1e6:.1f} of "
                              f"{progress.expected / 1e6:.1f} MB ({progress.fraction:.0%})")
        elif not self.live and progress.file != self.file:
            self.stream.write(f"{progress.file}\n")
        self.file = progress.file
        self.stream.flush()

    def __exit__(self, *error) -> None:
        if self.live and self.file is not None:  # the live line ends, so that what follows starts a line
            self.stream.write("\n")
            self.stream.flush()


def _print_report(evaluation) -> None:
    print("\nconfusion matrix (rows: true digit, columns: predicted digit)")
    print(_matrix_text(evaluation.confusion_matrix))
    print("\nclassification report")
    print(evaluation.report_text())


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def _matrix_text(matrix) -> str:
    width = max(5, len(str(matrix.max())) + 1)
    lines = ["".rjust(3) + "".join(str(d).rjust(width) for d in range(10))]
    lines += [str(d).rjust(3) + "".join(str(v).rjust(width) for v in row) for d, row in enumerate(matrix)]
    return "\n".join(lines)
