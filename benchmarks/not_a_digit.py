"""Does a model know what is not a digit? Each scoring rule says how digit-like a picture is; a picture scoring
below the rule's threshold is refused ("not a digit"), the threshold set so that at most 1% of MNIST's test
digits are refused; the app's own rule is also shown at the threshold on the model's card (fitted a margin below
1%). Printed, for each rule: the share refused of each kind of generated non-digit (digitcnn.data.nondigits) and of
all of them, of MNIST's test digits and of the re-drawn digits of benchmarks.drawn_digits (MNIST's and
scikit-learn's, drawn on the canvas and laid out by canvas_to_mnist), with the AUROC of digits against
non-digits; then which digits the model reads the non-digits as, when it is sure.

    python -m benchmarks.not_a_digit [--model default] [--model NAME@FOLDER …] [--count-per-kind 200]
                                     [--data PATH/TO/mnist]

Also the families no training meets (benchmarks.unseen_kinds), apart, and with --data a rule learned from digits
alone, a class-conditional density on the network's features (ClassDensity), side by side with the app's.

Several --model options compare models side by side in one run (NAME@FOLDER: the model NAME saved in FOLDER),
for instance the shipped model against one trained without generated non-digits (the baseline).

Without --data or $DIGITCNN_MNIST_DIR, the embedded sample (5,000 MNIST training digits) stands in for MNIST's
test set. A new rule is one more entry of SCORES: a function (model, card, images) -> one score per image,
higher for more digit-like (or None where the model has nothing for it), whose threshold is fitted the same way.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score

from benchmarks import unseen_kinds
from benchmarks.common import load_model_named, machine
from benchmarks.drawn_digits import render
from digitcnn import config, data
from digitcnn.data import nondigits, preprocess
from digitcnn.errors import EmptyDrawingError
from digitcnn.reading.inference import predict_probabilities, predict_with_features
from digitcnn.reading.refusal import threshold_refusing

REFUSED_DIGITS = 0.01  # the share of MNIST's test digits a rule may refuse; its threshold is fitted to it
# The column of the app's own rule, "likeness × top" at its card's threshold: fitted on the model's test digits a margin
# below 1% (digitcnn.reading.refusal.FITTED_REFUSED_DIGITS), so that it refuses at most 1% of them on any machine.
APP_RULE = "the app's rule"
SURE = 0.99  # a reading at least this probable is one the model is sure of
BATCH = 512


def max_softmax(model, card, images: np.ndarray) -> np.ndarray:
    """The baseline: the probability of the digit read (Hendrycks & Gimpel, 2017), read as the model's card says."""
    return predict_probabilities(model, images, BATCH, card.reading).max(axis=1)


def energy(model, card, images: np.ndarray) -> np.ndarray:
    """The negative energy, logsumexp of the logits (Liu et al., 2020): unlike the softmax it keeps how
    strongly the network answers at all, not only how much one digit beats the others. The logits are those of
    the saved model, so a calibrated model's include its temperature."""
    kernel, bias = model.layers[-1].get_weights()
    return logsumexp(predict_with_features(model, images, BATCH)[1] @ kernel + bias, axis=1)


def digit_likeness(model, card, images: np.ndarray) -> np.ndarray | None:
    """The digit-likeness of the model's rule alone (digitcnn.reading.refusal), for a model whose rule has one."""
    likeness = card.refusal_rule.likeness
    return None if likeness is None else likeness.of(predict_with_features(model, images, BATCH)[1])


def sure_of_a_digit(model, card, images: np.ndarray) -> np.ndarray | None:
    """What the app refuses on, for a model whose rule has a digit-likeness: digit-likeness × top probability."""
    rule = card.refusal_rule
    return None if rule.likeness is None else rule.scores(*predict_with_features(model, images, BATCH, card.reading))


SCORES = {"max softmax": max_softmax, "energy": energy, "likeness": digit_likeness, "likeness × top": sure_of_a_digit}
DENSITY_DIMENSIONS = 128  # the class density's features: the leading components of the digits' spread around their class means
DENSITY_DIGITS = 20_000  # training digits it is fitted on


class ClassDensity:
    """A class-conditional Gaussian density on the network's features (Lee et al., 2018, "A Simple Unified Framework
    for Detecting Out-of-Distribution Samples"): a mean for each digit and one spread around them, fitted on
    training digits; a picture scores minus its squared Mahalanobis distance to the nearest digit's mean, in the
    :data:`DENSITY_DIMENSIONS` leading directions of that spread. Unlike the digit-likeness, it learns from digits
    alone: what lies far from every digit is refused, whatever kind it is."""

    def __init__(self, training_digits: data.Dataset):
        self.training_digits = training_digits
        self._fitted = {}  # id(model) -> (means, components, variances)

    def __call__(self, model, card, images: np.ndarray) -> np.ndarray:
        means, components, variances = self._fit(model)
        projected = predict_with_features(model, images, BATCH)[1] @ components.T
        distances = ((projected[:, None, :] - means[None]) ** 2 / variances).sum(axis=2)
        return -distances.min(axis=1)

    def _fit(self, model):
        if id(model) not in self._fitted:
            from sklearn.decomposition import PCA

            features = predict_with_features(model, self.training_digits.images, BATCH)[1]
            labels = self.training_digits.labels
            means = np.stack([features[labels == digit].mean(axis=0) for digit in range(10)])
            spread = PCA(DENSITY_DIMENSIONS, svd_solver="randomized", random_state=0).fit(features - means[labels])
            self._fitted[id(model)] = (means @ spread.components_.T, spread.components_, spread.explained_variance_)
        return self._fitted[id(model)]


def refused_share(scores: np.ndarray, refused_before: int, cut: float) -> float:
    """The share of pictures refused: those scoring below ``cut``, and ``refused_before``, pictures the app
    refused before any model saw them (canvas_to_mnist's prompt for a speck or a dot)."""
    return (int((scores < cut).sum()) + refused_before) / (len(scores) + refused_before)


def auroc(digit_scores: np.ndarray, non_digit_scores: np.ndarray) -> float:
    """The chance that a digit scores above a non-digit (1: a threshold separates them all; 0.5: a coin)."""
    truth = np.r_[np.ones(len(digit_scores)), np.zeros(len(non_digit_scores))]
    return float(roc_auc_score(truth, np.r_[digit_scores, non_digit_scores]))


def drawn(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Digits re-drawn on the canvas as benchmarks.drawn_digits draws them and laid out by canvas_to_mnist,
    and how many of them canvas_to_mnist refused (the app answers those with a prompt: counted as refused)."""
    laid_out, refused = [], 0
    for image, label in zip(images, labels):
        try:
            laid_out.append(preprocess.canvas_to_mnist(render(image, label, rng).canvas))
        except EmptyDrawingError:
            refused += 1
    return np.stack(laid_out), refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", metavar="NAME[@FOLDER]",
                        help="a saved model, or NAME@FOLDER for one in another models folder; repeat to compare "
                             f"(default: {config.DEFAULT_MODEL_NAME})")
    parser.add_argument("--count-per-kind", type=int, default=200, help="non-digits of each kind (default: 200)")
    parser.add_argument("--data", default=os.environ.get(config.MNIST_DIR_VARIABLE),
                        help="a folder of the MNIST IDX files (default: $DIGITCNN_MNIST_DIR)")
    parser.add_argument("--drawn", type=int, default=3000, help="MNIST test digits to re-draw (default: 3,000)")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    loaded = [load_model_named(choice) for choice in arguments.model or [config.DEFAULT_MODEL_NAME]]
    if arguments.data:
        digits, digits_name = data.load_dataset(arguments.data).test, "MNIST test digits"
    else:
        digits, digits_name = data.load_embedded(), "embedded MNIST sample (training digits)"
    from sklearn.datasets import load_digits

    # With MNIST's test set, the drawings of `python -m benchmarks.drawn_digits --seed S --count N`: its draws,
    # in its order.
    rng = np.random.default_rng(arguments.seed)
    chosen = rng.permutation(len(digits))[: arguments.drawn]
    drawn_mnist = drawn(digits.images[chosen], digits.labels[chosen], rng)
    sklearn_digits = load_digits()
    drawn_sklearn = drawn(sklearn_digits.images, sklearn_digits.target, rng)

    # Fragments and overlaps are cut from the same digits: ones the model did not learn from, with MNIST's test set.
    made = nondigits.generate(arguments.count_per_kind * len(nondigits.KINDS), arguments.seed, digits=digits)
    held_out = {family: unseen_kinds.laid_out(family, arguments.count_per_kind, rng, digits)
                for family in unseen_kinds.FAMILIES}
    pictures = {"non-digits": made.images, "held out": np.concatenate([images for images, _ in held_out.values()]),
                "digits": digits.images, "drawn": drawn_mnist[0], "drawn sklearn": drawn_sklearn[0]}
    family_of = np.concatenate([[family] * len(images) for family, (images, _) in held_out.items()])
    names = ([f"non-digits: {kind}" for kind in nondigits.KINDS] + ["all non-digits"]
             + [f"held out: {family}" for family in unseen_kinds.FAMILIES] + ["all held-out families"]
             + [digits_name, f"re-drawn {digits_name}", "re-drawn scikit-learn digits"])
    counts = ([int((made.kinds == kind).sum()) for kind in nondigits.KINDS] + [len(made)]
              + [arguments.count_per_kind] * len(held_out) + [arguments.count_per_kind * len(held_out)]
              + [len(digits), len(drawn_mnist[0]) + drawn_mnist[1], len(drawn_sklearn[0]) + drawn_sklearn[1]])
    rules = dict(SCORES)
    if arguments.data:  # the class density learns from training digits: MNIST's, beside its test set
        training = data.load_dataset(arguments.data)
        sample = np.sort(np.random.default_rng(arguments.seed).choice(len(training), DENSITY_DIGITS, replace=False))
        rules["class density"] = ClassDensity(training.subset(sample))
    # (position of the model, its name, rule) -> (its threshold, (share refused, AUROC) for each row named above):
    # by position, as two models may share a name and a date (one's rule fitted again, say)
    table = {}
    for position, (model, card) in enumerate(loaded):
        for rule, score in rules.items():
            scores = {name: score(model, card, images) for name, images in pictures.items()}
            if scores["digits"] is None:
                continue  # a rule this model has no part for
            non_digit_rows = ([(scores["non-digits"][made.kinds == kind], 0) for kind in nondigits.KINDS]
                              + [(scores["non-digits"], 0)]
                              + [(scores["held out"][family_of == family], refused)
                                 for family, (_, refused) in held_out.items()]
                              + [(scores["held out"], sum(refused for _, refused in held_out.values()))])
            digit_rows = [(scores["digits"], 0), (scores["drawn"], drawn_mnist[1]),
                          (scores["drawn sklearn"], drawn_sklearn[1])]
            cuts = {rule: threshold_refusing(scores["digits"], REFUSED_DIGITS)}  # every rule at the same 1%
            if score is sure_of_a_digit:  # and what the app refuses: its card's threshold, fitted with a margin
                cuts[APP_RULE] = card.refusal_rule.threshold
            for name, cut in cuts.items():
                table[position, card.name, name] = cut, (
                    [(refused_share(row, refused, cut), auroc(scores["digits"], row)) for row, refused in non_digit_rows]
                    + [(refused_share(row, refused, cut), auroc(row, scores["non-digits"]))
                       for row, refused in digit_rows])

    for position, (model, card) in enumerate(loaded, start=1):
        print(f"model {position}: {card.name} of {card.created} ({card.architecture}, reading {card.reading}, "
              f"{card.test_accuracy:.2%} on its test set, "
              f"{'trained with' if card.settings.get('non_digit_share') else 'without'} generated non-digits)")
        # (a card written before the setting existed lacks it: that model learned from digits alone)
    print(machine())
    print(f"each rule refuses a picture scoring below its threshold, fitted so that ≤ {REFUSED_DIGITS:.0%} of the "
          f"{len(digits):,} {digits_name} are refused; {APP_RULE}: likeness × top below the threshold on the card")
    columns = list(table)
    print(f"{'':38}{'':>7}" + "".join(f"  {f'{position + 1}. {name}'[:17]:>17}" for position, name, _ in columns))
    print(f"{'':38}{'':>7}" + "".join(f"  {rule:>17}" for _, _, rule in columns))
    print(f"{'pictures':38}{'count':>7}" + f"  {'refused':>8} {'AUROC':>8}" * len(columns))
    for index, (name, count) in enumerate(zip(names, counts)):
        figures = "".join(f"  {table[column][1][index][0]:>8.1%} {table[column][1][index][1]:>8.4f}"
                          for column in columns)
        print(f"{name:38}{count:>7,}{figures}")
    print(f"{'threshold':38}{'':>7}" + "".join(f"  {table[column][0]:>17.4g}" for column in columns))
    print("AUROC: a row of non-digits against the digits above; a row of digits against all non-digits.")
    if drawn_mnist[1] + drawn_sklearn[1]:
        print(f"canvas_to_mnist refused {drawn_mnist[1] + drawn_sklearn[1]} re-drawn digits (counted as refused)")

    model, card = loaded[0]
    probabilities = predict_probabilities(model, made.images, BATCH, card.reading)
    print(f"\nnon-digits {card.name} is sure of (a digit at ≥ {SURE:.0%}), and the digits it reads them as")
    for kind in nondigits.KINDS:
        sure = probabilities[made.kinds == kind]
        read = sure[sure.max(axis=1) >= SURE].argmax(axis=1)
        counts = np.bincount(read, minlength=10)
        top = ", ".join(f"{digit}: {counts[digit]}" for digit in np.argsort(-counts, kind="stable")[:4]
                        if counts[digit])
        print(f"  {kind:10} {len(read) / len(sure):>6.1%}  {top}")


if __name__ == "__main__":
    main()
