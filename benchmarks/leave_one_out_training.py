"""Leave one family out of the whole training (issue 38): how well a model refuses a kind of the generator
(`digitcnn.data.nondigits`) that neither its network nor its "not a digit" rule ever learned from. For each kind K
the network learns from (the generator's kinds that need no real digits: pieces and overlaps of digits are drawn
for the rule's fit only, so `benchmarks.leave_one_out` measures them already), a model is trained exactly as the
shipped model was (its card's settings, on MNIST) with K taken out of the generator, for the network's non-digits
and the rule's alike. Printed for each: the share of 200 pictures of K (drawn with another seed) its own rule
refuses, beside the shipped model's (trained with every kind); the families no training meets
(`benchmarks.unseen_kinds`, 200 each); MNIST's test accuracy; and whether its rule kept the closeness.

    python -m benchmarks.leave_one_out_training --data PATH/TO/mnist [--kinds letter,shape] [--count-per-kind 200]

Each training takes as long as the shipped model's (about 4 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import numpy as np

from benchmarks import unseen_kinds
from benchmarks.common import load_model_named, machine
from benchmarks.leave_one_out import BATCH, MEASURED_SEED
from digitcnn import config, data
from digitcnn.data import nondigits, nondigits_process
from digitcnn.reading.inference import predict_with_features
from digitcnn.training import make_split, train

FAMILIES_SEED = 0  # the held-out families: the same draw for every model


@contextlib.contextmanager
def generator_without(kind: str):
    """The generator's kinds, for this process, less ``kind``: what a training draws when it asks for "every kind"
    (`nondigits.generate` reads the list when called). The rule's non-digits are then drawn in this process too,
    where the shorter list holds (a process of their own would import the whole list afresh)."""
    kinds, elsewhere = nondigits.KINDS, nondigits_process.ELSEWHERE_MIN_COUNT
    nondigits.KINDS = tuple(other for other in kinds if other != kind)
    nondigits_process.ELSEWHERE_MIN_COUNT = float("inf")
    try:
        yield
    finally:
        nondigits.KINDS, nondigits_process.ELSEWHERE_MIN_COUNT = kinds, elsewhere


def refused(model, rule, reading: str, images: np.ndarray) -> np.ndarray:
    """Whether ``rule`` refuses each of ``images``, as ``model`` reads them the ``reading`` way."""
    probabilities, features = predict_with_features(model, images, BATCH, reading)
    return rule.scores(probabilities, features) < rule.threshold


def main() -> None:
    network_kinds = tuple(kind for kind in nondigits.KINDS if kind not in nondigits.DIGIT_KINDS)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get(config.MNIST_DIR_VARIABLE))
    parser.add_argument("--kinds", default=",".join(network_kinds), help="the kinds to leave out, in turn")
    parser.add_argument("--count-per-kind", type=int, default=200)
    arguments = parser.parse_args()
    if not arguments.data:
        raise SystemExit("needs MNIST, the shipped model's data: --data PATH/TO/mnist or $DIGITCNN_MNIST_DIR")
    left_out = arguments.kinds.split(",")
    if unknown := set(left_out) - set(network_kinds):
        raise SystemExit(f"--kinds: {', '.join(sorted(unknown))} is not a kind the network learns from "
                         f"({', '.join(network_kinds)})")
    shipped, card = load_model_named(config.DEFAULT_MODEL_NAME)
    mnist = data.load_dataset(arguments.data)
    settings = card.training_config
    split = make_split(mnist, settings)
    measured = nondigits.generate(arguments.count_per_kind * len(nondigits.KINDS), MEASURED_SEED, digits=split.test)
    rng = np.random.default_rng(FAMILIES_SEED)
    families = np.concatenate([unseen_kinds.laid_out(family, arguments.count_per_kind, rng, split.test)[0]
                               for family in unseen_kinds.FAMILIES])
    # (The few pictures the layout refuses before any model reads them are left out: the same for every model.)

    print(f"{machine()}; each model trained as the shipped one ({settings.architecture}, {settings.epochs} epochs, "
          f"non-digit share {settings.non_digit_share}) on MNIST; {arguments.count_per_kind} pictures a kind; "
          f"{len(families):,} pictures of the held-out families")
    print()
    print("| kind left out of training | its pictures refused: shipped model → trained without it | held-out families "
          "refused | MNIST test accuracy | rule's closeness | minutes |")
    print("|---|---|---|---|---|---|")
    shipped_refused = {kind: refused(shipped, card.refusal_rule, card.reading, measured.images[measured.kinds == kind])
                       for kind in left_out}
    shipped_families = refused(shipped, card.refusal_rule, card.reading, families).mean()
    print(f"| none (the shipped model) | — | {shipped_families:.1%} | {card.test_accuracy:.2%} | "
          f"{'kept' if card.refusal_rule.likeness.prototypes else 'left out'} | — |", flush=True)
    for kind in left_out:
        started = time.perf_counter()
        with generator_without(kind):
            result = train(mnist, settings)
        minutes = (time.perf_counter() - started) / 60
        of_kind = refused(result.model, result.refusal, settings.reading, measured.images[measured.kinds == kind])
        on_families = refused(result.model, result.refusal, settings.reading, families).mean()
        print(f"| {kind} | {shipped_refused[kind].mean():.1%} → {of_kind.mean():.1%} | {on_families:.1%} | "
              f"{result.test_evaluation.accuracy:.2%} | "
              f"{'kept' if result.refusal.likeness.prototypes else 'left out'} | {minutes:.1f} |", flush=True)


if __name__ == "__main__":
    main()
