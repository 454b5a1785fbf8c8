import numpy as np

from digitcnn import charts
from digitcnn.training import Progress


def test_class_counts_bar_has_a_bar_per_digit_with_its_count():
    counts = np.array([5, 0, 3, 9, 1, 1, 2, 8, 4, 7])
    [bars] = charts.class_counts_bar(counts).data
    assert list(bars.x) == list(range(10))
    assert list(bars.y) == counts.tolist()
    assert bars.text[3] == "9"


def test_confusion_matrix_counts_or_shares_with_a_clickable_point_per_cell():
    matrix = np.diag(np.arange(1, 11)) + np.eye(10, k=1, dtype=int)
    heatmap, cells = charts.confusion_matrix_heatmap(matrix).data
    np.testing.assert_array_equal(heatmap.z, matrix)
    assert len(cells.x) == 100 and (cells.y[12], cells.x[12], cells.customdata[12]) == (1, 2, 1)

    shares = np.asarray(charts.confusion_matrix_heatmap(matrix, normalize=True).data[0].z)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert shares[0, 1] == 0.5


def test_activation_grid_shows_the_strongest_maps_each_covered_by_clickable_points_with_its_values():
    maps = np.random.default_rng(0).random((5, 4, 12)).astype(np.float32)
    order = np.argsort(-maps.mean(axis=(0, 1)))
    figure = charts.activation_grid(maps, order, limit=3, columns=2)
    mosaic, points = figure.data
    assert [annotation.text for annotation in figure.layout.annotations] == [f"#{channel}" for channel in order[:3]]
    tiles = np.asarray(mosaic.z, dtype=float)
    assert np.isnan(tiles).sum() == tiles.size - 3 * 20  # three maps, blank between them
    second = int(order[1])
    carried = np.asarray(points.customdata)  # channel, row, column, value
    of_second = np.flatnonzero(carried[:, 0] == second)
    assert len(points.x) == 3 * 20 and len(of_second) == 20  # one point per pixel, telling its channel
    pixel = of_second[9]  # row 2, column 1 of that map
    np.testing.assert_allclose(carried[pixel], [second, 2, 1, maps[2, 1, second]])
    assert tiles[points.y[pixel], points.x[pixel]] == maps[2, 1, second]  # the point lies on its pixel


def test_the_channel_picked_in_an_activation_grid_is_read_from_the_charts_selection():
    clicked = {"selection": {"points": [{"curve_number": 3, "x": 1, "y": 2, "customdata": [7, 2, 1, 0.5]}]}}
    assert charts.picked_channel(clicked) == 7
    clicked["selection"]["points"][0]["customdata"] = {"0": 0, "1": 0, "2": 0, "3": 0.0}  # as a browser sends it
    assert charts.picked_channel(clicked) == 0
    assert charts.picked_channel({"selection": {"points": []}}) is None
    assert charts.picked_channel(None) is None


def test_confusion_matrix_share_of_an_absent_digit_is_zero_not_nan():
    matrix = np.zeros((10, 10), dtype=int)
    matrix[3, 3] = 4
    shares = np.asarray(charts.confusion_matrix_heatmap(matrix, normalize=True).data[0].z)
    assert not np.isnan(shares).any() and shares[3, 3] == 1.0 and shares.sum() == 1.0


def test_probability_bars_highlight_the_most_likely_digit():
    probabilities = np.full(10, 0.05)
    probabilities[7] = 0.55
    [bars] = charts.probability_bars(probabilities).data
    colors = list(bars.marker.color)
    assert colors[7] != colors[0] and len(set(colors[:7] + colors[8:])) == 1


def test_probability_text_never_rounds_to_certainty_it_lacks():
    assert [charts.probability_text(p) for p in (0.9998, 0.5, 0.9994, 0.0004, 0.0, 1.0)] == [
        "> 99.9%", "50.0%", "> 99.9%", "< 0.1%", "0.0%", "100.0%"]


def test_training_curves_place_batches_between_epochs_and_show_test_scores():
    def event(stage, epoch, batch, loss, test_loss=None):
        return Progress(stage=stage, epoch=epoch, epochs=2, batch=batch, batches=4, loss=loss, accuracy=1 - loss,
                        elapsed=1.0, test_loss=test_loss, test_accuracy=None if test_loss is None else 1 - test_loss)

    batches = [event("batch", 1, 2, 0.9), event("batch", 2, 4, 0.5)]
    epochs = [event("epoch", 1, 4, 0.8, 0.7), event("epoch", 2, 4, 0.4, 0.45)]
    figure = charts.training_curves(epochs, batches)
    running, per_epoch, test = figure.data[:3]
    assert list(running.x) == [0.5, 2.0]
    assert list(per_epoch.x) == [1, 2] and list(per_epoch.y) == [0.8, 0.4]
    assert list(test.y) == [0.7, 0.45]
    assert {trace.name for trace in figure.data} == {"training (running)", "training", "test"}


def test_per_digit_bars_draw_a_bar_per_present_digit_and_none_for_absent_ones():
    before = np.array([0.5, 1.0, np.nan, *[0.8] * 7])
    after = np.array([1.0, 1.0, np.nan, *[0.9] * 7])
    figure = charts.per_digit_bars({"before": before, "after": after})
    assert [trace.name for trace in figure.data] == ["before", "after"]
    assert list(figure.data[1].y[:3]) == [1.0, 1.0, None] and figure.data[0].text[0] == "50%"


def test_a_confusion_difference_marks_what_is_worse_for_the_first_model_in_red():
    difference = np.zeros((10, 10), int)
    difference[3, 3], difference[3, 8] = -2, 2  # the first model reads two more 3s as 8
    figure = charts.confusion_difference_heatmap(difference, "a", "b")
    z = np.asarray(figure.data[0].z)
    assert z[3, 3] == 2 and z[3, 8] == 2  # both cells count against it, the same way
    assert figure.data[0].text[3][8] == 2 and figure.layout.title.text == "a minus b"
