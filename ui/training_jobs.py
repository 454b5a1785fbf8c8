"""This user's trainings and teachings on the server's job board: starting one, finding it again on any page
load of the same browser, saving its model, and letting it go. The board is the server's, one for every browser
(see digitcnn.jobs.board.JobBoard); a thread cancels the trainings of browsers that have gone.

This module owns the session state of saving (the name typed beside Save, and why the last save failed).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from digitcnn import config
from digitcnn.storage import registry
from digitcnn.data import Dataset
from digitcnn.errors import DigitCNNError
from digitcnn.jobs.board import IMPORTING, TEACHING, TRAINING, JobBoard, TrainingJob, server_board
from ui import identity
from ui.drawings import drawing_store, writer
from ui.state import set_active_model

_SAVE_ERROR = "save_error"  # why the last save failed
SAVE_NAME_FIELD = "save_name"  # the name a finished training or teaching is saved under (its own until changed)


@st.cache_resource(on_release=lambda board: board.close())
def job_board() -> JobBoard:
    """The process's trainings of every browser (see digitcnn.jobs.board.server_board: in worker processes, as
    Streamlit clears Keras's state after every run of a page, which would break a model built in one of the
    server's threads); a thread cancels those whose browser has gone."""
    board = server_board()
    threading.Thread(target=_cancel_trainings_of_ended_sessions, args=(board,), name="session sweeper",
                     daemon=True).start()
    return board


def join_job_board() -> None:
    """Make the job board if this is the server's first visit (its first worker starts importing TensorFlow
    before the first Train), and count this session as its browser's: called by every run of the app, so
    that the browser's training goes on while any of its pages is open."""
    job_board()
    _owner()


SWEEP_SECONDS = 5.0  # how often the trainings of ended sessions are looked for
_browser_sessions: dict[str, set[str]] = {}  # browser key → the ids of its sessions seen lately
_browser_sessions_lock = threading.Lock()


def _cancel_trainings_of_ended_sessions(board: JobBoard) -> None:
    """Every few seconds, cancel the trainings of browsers none of whose sessions has been connected for longer
    than Streamlit keeps a session for its reconnection (``server.disconnectedSessionTTL``): their tabs are
    closed, nobody will see the result, and a user waiting in line should not wait for it. A reloaded page is a
    new session of the same browser, which finds its training again. (Streamlit itself forgets such a session
    only lazily, so its state cannot be relied on to go.)"""
    while True:
        time.sleep(SWEEP_SECONDS)
        if runtime.exists():  # a `streamlit run` server, not a test harness
            connected = runtime.get_instance().is_active_session
            board.cancel_absent(lambda key: _browser_connected(key, connected),
                                grace=st.get_option("server.disconnectedSessionTTL"))


def _browser_connected(key: str, connected: Callable[[str], bool]) -> bool:
    """Whether any session of the browser ``key`` is connected; forgets those that are not (a session that
    reconnects is counted again by its next run, see :func:`join_job_board`)."""
    with _browser_sessions_lock:
        sessions = {session for session in _browser_sessions.get(key, ()) if connected(session)}
        if sessions:
            _browser_sessions[key] = sessions
        else:
            _browser_sessions.pop(key, None)
    return bool(sessions)


def _owner() -> str:
    """Who this session is to the job board: its browser (see ui.identity), so that a reloaded page finds its
    training again, and another browser never does."""
    key = identity.browser_key()
    with _browser_sessions_lock:
        _browser_sessions.setdefault(key, set()).add(get_script_run_ctx().session_id)
    return key


def start_training(name: str, dataset: Dataset, settings, work=None, activity: str = TRAINING) -> TrainingJob:
    """Start training a model called ``name`` for this user, or queue it behind other users' trainings
    (see digitcnn.jobs.board.JobBoard.start, and its ``work`` and ``activity``); it replaces the user's previous job,
    which lets go of its model."""
    previous = training_job()
    job = job_board().start(_owner(), name, dataset, settings, work, activity)
    if previous is not None:
        previous.release()
    _forget_save_attempt()
    return job


def dismiss_training() -> None:
    """Forget this user's ended training and let go of its model and scores."""
    job = training_job()
    if job is not None and job.snapshot().done:
        job_board().dismiss(_owner(), job)
    _forget_save_attempt()


def _forget_save_attempt() -> None:
    """Drop the last save's error and the typed name: the next result starts from its own name."""
    for key in (_SAVE_ERROR, SAVE_NAME_FIELD):
        st.session_state.pop(key, None)


def start_teaching(name: str, base_name: str, data_for_replay: Dataset, settings) -> TrainingJob:
    """Start teaching a copy of the saved model ``base_name`` this user's writer's drawings, saved as
    ``name`` if it passes (see digitcnn.training.finetune), as a job on the board like a training. The model is
    loaded by the job, in its worker, so the page does not wait for it."""
    from digitcnn.data.writers import shown_writer
    from digitcnn.jobs.teaching import fine_tune_saved_model
    from digitcnn.training.drawings_rule import check_drawings

    drawings = drawing_store().dataset(writer())
    check_drawings(drawings, settings.personal_test_share)  # too few: say so now, not from the job
    # The writer as a model card may name it: a private writer's key stays here (see digitcnn.data.writers.shown_writer).
    teach = functools.partial(fine_tune_saved_model, base_name, config.models_dir(), drawings,
                              shown_writer(writer()))
    return start_training(name, data_for_replay, settings, work=teach, activity=TEACHING)


def start_import(name: str, dataset: Dataset, request) -> TrainingJob:
    """Start importing the Keras file of ``request`` (a digitcnn.storage.importing.ImportRequest) as the saved model
    ``name``, scored on ``dataset``, as a job on the board like a training: Keras reads it in a worker."""
    from digitcnn.storage.importing import import_job

    return start_training(name, dataset, request, work=functools.partial(import_job, name, config.models_dir()),
                          activity=IMPORTING)


def training_job() -> TrainingJob | None:
    """This user's latest training job, waiting, running or ended (started on an earlier load of the page,
    maybe)."""
    return job_board().latest(_owner())


def save_trained_model(job: TrainingJob) -> None:
    """Save the model ``job`` trained under the name in :data:`SAVE_NAME_FIELD` (the job's own unless the user
    changed it: a name refused at the save, such as one taken meanwhile, need not lose the work) and read
    drawings with it; a save that fails is remembered as a message (see :func:`save_outcome`). Run as a
    button's callback: before the page reruns, while the sidebar's model picker may still change."""
    if save_outcome(job)[0]:
        return  # a second click that came before the page showed the first one's outcome
    result = job.snapshot().result
    name, fine_tuning = st.session_state.get(SAVE_NAME_FIELD, job.name).strip(), is_fine_tuning(result)
    try:
        registry.check_new_name(name, starts_from=result.base_name if fine_tuning else None)
        card = (registry.ModelCard.from_fine_tune(name, result) if fine_tuning
                else registry.ModelCard.from_training(name, result))
        registry.save_model(result.model, card, trained_on=result.trained_on, protect_shipped=True)
    except DigitCNNError as error:
        st.session_state[_SAVE_ERROR] = str(error)
        return
    st.session_state.pop(_SAVE_ERROR, None)
    job.mark_saved(name)  # the model is on disk now; its scores stay on the page
    set_active_model(name)


def is_fine_tuning(result) -> bool:
    """Whether a job's ``result`` is a fine-tuning's (a FineTuneResult), not a training's."""
    from digitcnn.training.finetune import FineTuneResult

    return isinstance(result, FineTuneResult)


def save_outcome(job: TrainingJob) -> tuple[str | None, str | None]:
    """The name ``job``'s model was saved under (None: not saved; on any load of the page), and why this page's
    last try failed if it did."""
    return job.saved_as, st.session_state.get(_SAVE_ERROR)

