"""Training a network on a dataset, and teaching a saved one a writer's drawings: the layer above the data, the
networks and their reading, and below the saved models and the jobs that run trainings.

    from digitcnn import training
    result = training.train(load_dataset("embedded"), training.TrainingConfig(architecture="article", epochs=10),
                            on_progress=print)
    result.test_evaluation.accuracy

Its modules, each importing only from the layers below and from the ones before it in this list:

- :mod:`~digitcnn.training.recipes`: what decides a run (``TrainingConfig``, ``SETTINGS``), the quick first run and
  the full recipe, the recipe fitted to a run's size;
- :mod:`~digitcnn.training.splits`: the training, validation and test images of a run;
- :mod:`~digitcnn.training.progress`: ``Progress`` events, the named steps, the fraction done and the time left;
- :mod:`~digitcnn.training.augmentation`: what training varies in its digits;
- :mod:`~digitcnn.training.pipelines`: the batches a network learns from and is scored in;
- :mod:`~digitcnn.training.likeness`: the "not a digit" rule fitted after the learning;
- :mod:`~digitcnn.training.fitting`: ``train`` and the steps after its learning, ``scores_read_as``;
- :mod:`~digitcnn.training.finetune_config`, :mod:`~digitcnn.training.drawings_rule` and
  :mod:`~digitcnn.training.finetune`: fine-tuning (what decides it, the drawings it needs, the fine-tune itself).

The names callers use are re-exported here (``training.train``, ``training.TrainingConfig``, …); the modules of
this package import each name from the module that defines it.
"""

from digitcnn.training.fitting import (TrainingResult, evaluate_model, received, scores_read_as, train, train_to_send,
                                       warm_up)
from digitcnn.training.likeness import LIKENESS_NON_DIGITS, fit_digit_likeness, likeness_recipe, likeness_sample
from digitcnn.training.progress import (HANDING_OVER, PACE_AFTER_BATCHES, PREPARING, SCORING_TEST,
                                        STEPS_AFTER_LEARNING, Progress, first_step)
from digitcnn.training.recipes import (QUICK_RUN_BATCH_SIZE, QUICK_RUN_IMAGES, QUICK_RUN_MAX_EPOCHS_UNAUGMENTED,
                                       QUICK_RUN_MAX_IMAGES, QUICK_RUN_RATE_FACTOR, SETTINGS, TrainingConfig,
                                       fitted_to_run, quick_settings, recipe_settings, run_steps, short_run_warning)
from digitcnn.training.splits import VALIDATION_SHARE, Split, make_split, train_size, validation_split

__all__ = [
    "HANDING_OVER", "LIKENESS_NON_DIGITS", "PACE_AFTER_BATCHES", "PREPARING", "QUICK_RUN_BATCH_SIZE",
    "QUICK_RUN_IMAGES", "QUICK_RUN_MAX_EPOCHS_UNAUGMENTED", "QUICK_RUN_MAX_IMAGES", "QUICK_RUN_RATE_FACTOR",
    "SCORING_TEST", "SETTINGS", "STEPS_AFTER_LEARNING", "VALIDATION_SHARE", "Progress", "Split", "TrainingConfig",
    "TrainingResult", "evaluate_model", "first_step", "fit_digit_likeness", "fitted_to_run", "likeness_recipe",
    "likeness_sample", "make_split", "quick_settings", "received", "recipe_settings", "run_steps", "scores_read_as",
    "short_run_warning", "train", "train_size", "train_to_send", "validation_split", "warm_up",
]
