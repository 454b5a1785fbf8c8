"""Leave one family out (issue 38): how well the "not a digit" rule refuses a kind of the generator
(`digitcnn.data.nondigits`) it was fitted without. For each kind K, the shipped model's digit-likeness is fitted
again exactly as its training fitted it (`digitcnn.training.fit_digit_likeness`: its training digits, its seed), but
on the generator's non-digits less those of K; its threshold is fitted on MNIST's test digits as a training fits it
(0.95% refused). Printed: the share of 200 pictures of K (drawn with another seed) refused by that rule, beside the
share the rule fitted on every kind refuses.

Only the rule leaves K out: the network itself learned from every kind (a tenth of its training pictures were
generated non-digits), so this measures how far the rule, not the whole model, reaches beyond what it was shown;
leaving K out of the network's training too takes a training for each kind (about 4 minutes each on 2 cores).

    python -m benchmarks.leave_one_out --data PATH/TO/mnist [--model NAME[@FOLDER]] [--count-per-kind 200]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from benchmarks.common import load_model_named, machine
from digitcnn import config, data
from digitcnn.data import nondigits
from digitcnn.reading.inference import predict_with_features
from digitcnn.reading.refusal import fit_refusal
from digitcnn.training import fit_digit_likeness, likeness_sample, make_split

BATCH = 512
MEASURED_SEED = 99  # the pictures of the kind left out: a seed no fit draws from


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get(config.MNIST_DIR_VARIABLE))
    parser.add_argument("--model", default=config.DEFAULT_MODEL_NAME, metavar="NAME[@FOLDER]")
    parser.add_argument("--count-per-kind", type=int, default=200)
    arguments = parser.parse_args()
    if not arguments.data:
        raise SystemExit("needs MNIST, the shipped model's data: --data PATH/TO/mnist or $DIGITCNN_MNIST_DIR")
    model, card = load_model_named(arguments.model)
    mnist = data.load_dataset(arguments.data)
    settings = card.training_config
    split = make_split(mnist, settings)
    # The non-digits the training's fit drew (the same order: its sample of the training digits, its seed).
    _, order = likeness_sample(split.train, settings.seed, learned_scans=settings.augment)
    fitted_on = nondigits.generate(**order)
    measured = nondigits.generate(arguments.count_per_kind * len(nondigits.KINDS), MEASURED_SEED, digits=split.test)
    test_probabilities, test_features = predict_with_features(model, split.test.images, BATCH, card.reading)
    measured_probabilities, measured_features = predict_with_features(model, measured.images, BATCH, card.reading)

    def refused_by(kept: np.ndarray) -> np.ndarray:
        """Whether each measured picture is refused by the rule fitted on the non-digits ``kept`` (a mask)."""
        likeness = fit_digit_likeness(model, split.train, settings.seed,
                                      nondigits.NonDigits(fitted_on.images[kept], fitted_on.kinds[kept]),
                                      learned_scans=settings.augment)
        rule = fit_refusal(test_probabilities, split.test.labels, test_features, likeness)
        thresholds.append(rule.threshold)
        return rule.scores(measured_probabilities, measured_features) < rule.threshold

    thresholds = []
    everything = refused_by(np.ones(len(fitted_on), bool))
    print(f"{machine()}; model {card.name}; its rule refitted on {len(fitted_on):,} non-digits of every kind but one, "
          f"threshold at 0.95% of {len(split.test):,} MNIST test digits; {arguments.count_per_kind} pictures a kind; "
          f"refitted on every kind, threshold {thresholds[0]:.4f} (the card's: {card.refusal_rule.threshold:.4f})")
    print()
    print("| kind left out of the rule's fit | refused, fitted on every kind | refused, fitted without it |")
    print("|---|---|---|")
    for kind in nondigits.KINDS:
        of_kind = measured.kinds == kind
        without = refused_by(fitted_on.kinds != kind)
        print(f"| {kind} | {everything[of_kind].mean() * 100:.1f}% | {without[of_kind].mean() * 100:.1f}% |")


if __name__ == "__main__":
    main()
