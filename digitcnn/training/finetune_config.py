"""What decides a fine-tune (:class:`FineTuneConfig`, see :mod:`digitcnn.training.finetune`) and what each of its
settings allows (:data:`SETTINGS`), apart from the fine-tune itself: the command line, the teach page and a saved
model's card read them without it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from digitcnn.settings import CHOICE, FLAG, NUMBER, WHOLE, Setting, check_all
from digitcnn.training.recipes import SETTINGS as TRAINING_SETTINGS

FREEZE_CHOICES = ("nothing", "batchnorm", "features")


# What each setting of a fine-tune allows, read by FineTuneConfig's check.
SETTINGS = {
    "epochs": Setting("epochs", WHOLE, 1, 100),
    "learning_rate": TRAINING_SETTINGS["learning_rate"],
    "batch_size": TRAINING_SETTINGS["batch_size"],
    "replay": Setting("replayed digits per drawing", WHOLE, 0, 1000),
    "personal_test_share": Setting("the share of drawings kept apart to test", NUMBER, 0, 1, below_high=True,
                                   note="0 is none"),
    "max_accuracy_drop": Setting("the largest accuracy drop allowed", NUMBER, 0, 1, note="0.001 is 0.1 points"),
    "seed": TRAINING_SETTINGS["seed"],
    "augment": TRAINING_SETTINGS["augment"],
    "freeze": Setting("freeze", CHOICE, choices=FREEZE_CHOICES),
    "refit_temperature": Setting("refit temperature", FLAG),
}


@dataclass(frozen=True)
class FineTuneConfig:
    """Everything that decides a fine-tune.

    ``replay``: digits of the active data's training part mixed in per taught drawing in each epoch (0: none).
    ``personal_test_share``: the share of each digit's drawings kept apart as the writer's test set,
    rounded, but at least one and never all of them, so each digit drawn keeps one drawing to learn from
    and one to test on (a digit needs two drawings then); 0 keeps none apart (every drawing is taught, one
    of a digit is enough, and there are no personal scores). ``max_accuracy_drop``: the largest fall of the
    accuracy on the data's test set (a share: 0.001 is 0.1 points) that still passes the gate.
    ``augment``: shift, turn, zoom, widen and re-pen the images as training does. ``freeze``: what keeps its
    weights: ``"nothing"``, ``"batchnorm"`` (the batch-normalization layers keep their statistics and
    scales, the rest learns) or ``"features"`` (only the layers after the last Flatten learn).
    ``refit_temperature``: fit the temperature again on the fine-tune's training images (else the base
    model's is put back).

    The defaults were chosen with ``python -m benchmarks.personal``: the shipped model taught 10 re-drawn
    scikit-learn digits of each digit, scored on that writer's 1,597 other drawings and on MNIST's test set
    (2-core AMD EPYC; below, how far the errors fell / MNIST's accuracy after, one figure per seed).
    8 epochs of 10 replayed digits per drawing at 3e-4: 63% / 99.63% in 20 s. Augmenting as training does
    hurt (43, 50, 36% / 99.48, 99.38, 99.48%: the writer's own shifts and pen are what is to be learned).
    Fresh replayed digits each epoch keep MNIST: 200 replayed in each of six epochs cost it 0.16 points
    (refused), 200 fresh ones each epoch 0.03 or nothing. 20 per drawing learned no more (6 epochs: 53,
    50%) in twice the time, 5 per drawing less (47, 46, 57%). A rate of 1e-3 learned a little more (61,
    68%) but took MNIST down to 99.49–99.55%. Frozen batch normalization learned less (61, 63, 55% against
    63, 63, 59%) and was barely faster; the last layer alone (``"features"``, at 1e-3): 48, 50, 48%. A
    temperature fitted again to the fine-tune's own images hit its bound (0.25: the network is surest of
    what it just learned) and raised MNIST's test loss from 0.0147 to 0.0193, so the base model's (0.40)
    is put back.
    """

    epochs: int = 8
    learning_rate: float = 3e-4
    batch_size: int = 64
    replay: int = 10
    personal_test_share: float = 0.3
    max_accuracy_drop: float = 0.001
    seed: int = 0
    augment: bool = False
    freeze: str = "nothing"
    refit_temperature: bool = False

    def __post_init__(self):
        check_all(self, SETTINGS)

    def to_dict(self) -> dict:
        """The settings as plain JSON-ready values."""
        return asdict(self)
