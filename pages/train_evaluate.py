"""Train & evaluate: choose a network and its settings, train it in the background while the
curves grow, then study its scores and mistakes, and save it."""

import streamlit as st

from digitcnn import training
from digitcnn.views import charts, gallery, tables
from digitcnn.networks import architectures
from digitcnn.storage import export, registry
from digitcnn.errors import DigitCNNError
from digitcnn.reading.inference import PLAIN, READING_WORDS, THREE_PENS
from digitcnn.jobs.board import CANCELLED, FAILED, RUNNING, WAITING
from digitcnn.percentages import probability_text, share_text
from digitcnn.training import SETTINGS, TrainingConfig
from ui import importing, navigation, paging, saving, state, teaching, training_jobs
from ui.markup import literal

navigation.through_the_entry_point("pages/train_evaluate.py")  # before anything: see ui.navigation

MISTAKES_PER_PAGE = 30
ANY_DIGIT = "any"  # the mistakes filter's choice of no digit in particular
SCHEDULE_WORDS = {"constant": "the same all through", "warmup_cosine": "rising over the first steps, then easing off"}


# --- 1. Settings ---------------------------------------------------------------------------
def network_and_run_length(dataset) -> tuple[str, str, dict]:
    """The architecture and the length of the run, outside the form: picking them fills the form. Returns the
    architecture, the length ("quick" or "recipe") and the run's settings on ``dataset`` (see
    training.quick_settings)."""
    # The architecture sits outside the form: picking one fills the form with its recipe.
    architecture = st.selectbox(
        "Network", options=list(architectures.ARCHITECTURES),
        index=list(architectures.ARCHITECTURES).index(architectures.DEFAULT_ARCHITECTURE),
        format_func=architectures.title_of, key="architecture",
        help="The layers the network is made of, and how it is trained: the line below says which.",
    )
    st.caption(architectures.ARCHITECTURES[architecture].description)
    # How long a run is also sits outside the form: it sets the epochs the form starts from.
    runs = {"quick": training.quick_settings(architecture, training.train_size(dataset, TrainingConfig())),
            "recipe": training.recipe_settings(architecture)}
    run_length = st.radio(
        "How long to train", options=list(runs), horizontal=True, key="run_length",
        format_func=lambda key: {"quick": "Quick first model", "recipe": "Full training"}[key]
        + f": {runs[key]['epochs']} epoch{'s' if runs[key]['epochs'] > 1 else ''}",
        help=f"A quick run shows the network about {training.QUICK_RUN_IMAGES:,} images, without varying them "
             f"unless that takes more than {training.QUICK_RUN_MAX_EPOCHS_UNAUGMENTED} epochs, and on bigger data one "
             f"epoch of {training.QUICK_RUN_MAX_IMAGES:,} of them in batches of {training.QUICK_RUN_BATCH_SIZE} at "
             f"{training.QUICK_RUN_RATE_FACTOR}× the learning rate: a first model in under half a minute on the "
             f"embedded sample (about 98%), in under a minute on full MNIST (about 99%). Full training, made for "
             f"full MNIST, gets the best accuracy in several minutes.",
    )
    return architecture, run_length, runs[run_length]


def settings_form(dataset, architecture: str, run_length: str, run: dict) -> tuple[str, TrainingConfig] | None:
    """The form of the settings of a run of ``architecture`` (``run``: its settings, of length ``run_length``), their
    limits and defaults as training declares them. Returns the model's name and the settings when Train is
    pressed with valid ones; None otherwise (invalid ones are shown as a message)."""
    recipe = architectures.ARCHITECTURES[architecture].recipe
    run_limit = run["train_limit"]  # a quick run's on big data, else None
    epochs_rule, rate_rule, fraction_rule = SETTINGS["epochs"], SETTINGS["learning_rate"], SETTINGS["test_fraction"]
    with st.form("training_settings"):
        name_column, epochs_column, batch_column, rate_column = st.columns([2, 1, 1, 1])
        name = name_column.text_input("Model name",
                                      value=previous.name if (previous := training_jobs.training_job()) else "my-model",
                                      help="Letters, digits, '-' and '_'. Saving replaces a model of that name; the "
                                           "shipped default's name is taken.")
        epochs = epochs_column.number_input(
            "Epochs", min_value=epochs_rule.low, max_value=epochs_rule.high, value=run["epochs"],
            key=state.from_default(f"epochs_{architecture}_{run_length}", run["epochs"]))
        batch_sizes = sorted({16, 32, 64, 128, 256, 512, run["batch_size"]})
        batch_size = batch_column.selectbox(
            "Batch size", options=batch_sizes, index=batch_sizes.index(run["batch_size"]),
            key=state.from_default(f"batch_{architecture}_{run_length}", run["batch_size"]))
        learning_rate = rate_column.number_input(
            "Learning rate", min_value=float(rate_rule.low), max_value=float(rate_rule.high),
            value=run["learning_rate"], step=1e-4, format="%.4f",
            key=state.from_default(f"rate_{architecture}_{run_length}", run["learning_rate"]),
            help=f"How far each batch moves the network's weights (Adam's step size); over the run, "
                 f"{SCHEDULE_WORDS.get(recipe.schedule, recipe.schedule.replace('_', ' '))}.")
        test_column, fraction_column, seed_column, limit_column = st.columns([2, 1, 1, 1])
        test_choices = {"holdout": "Hold out a share of the data (the tutorial's way)"}
        if dataset.test is not None:
            test_choices = {"own": "The source's own test set", **test_choices}
        test_set = test_column.radio("Test images", options=list(test_choices), format_func=test_choices.get)
        test_fraction = fraction_column.slider(
            "Share held out", min_value=fraction_rule.low, max_value=fraction_rule.high,
            value=TrainingConfig.test_fraction, step=0.01,
            help=f"Used when holding out; the tutorial keeps {TrainingConfig.test_fraction:.0%} apart with seed "
                 f"{TrainingConfig.seed}.")
        seed = seed_column.number_input("Seed", min_value=SETTINGS["seed"].low, max_value=SETTINGS["seed"].high,
                                        value=TrainingConfig.seed, key="seed",
                                        help="Picks the held-out images and the network's starting weights: the "
                                             "same seed and settings train the same way again.")
        limit = limit_column.number_input(
            "Training images (0 = all)", min_value=0, max_value=len(dataset), value=run_limit or 0, step=1000,
            key=state.from_default("train_limit", run_limit or 0),
            help=f"Fewer images train faster: handy for a first try. At least {SETTINGS['train_limit'].low:,}.")
        stratify = st.checkbox("Same mix of digits in both parts",
                               help="Keep each digit's share equal in the training and the held-out images "
                                    "(a stratified split).")
        augment = st.checkbox("Vary the training images", value=run["augment"],
                              key=state.from_default(f"augment_{architecture}_{run_length}", run["augment"]),
                              help="Shift, turn and zoom training images a little, widen some, and vary their "
                                   "pen's width (augmentation): the network learns handwriting, not these images.")
        fit_to_run = st.checkbox("Adapt to a short run", value=TrainingConfig.fit_to_run,
                                 help="For few images or epochs: smaller batches (at least 40 steps an epoch), and "
                                      "the weights averaged over at most the last tenth of the run, so short trials "
                                      "learn too. Full-MNIST runs are unchanged.")
        three_pens = st.checkbox("Also read each digit bolder and finer", value=TrainingConfig.reading == THREE_PENS,
                                 key="three_pens",
                                 help="The model reads each picture three times, as drawn, with a bolder pen and "
                                      "with a finer one, and averages the answers: other writers' digits are read "
                                      "better (the shipped model: re-drawn scikit-learn digits 94.8% → 96.1%), for "
                                      "three times the work. Its scores here, and its answers everywhere, are read so.")
        start = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:")
    if not start:
        return None
    try:
        settings = TrainingConfig(
            architecture=architecture, epochs=int(epochs), batch_size=int(batch_size),
            learning_rate=float(learning_rate), seed=int(seed), test_set=test_set, test_fraction=float(test_fraction),
            stratify=stratify, augment=augment, train_limit=int(limit) or None, fit_to_run=fit_to_run,
            validate_each_epoch=run["validate_each_epoch"], reading=THREE_PENS if three_pens else PLAIN,
        )
        registry.check_new_name(name)  # now, not when its work is done: a name it cannot be saved under loses it
    except DigitCNNError as error:
        st.error(literal(error), icon=":material/error:")
        return None
    return name, settings


def start(name: str, dataset, settings: TrainingConfig) -> None:
    """Start the run, or say why it cannot start; warn when it is too short to learn much, and when its model
    will not be savable."""
    try:
        training_jobs.start_training(name, dataset, settings)
    except DigitCNNError as error:
        st.error(literal(error), icon=":material/error:")
        return
    short_run(settings, training.train_size(dataset, settings))
    try:
        registry.check_writable()
    except DigitCNNError as error:
        st.warning(f"{literal(error)}: this model will train, but it cannot be saved.", icon=":material/warning:")


def short_run(settings: TrainingConfig, train_size: int) -> None:
    """A warning where a run of ``settings`` on ``train_size`` digits makes too few steps to learn much."""
    if (warning := training.short_run_warning(settings, train_size)) is not None:
        st.warning(warning, icon=":material/warning:")


# --- 2. Progress, live -----------------------------------------------------------------------
def show_curves(snapshot, settings: TrainingConfig, key: str, validation_size: int | None = None) -> None:
    """The loss and accuracy curves of a job's ``snapshot``, with what its loss is when labels are smoothed and,
    given ``validation_size``, how many images its validation curve is on."""
    st.plotly_chart(charts.training_curves(snapshot.epochs, snapshot.batches), key=key)
    if validation_size:
        st.caption(f"Validation: after each epoch, the model's scores on {validation_size:,} of its training images "
                   f"held out of the learning (never its test images). A validation curve that turns up while the "
                   f"training curve goes on down shows overfitting.")
    if smoothing := getattr(settings, "label_smoothing", 0):  # a fine-tuning's settings have none of their own
        st.caption(f"The loss drawn is the training objective, cross-entropy against labels smoothed by "
                   f"{smoothing:g}: it levels off well above 0 even for a model that is nearly always right. "
                   f"The test loss given with the results is plain cross-entropy, of the calibrated model.")


def _queue_line(place: int) -> str:
    others = place - 1
    ahead = ("Yours is next" if others == 0
             else f"{others} other training{'s wait' if others > 1 else ' waits'} ahead of yours")
    return (f"The server trains a few models at a time, for everyone using it. {ahead}: it starts by itself when "
            f"a place is free, and you may use the other pages meanwhile.")


# The curves are redrawn less often than the progress: drawing a Plotly chart costs the browser about a quarter
# of a second of processor time, and the server some too. Redrawn every second beside a quick run on 2 cores
# (the browser on the same cores, at the lowest priority), they cost the browser 10–13 s of processor time a
# training and the run 3–4 s (results 29–32 s after the click, against 26–28 s without live curves).
CURVES_EVERY_SECONDS = 5.0
# The progress line, cheap to draw, twice a second: its time elapsed changes every second even where a busy server
# is late with a redraw, and the job's end shows within half a second.
PROGRESS_EVERY_SECONDS = 0.5


@st.fragment(run_every=PROGRESS_EVERY_SECONDS)
def live_progress(job) -> None:
    """Redrawn every :data:`PROGRESS_EVERY_SECONDS` while the job waits or runs; the whole page reruns once it ends."""
    snapshot = job.snapshot()
    if snapshot.done:
        st.rerun()
    if snapshot.status == WAITING:
        st.subheader(f"{literal(snapshot.name)} is number {snapshot.place} in line")
        st.info(_queue_line(snapshot.place), icon=":material/hourglass_top:")
    else:
        st.subheader(f"{job.activity.capitalize()} {literal(snapshot.name)}")
        fraction = snapshot.progress.fraction_done if snapshot.progress else 0.0
        st.progress(fraction, text=snapshot.describe_progress())
    if st.button("Cancel", icon=":material/stop:"):
        job.cancel()


@st.fragment(run_every=CURVES_EVERY_SECONDS)
def live_curves(job) -> None:
    """The running job's curves, redrawn every :data:`CURVES_EVERY_SECONDS` (nothing while it waits)."""
    snapshot = job.snapshot()
    if snapshot.status == RUNNING and not importing.is_import(job):  # an import has no curves
        show_curves(snapshot, job.config, key="live_curves")
        st.caption(f"The curves are redrawn every {CURVES_EVERY_SECONDS:.0f} seconds.")


def outcome(job):
    """What became of the user's ended ``job`` (None: there is none): its final snapshot, after a word when
    it was cancelled or failed."""
    finished = job.snapshot() if job is not None else None
    if finished is None:
        st.info("Choose the settings and press **Train**. Training runs in the background: other pages stay usable.")
    elif finished.status in (CANCELLED, FAILED):
        if finished.status == CANCELLED:
            st.warning(f"The {job.activity} of {literal(finished.name)} was cancelled; nothing was saved.",
                       icon=":material/cancel:")
        else:
            st.error(literal(finished.error), icon=":material/error:")
        st.button("Dismiss", on_click=training_jobs.dismiss_training, key="dismiss_ended")
    return finished


# --- 3. Results --------------------------------------------------------------------------------
def results(job, finished) -> None:
    """The results of the ended ``job`` (``finished`` is its final snapshot): a fine-tuning's, or a training's
    scores, confusion matrix, mistakes and Save."""
    result = finished.result
    if importing.is_import(job):
        importing.import_results(job, finished)
        confusion_and_report(result.test_evaluation)
        mistakes(result.test_evaluation, result.test_images, "images (not a test: what it trained on is not known)")
        st.button("Dismiss these results", icon=":material/close:", on_click=training_jobs.dismiss_training)
        return
    if training_jobs.is_fine_tuning(result):
        teaching.fine_tune_results(job, finished)
        st.button("Dismiss these results", icon=":material/close:", on_click=training_jobs.dismiss_training)
        return
    scores(job.name, finished)
    confusion_and_report(result.test_evaluation)
    mistakes(result.test_evaluation, result.split.test.images)
    save(job)


def scores(name: str, finished) -> None:
    """How the run went: its settings in a line, its accuracies and loss, its calibration and refusal rule,
    and its curves."""
    result = finished.result
    test, train = result.test_evaluation, result.train_evaluation
    st.header(f"Results of {literal(name)}")
    averaged = result.config.ema_momentum
    st.caption(f"{architectures.title_of(result.config.architecture)} on {literal(result.split.source)}: "
               f"{literal(result.split.describe())}; batches of {result.config.batch_size}"
               + (f", weights averaged over about the last {1 / (1 - averaged):.0f} steps" if averaged else "")
               + (", adapted to a short run" if result.config.fit_to_run else "")
               + f"; reads each digit {READING_WORDS[result.config.reading]}")
    columns = st.columns(4)
    columns[0].metric("Test accuracy", share_text(test.accuracy))
    columns[1].metric("Train accuracy", share_text(train.accuracy))
    columns[2].metric("Test loss", f"{test.loss:.4f}")
    columns[3].metric("Training time", f"{finished.seconds:.0f} s", help="From the click on Train to these results.")
    st.caption(f"Training time: {finished.describe_time()}")
    short_run(result.config, len(result.split.train))
    if result.temperature != 1.0:
        st.caption(f"Calibrated after training (a temperature of {result.temperature:.2f}, fitted to the training "
                   f"images) so that how sure it says it is matches how often it is right: it was "
                   f"{'less' if result.temperature < 1 else 'more'} sure than it should be. No answer changes.")
    if (rule := result.refusal) is not None:
        st.caption(f"Says \"not a digit\" when less than {probability_text(rule.threshold)} sure: set so that it "
                   f"refuses {share_text(rule.test_refused)} of its test digits (at most 1%), and is right on "
                   f"{share_text(rule.test_accuracy_answered)} of those it answers.")
    show_curves(finished, result.config, key="final_curves", validation_size=result.validation_size)


def confusion_and_report(test) -> None:
    """The test set's confusion matrix, whose clicked cell filters the mistakes below, and the
    classification report."""
    matrix_column, report_column = st.columns([3, 2])
    with matrix_column:
        st.subheader("Confusion matrix")
        normalize = st.toggle("Share of each true digit", help="Rows sum to 100% instead of counts.")
        picked = st.plotly_chart(charts.confusion_matrix_heatmap(test.confusion_matrix, normalize),
                                 on_select="rerun", selection_mode="points", key="confusion_matrix")
        points = picked.selection.points if picked and picked.selection else []
        state.pick_confusion_cell((int(points[0]["y"]), int(points[0]["x"])) if points else None)
        st.caption("Click a cell to see its images below.")
    with report_column:
        st.subheader("Classification report")
        st.dataframe(test.report_table().style.format(
            {"precision": "{:.4f}", "recall": "{:.4f}", "f1-score": "{:.4f}"}, na_rep=""))
        st.caption("Per digit: **precision**, of the images read as it, the share that are it; **recall**, of its "
                   "images, the share read as it; **f1-score**, the two in one number; **support**, how many "
                   "there are.")


def _digit_filter(column, label: str, key: str) -> int | None:
    """A digit to filter the mistakes by, picked in ``column``; None for any."""
    digit = column.selectbox(label, [ANY_DIGIT, *range(10)], key=key)
    return None if digit == ANY_DIGIT else digit


def mistakes(test, images, what: str = "test images") -> None:
    """The test ``images`` of a cell of the confusion matrix, or of a row or column of it, a page at a time,
    surest first, under a heading that says what they are: the model's mistakes, or for a cell of the
    diagonal its right readings. ``what`` the images are, in words ("images" where they are no test)."""
    heading = st.empty()  # filled once the filters below are read
    true_column, predicted_column, page_column = st.columns(3)
    true = _digit_filter(true_column, "True digit", state.MISTAKE_TRUE)
    predicted = _digit_filter(predicted_column, "Predicted digit", state.MISTAKE_PREDICTED)
    heading.subheader(test.mistakes_title(true, predicted))
    indices = test.mistakes(true, predicted)
    shown = paging.page_picker(indices, MISTAKES_PER_PAGE, page_column)
    right = true is not None and true == predicted
    st.caption(f"{len(test.mistakes()):,} of {len(test.labels):,} {what} are read wrong. "
               f"{'Surest first' if right else 'Surest mistakes first'}; pick a digit above, or click a cell of the "
               f"confusion matrix.")
    if len(shown):
        st.image(
            [gallery.enlarge(images[i], 3) for i in shown],
            caption=[f"{test.labels[i]} → {test.predictions[i]} ({probability_text(test.confidences[i])})"
                     for i in shown],
            output_format="PNG",
        )
    else:
        st.info("No images match this filter.")


def save(job) -> None:
    """Save the trained model under its name or another (or why it failed), and Dismiss."""
    st.subheader("Save")
    saved = saving.save_controls(job, key="save_trained")
    st.button("Dismiss these results", icon=":material/close:", on_click=training_jobs.dismiss_training,
              help="Lets go of this run's model and scores" + ("" if saved else ": unsaved, it is lost") + ".")


# --- 4. Saved models -----------------------------------------------------------------------
def saved_models() -> dict:
    """The table of saved models, and the card of any of them; returns the usable ones' cards, by name."""
    st.header("Saved models")
    entries = registry.list_models()
    cards = {entry.name: entry.card for entry in entries if entry.card is not None}
    gone = st.session_state.pop(_DOWNLOAD_ASKED, None)
    if gone is not None and gone not in cards:  # Streamlit's own toast said only "Failed to generate file"
        st.warning(f"{literal(gone)} was deleted after this page showed it: nothing was downloaded.",
                   icon=":material/warning:")
    if not entries:
        st.info("No saved models yet.")
        return cards
    st.dataframe([tables.saved_model_row(entry) for entry in entries], hide_index=True)
    if cards:
        with st.expander("Model card"):
            shown_card = st.selectbox("Model", list(cards), key="card_to_show")
            st.json(cards[shown_card].to_json(), expanded=2)  # the refusal rule's weights and curve stay folded
        take_away(cards)
        st.caption("Pick the model that reads drawings in the sidebar.")
    return cards


_DOWNLOAD_ASKED = "download_asked"  # the model whose download was last asked for, until the page's next run
EXPORT_CHOICES = {"keras": "a Keras file (.keras)", "tflite": "a LiteRT file (.tflite), for phones and small devices",
                  "zip": "both, with its card (.zip)"}


def take_away(cards: dict) -> None:
    """A saved model downloaded as a file to use anywhere, with ten lines of Python that read a digit with it."""
    with st.expander("Take a model away", icon=":material/download:"):
        names = list(cards)
        active = state.active_model_card(cards)  # the model reading this user's drawings, offered first
        offered = active.name if active else names[0]
        # Keyed by that model: when a save or an import changes it, the picker is made anew and offers it (one keyed
        # once kept the first model it showed); a model another user saves does not undo this user's pick.
        name = st.selectbox("Model to download", names, index=names.index(offered), key=f"model_to_export_{offered}")
        kind = st.radio("As", list(EXPORT_CHOICES), format_func=EXPORT_CHOICES.get, key="export_format")
        filename = export.export_filename(name, kind)
        st.download_button(f"Download {filename}", lambda: export.export_model(name, kind).content,
                           file_name=filename, mime="application/octet-stream", icon=":material/download:",
                           on_click=st.session_state.__setitem__, args=(_DOWNLOAD_ASKED, name),
                           help="A LiteRT file reads a drawing as this app does; making one takes a few seconds.")
        keras_snippet, litert_snippet = export.snippets(name, cards[name].reading)
        st.caption("Reading a 28×28 image (floats 0–1, a white digit on black) with it, without this app: in Keras 3")
        st.code(keras_snippet, language="python")
        st.caption("in LiteRT (`pip install ai-edge-litert`)")
        st.code(litert_snippet, language="python")


# --- The page ----------------------------------------------------------------------------------
dataset = state.active_dataset()
st.title("Train & evaluate")
st.caption(f"Data: {literal(dataset.source)}, {len(dataset):,} images"
           + (f" and its own {len(dataset.test):,} test images" if dataset.test is not None else ""))
if (chosen := settings_form(dataset, *network_and_run_length(dataset))) is not None:
    name, settings = chosen
    start(name, dataset, settings)
job = training_jobs.training_job()
if job is not None and not job.snapshot().done:
    live_progress(job)  # until it ends: then the page reruns with its results
    live_curves(job)
    st.stop()
if job is not None:
    job.results_shown()  # the end of the wait its time counts (see describe_time)
if (finished := outcome(job)) is not None and finished.result is not None:
    results(job, finished)
cards = saved_models()
importing.import_form(dataset)  # bring your own model
teaching.teach_form(dataset, cards)  # 5. teach a model your handwriting
