"""The commands that train or score a network, and so import TensorFlow: ``train``, ``evaluate``, ``reread``,
``record`` and ``fine-tune``."""

from __future__ import annotations

import sys
from dataclasses import replace

from digitcnn import runtime, training
from digitcnn.cli.output import EXIT_USER_ERROR, TerminalProgress, print_report
from digitcnn.cli.typed import typed_dataset
from digitcnn.data.seen import card_test_note, overlap
from digitcnn.errors import SettingsError
from digitcnn.percentages import share_text

# The settings `train` takes from options of the same names (the architecture is --arch).
_TRAIN_OPTIONS = ("epochs", "batch_size", "learning_rate", "schedule", "test_fraction", "seed", "stratify", "test_set",
                  "augment", "fit_to_run", "reading", "precision")


def train(arguments) -> int:
    from digitcnn.storage import registry

    runtime.apply_thread_setting(arguments.threads)
    settings = training.TrainingConfig(architecture=arguments.arch,
                                       **{setting: getattr(arguments, setting) for setting in _TRAIN_OPTIONS})
    name = registry.validate_model_name(arguments.arch if arguments.name is None else arguments.name)
    if not arguments.no_save:  # find out now, not after minutes of training, that the model cannot be kept
        registry.check_writable(arguments.models_dir)
    dataset = typed_dataset(arguments.data)
    print(f"data: {dataset.source}, {len(dataset):,} images")
    quick = training.quick_settings(arguments.arch, training.train_size(dataset, settings))
    if arguments.quick:  # as the app's Train page makes it; the options given keep their values
        settings = replace(settings, **{setting: value for setting, value in quick.items()
                                        if getattr(arguments, setting, None) is None})
    print(_recipe_text(arguments, quick))
    train_size = training.train_size(dataset, settings)
    fitted = training.fitted_to_run(settings, train_size)
    run = replace(fitted, precision=runtime.training_precision(settings.precision))  # what train() uses
    print(f"training {run.architecture} for {run.epochs} epochs, batch size {run.batch_size}, "
          f"learning rate {run.learning_rate:g} ({run.schedule}), "
          f"augmentation {'on' if run.augment else 'off'}, "
          f"weight averaging {f'momentum {run.ema_momentum:g}' if run.ema_momentum else 'off'}, "
          f"label smoothing {run.label_smoothing or 'off'}, reading {run.reading}, computing in {run.precision}"
          f"{', fitted to the run' if fitted != settings else ''} (Ctrl-C cancels)")
    print("after each epoch it is scored on training images held out of the fit (validation); the finished model "
          "is scored on the test images once, at the end")
    if settings.label_smoothing:
        print(f"(the losses shown while training are against labels smoothed by {settings.label_smoothing:g}; "
              f"the final test loss is plain cross-entropy)")
    if (warning := training.short_run_warning(settings, train_size)) is not None:
        print(f"warning: {warning}")
    result = training.train(dataset, settings, on_progress=TerminalProgress())
    card = registry.ModelCard.from_training(name, result)
    print()
    print(f"architecture: {card.architecture} ({card.parameter_count:,} parameters)")
    print(f"split: {result.split.describe()}")
    print(f"training time: {result.training_seconds:.1f} s")
    print(f"train accuracy: {share_text(card.train_accuracy)} "
          f"(on {len(result.train_evaluation.labels):,} of its training images)")
    tested = "test accuracy" if card.test_images_seen == 0 else "accuracy"
    print(f"{tested}: {share_text(card.test_accuracy)} (the finished model, read {card.reading}, on its "
          f"{card.test_size:,} test images: the score on its card){card_test_note(card)}")
    print(f"{tested.replace('accuracy', 'loss')}: {card.test_loss:.4f}")
    print_report(result.test_evaluation)
    if not arguments.no_save:
        path = registry.save_model(result.model, card, arguments.models_dir, trained_on=result.trained_on)
        print(f"saved: {path} (model card {path.with_suffix(registry.CARD_SUFFIX).name})")
    return 0


def _recipe_text(arguments, quick: dict) -> str:
    """Which recipe a training runs, and the other one: the architecture's full recipe (the default, made for full
    MNIST) or the app's quick first model (``--quick``), whose settings are ``quick``."""
    full = f"{arguments.arch}'s full recipe ({training.recipe_settings(arguments.arch)['epochs']} epochs)"
    first = f"the app's quick first model ({quick['epochs']} epoch{'s' if quick['epochs'] != 1 else ''} here)"
    given = [option for option in ("epochs", "batch_size", "learning_rate", "schedule", "augment")
             if getattr(arguments, option) is not None]
    changed = f", changed by --{', --'.join(option.replace('_', '-') for option in given)}" if given else ""
    if arguments.quick:
        return f"recipe: {first}{changed}; without --quick, {full}"
    return f"recipe: {full}{changed}; --quick trains {first} instead"


def evaluate(arguments) -> int:
    from digitcnn.networks import evaluation as scoring
    from digitcnn.storage import registry
    from digitcnn.reading.inference import predict_with_features

    runtime.apply_thread_setting(arguments.threads)
    model, card = registry.load_model(arguments.model, arguments.models_dir)
    record = registry.load_training_record(arguments.model, arguments.models_dir)
    dataset = typed_dataset(arguments.data)
    if arguments.all:
        chosen, described = dataset, f"all {len(dataset):,} images"
    else:
        split = training.make_split(dataset, card.training_config)
        chosen, described = split.test, f"the part its settings hold out: {split.describe()}"
    seen = overlap([(card.name, record)], chosen)
    scored = seen.unseen(chosen) or chosen  # the unseen images alone where there are some
    probabilities, features = predict_with_features(model, scored.images, reading=card.reading)
    evaluation = scoring.evaluate(scored.labels, probabilities)
    print(f"model: {card.name} ({card.architecture}, {card.origin}; reading: {card.reading})")
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
    print_report(evaluation)
    return 0


def reread(arguments) -> int:
    from digitcnn.storage import registry

    runtime.apply_thread_setting(arguments.threads)
    model, card = registry.load_model(arguments.model, arguments.models_dir)
    record = registry.load_training_record(arguments.model, arguments.models_dir)
    if card.fine_tuned is not None:
        raise SettingsError(f"{card.name} is fine-tuned from {card.fine_tuned['base_model']}: reread that model, "
                            f"then fine-tune it again")
    if card.imported is not None:
        raise SettingsError(f"{card.name} was imported from {card.imported['file']}: it is scored as it is imported; "
                            f"import the file again to score it on other data")
    dataset = typed_dataset(arguments.data)
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


def record(arguments) -> int:
    from digitcnn.storage import registry
    from digitcnn.data.seen import TrainingRecord

    _, card = registry.load_model(arguments.model, arguments.models_dir)
    if card.fine_tuned is not None:
        raise SettingsError(f"{card.name} is fine-tuned: its record comes from its base model and drawings, which "
                            f"its card does not hold; fine-tune it again")
    dataset = typed_dataset(arguments.data)
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


def fine_tune(arguments) -> int:
    from digitcnn.storage import registry
    from digitcnn.data.drawings import DrawingStore
    from digitcnn.data.writers import writer_name

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
    dataset = typed_dataset(arguments.data)
    print(f"model: {card.name} ({card.architecture}, {card.origin})")
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

