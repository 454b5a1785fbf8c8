"""A fine-tune as a job's work: the saved model is loaded where the job runs (a worker process, say), so the
page that started it goes on while it loads; the fine-tuning itself is :func:`digitcnn.training.finetune.fine_tune`."""

from __future__ import annotations

import threading
from typing import Callable

from digitcnn.data import Dataset
from digitcnn.storage import registry
from digitcnn.training import Progress, first_step
from digitcnn.training.drawings_rule import check_drawings
from digitcnn.training.finetune import LOADING, FineTuneResult, fine_tune
from digitcnn.training.finetune_config import FineTuneConfig


def fine_tune_saved_model(
    base_name: str,
    models_dir,
    drawings: Dataset,
    writer: str,
    data: Dataset,
    settings: FineTuneConfig = FineTuneConfig(),
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> FineTuneResult:
    """:func:`~digitcnn.training.finetune.fine_tune` of the model saved as ``base_name`` in ``models_dir``, loaded
    here (``functools.partial(fine_tune_saved_model, base_name, models_dir, drawings, writer)`` is a job's work);
    its result's model is a :class:`~digitcnn.networks.architectures.ModelArchive`, which the caller holds and saves
    without importing Keras. Too few drawings are refused before the model is loaded."""
    check_drawings(drawings, settings.personal_test_share)
    if on_progress is not None:
        on_progress(first_step(LOADING))
    base_model, base_card = registry.load_model(base_name, models_dir)
    base_record = registry.load_training_record(base_name, models_dir)
    return fine_tune(base_model, base_card, drawings, data, settings, on_progress, cancel, writer, base_record,
                     hand_over=True)
