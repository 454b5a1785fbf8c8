import numpy as np
import pytest

from digitcnn.data import summary
from digitcnn.data import Dataset


@pytest.fixture
def three_images():
    images = np.zeros((3, 28, 28), np.uint8)
    images[0, 10:20, 12:15] = 255  # a 10 px tall, 3 px wide bar
    images[1, 5:7, 5:25] = 100
    return Dataset(images, np.array([1, 7, 1]), "three")


def test_overview_counts_and_ranges(three_images):
    facts = summary.overview(three_images)
    assert facts["images"] == 3 and facts["test images"] == 0
    assert facts["image shape"] == "28×28" and facts["pixel values"] == "0–255"


def test_first_rows_use_the_tutorials_columns(three_images):
    table = summary.first_rows(three_images, 2)
    assert list(table.columns[:2]) == ["Result", "pixel0"] and table.shape == (2, 785)
    assert table["Result"].tolist() == [1, 7]
    assert table.iloc[0, 1 + 10 * 28 + 12] == 255


def test_image_statistics_measure_each_digit(three_images):
    statistics = summary.image_statistics(three_images)
    assert statistics.loc["max", "digit height (px)"] == 10
    assert statistics.loc["max", "digit width (px)"] == 20
    assert statistics.loc["min", "ink pixels"] == 0
    assert statistics.loc["count", "label"] == 3


def test_per_digit_and_mean_images(three_images):
    table = summary.per_digit(three_images)
    assert table.loc[1, "images"] == 2 and table.loc[1, "share"] == pytest.approx(2 / 3)
    assert np.isnan(table.loc[0, "mean ink pixels"])
    means = summary.mean_images(three_images)
    assert means.shape == (10, 28, 28)
    assert means[1, 15, 13] == pytest.approx(127.5) and means[7, 6, 6] == 100 and not means[0].any()


def test_indices_of_a_digit_in_order_or_shuffled(small_dataset):
    ordered = summary.indices_of_digit(small_dataset, 4)
    assert len(ordered) == 60 and (small_dataset.labels[ordered] == 4).all()
    assert (np.diff(ordered) > 0).all()
    shuffled = summary.indices_of_digit(small_dataset, 4, shuffle_seed=1)
    assert sorted(shuffled) == ordered.tolist() and shuffled.tolist() != ordered.tolist()
    np.testing.assert_array_equal(shuffled, summary.indices_of_digit(small_dataset, 4, shuffle_seed=1))
