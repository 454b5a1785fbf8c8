"""What a model trained on: image fingerprints, records of them, and which images of a dataset a model saw —
the embedded sample against the shipped model, a CSV of MNIST training rows, the part of a dataset left unseen."""

import numpy as np
import pytest

from digitcnn import data
from digitcnn.storage import registry
from digitcnn.errors import ModelFileError
from digitcnn.data.seen import RECORD_MAGIC, TrainingRecord, card_score_text, dataset_text, image_digests, overlap


def test_a_fingerprint_is_the_pictures_alone_and_tells_pictures_apart(embedded):
    digests = embedded.image_digests
    assert digests.dtype == np.uint64 and len(np.unique(digests)) == len(embedded) == 5000
    np.testing.assert_array_equal(image_digests(embedded.images[:10]), digests[:10])
    relabelled = data.Dataset(embedded.images[:10], (embedded.labels[:10] + 1) % 10, "relabelled")
    np.testing.assert_array_equal(relabelled.image_digests, digests[:10])  # a relabelled copy was seen all the same
    changed = embedded.images[:1].copy()
    changed[0, 14, 14] ^= 1  # one pixel one level apart is another picture
    assert image_digests(changed)[0] != digests[0]
    part = embedded.subset(np.array([7, 3]))  # a part takes its fingerprints from its whole
    np.testing.assert_array_equal(part.image_digests, digests[[7, 3]])


def test_a_record_is_sorted_unique_fingerprints_and_reads_back_from_its_bytes(embedded):
    first, second = embedded.subset(np.arange(100)), embedded.subset(np.arange(50, 150))
    record = TrainingRecord.of(first, first)
    assert len(record) == 100 and (np.diff(record.digests.astype(np.float64)) > 0).all()
    union = record.union(second, embedded.images[140:160])
    assert len(union) == 160 and union.seen(embedded.subset(np.arange(160))).all()
    assert not union.seen(embedded.subset(np.arange(160, 5000))).any()
    content = union.to_bytes()
    assert content.startswith(RECORD_MAGIC) and len(content) == len(RECORD_MAGIC) + 8 * 160
    np.testing.assert_array_equal(TrainingRecord.from_bytes(content, "x.seen").digests, union.digests)
    swapped = RECORD_MAGIC + content[len(RECORD_MAGIC) + 8:len(RECORD_MAGIC) + 16] + content[len(RECORD_MAGIC):]
    for bad, message in [(b"PK\x03\x04" + content, "not a record"), (content[:-3], "not a record"),
                         (swapped, "not sorted")]:
        with pytest.raises(ModelFileError, match=f"x.seen: .*{message}"):
            TrainingRecord.from_bytes(bad, "x.seen")


def test_the_unseen_part_is_scored_alone_and_said_so(embedded):
    dataset = embedded.subset(np.arange(100), "hundred")
    record = TrainingRecord.of(embedded.subset(np.arange(30)))
    part = overlap([("a", record)], dataset)
    assert (part.seen, part.unseen_count) == (30, 70)
    np.testing.assert_array_equal(part.unseen(dataset).images, dataset.images[30:])
    assert part.describe() == "seen in training: 30 of 100 — tested on the 70 unseen ones alone"
    everything = overlap([("a", record), ("b", TrainingRecord.of(dataset))], dataset)
    assert everything.unseen(dataset) is None
    assert everything.describe() == "seen in training: 100 of 100 — no unseen images to test on"
    unknown = overlap([("a", record), ("old", None)], dataset)
    assert unknown.seen is None and unknown.unseen(dataset) is None and "not known which images old" in \
        unknown.describe()


@pytest.mark.parametrize("changes, words", [
    ({}, "test accuracy 99.67% on 10,000 images of MNIST (IDX)"),
    ({"test_seen": 1650, "test_size": 1650}, "accuracy 99.67% on 1,650 images of MNIST (IDX) (seen in training: 1,650 "
                                             "of 1,650 — not a test)"),
    ({"test_seen": None}, "test accuracy 99.67% on 10,000 images of MNIST (IDX)"),  # trained: its test held out
    ({"test_seen": None, "fine_tuned": {"base_model": "x"}}, "accuracy 99.67% on 10,000 images of MNIST (IDX) (not "
                                                             "known whether it trained on them: not a test)"),
], ids=["tested", "seen", "a trained card from before records", "a fine-tuned card from before records"])
def test_a_cards_score_is_called_a_test_only_on_images_its_model_never_saw(changes, words):
    import dataclasses

    card = {entry.name: entry.card for entry in registry.list_models()}["default"]
    assert card_score_text(dataclasses.replace(card, **changes)) == words


def test_the_shipped_model_saw_every_embedded_digit_and_none_of_mnists_test_images(embedded):
    record = registry.load_training_record("default")
    assert len(record) == 60_000
    card = {entry.name: entry.card for entry in registry.list_models()}["default"]
    assert dataset_text(card, record, embedded) == (
        "Seen in training by default: 5,000 of these 5,000 images — no unseen images to test on.")
    assert card.trained_on["images"] == 60_000 and card.test_seen == 0
    assert dataset_text(card, None, embedded) == ("Which images default trained on is not recorded (its card says "
                                                  "60,000 images of MNIST (IDX)): a score on these images may be no "
                                                  "test.")


def test_a_csv_of_mnist_training_rows_is_found_seen_by_the_shipped_model(mnist_dir, tmp_path):
    """The tutorial's CSV is MNIST training rows: a model trained on full MNIST saw every one."""
    mnist = data.load_dataset(mnist_dir)
    rows = np.arange(0, 60_000, 600)  # 100 training rows, and 50 test images after them
    written = data.write_csv(mnist.subset(rows), tmp_path / "tutorial.csv")
    mixed = data.Dataset(np.concatenate([data.load_csv(written).images, mnist.test.images[:50]]),
                         np.concatenate([mnist.labels[rows], mnist.test.labels[:50]]), "mixed")
    part = overlap([("default", registry.load_training_record("default"))], mixed)
    np.testing.assert_array_equal(part.seen_mask, np.arange(150) < 100)
    assert part.describe() == "seen in training: 100 of 150 — tested on the 50 unseen ones alone"
    record = registry.load_training_record("default")
    assert record.seen(mnist).all() and not record.seen(mnist.test).any()
    card = {entry.name: entry.card for entry in registry.list_models()}["default"]
    assert dataset_text(card, record, mnist) == (
        "Seen in training by default: 60,000 of these 60,000 images; none of the 10,000 test images.")
