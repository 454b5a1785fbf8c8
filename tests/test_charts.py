import numpy as np
import pytest

from digitcnn.views import charts
from digitcnn.training import Progress


def test_class_counts_bar_has_a_bar_per_digit_with_its_count():
    counts = np.array([5, 0, 3, 9, 1, 1, 2, 8, 4, 7])
    [bars] = charts.class_counts_bar(counts).data
    assert list(bars.x) == list(range(10))
    assert list(bars.y) == counts.tolist()
    assert bars.text[3] == "9"


def test_confusion_matrix_counts_or_shares_with_a_clickable_point_per_cell():
    matrix = np.diag(np.arange(1, 11)) + np.eye(10, k=1, dtype=int)
    errors, right, cells = charts.confusion_matrix_heatmap(matrix).data
    np.testing.assert_array_equal(np.asarray(cells.customdata).reshape(10, 10), matrix)
    assert len(cells.x) == 100 and (cells.y[12], cells.x[12], cells.customdata[12]) == (1, 2, 1)
    assert cells.text[12] == "true 1 read as 2" and cells.text[11] == "1 read right"
    assert right.text[4][4] == "5" and errors.text[1][2] == "1" and errors.text[1][3] == ""  # a zero is blank

    shares = charts.confusion_matrix_heatmap(matrix, normalize=True).data
    assert shares[1].text[0][0] == "50.0%" and shares[0].z[0][1] == 0.5
    assert shares[1].text[9][9] == "100%"  # all of that digit read right: exactly all


def _cell_colour(figure, true: int, predicted: int) -> str:
    """The colour a Plotly heat map figure paints the cell (true, predicted): its topmost heat map with a
    value there, mapped through that trace's scale; the plot's background where none has one."""
    from plotly.colors import sample_colorscale

    for trace in reversed([trace for trace in figure.data if trace.type == "heatmap"]):
        value = np.asarray(trace.z, dtype=float)[true, predicted]
        if not np.isnan(value):
            z = np.asarray(trace.z, dtype=float)
            low = np.nanmin(z) if trace.zmin is None else trace.zmin  # Plotly's own bounds when none are set
            high = np.nanmax(z) if trace.zmax is None else trace.zmax
            place = (value - low) / ((high - low) or 1)
            return sample_colorscale([list(stop) for stop in trace.colorscale], [place])[0]
    return figure.layout.plot_bgcolor


def test_a_confusion_matrix_cell_of_one_mistake_is_coloured_apart_from_an_empty_one_whatever_the_diagonal():
    matrix = np.diag(np.full(10, 180))
    matrix[3, 5], matrix[8, 3] = 1, 30  # one image of 3 read as 5; thirty 8s read as 3
    figure = charts.confusion_matrix_heatmap(matrix)
    one, empty, many = (_cell_colour(figure, *cell) for cell in ((3, 5), (3, 6), (8, 3)))
    assert empty == "white" and len({one, empty, many}) == 3
    assert _cell_colour(figure, 3, 3) not in (one, empty, many)  # the diagonal has a colour of its own

    bigger = matrix + np.diag(np.full(10, 5000))  # the same mistakes among many more right readings
    assert _cell_colour(charts.confusion_matrix_heatmap(bigger), 3, 5) == one  # the diagonal sets no scale
    for normalize in (False, True):
        shares = charts.confusion_matrix_heatmap(matrix, normalize)
        assert _cell_colour(shares, 3, 5) != _cell_colour(shares, 3, 6)


def test_a_confusion_matrix_without_mistakes_is_blank_off_the_diagonal():
    figure = charts.confusion_matrix_heatmap(np.diag(np.full(10, 7)))
    assert {_cell_colour(figure, t, p) for t in range(10) for p in range(10) if t != p} == {"white"}


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


def test_a_sample_grid_covers_each_tile_with_a_point_carrying_its_row():
    images = np.zeros((12, 28, 28), dtype=np.uint8)
    images[np.arange(12), 14, 14] = 200 + np.arange(12)  # each tile's centre pixel tells which image it is
    rows = np.arange(100, 112)
    sheet, points = charts.sample_grid(images, rows, np.full(12, 4), columns=5).data
    z = np.asarray(sheet.z)
    assert z.shape == (3 * 28 + 2 * 2, 5 * 28 + 4 * 2)  # three rows of five, thin gaps between
    for place in range(12):
        x, y = points.x[place], points.y[place]
        assert z[round(y + 0.5), round(x + 0.5)] == 200 + place  # the point lies on its tile
    assert points.customdata[7] == 107 and points.text[7] == "row 107: label 4"


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
    errors, right, _ = charts.confusion_matrix_heatmap(matrix, normalize=True).data
    assert right.text[3][3] == "100%" and right.text[0][0] == "0%"
    assert np.isnan(np.asarray(errors.z, dtype=float)).all()


def test_probability_bars_highlight_the_most_likely_digit():
    probabilities = np.full(10, 0.05)
    probabilities[7] = 0.55
    [bars] = charts.probability_bars(probabilities).data
    colors = list(bars.marker.color)
    assert colors[7] != colors[0] and len(set(colors[:7] + colors[8:])) == 1


def test_probability_bars_add_not_a_digit_and_label_bars_as_the_app_writes_probabilities():
    sureness = np.append(np.full(10, 0.0004), 0.0)
    sureness[3], sureness[10] = 0.99996, 0.0
    [bars] = charts.probability_bars(sureness).data
    assert list(bars.x) == [*map(str, range(10)), "not a digit"]
    assert bars.text[3] == "> 99.9%" and set(bars.text[:3] + bars.text[4:]) == {""}  # under 1%: no label


def test_training_curves_place_batches_between_epochs_and_show_validation_scores():
    def event(stage, epoch, batch, loss, validation_loss=None):
        return Progress(stage=stage, epoch=epoch, epochs=2, batch=batch, batches=4, loss=loss, accuracy=1 - loss,
                        elapsed=1.0, validation_loss=validation_loss,
                        validation_accuracy=None if validation_loss is None else 1 - validation_loss)

    batches = [event("batch", 1, 2, 0.9), event("batch", 2, 4, 0.5)]
    epochs = [event("epoch", 1, 4, 0.8, 0.7), event("epoch", 2, 4, 0.4, 0.45)]
    figure = charts.training_curves(epochs, batches)
    running, per_epoch, validation = figure.data[:3]
    assert list(running.x) == [0.5, 2.0]
    assert list(per_epoch.x) == [1, 2] and list(per_epoch.y) == [0.8, 0.4]
    assert list(validation.x) == [1, 2] and list(validation.y) == [0.7, 0.45]
    assert list(figure.data[-1].y) == pytest.approx([0.3, 0.55])  # the validation accuracy
    assert {trace.name for trace in figure.data} == {"training (running)", "training", "validation (held out)"}


def test_per_digit_bars_draw_a_bar_per_present_digit_and_none_for_absent_ones():
    before = np.array([0.5, 1.0, np.nan, *[0.8] * 7])
    after = np.array([1.0, 1.0, np.nan, *[0.9] * 7])
    figure = charts.per_digit_bars({"before": before, "after": after})
    assert [trace.name for trace in figure.data] == ["before", "after"]
    assert list(figure.data[1].y[:3]) == [1.0, 1.0, None] and figure.data[0].text[0] == "50%"


def test_per_digit_counts_are_drawn_on_an_axis_from_zero_to_the_largest_not_as_shares():
    figure = charts.per_digit_bars({"a": np.array([0, 3, 1, *[2] * 7]), "b": np.array([1, 5, 0, *[2] * 7])},
                                   axis_title="images read wrong", shares=False)
    assert list(figure.data[1].y[:3]) == [1, 5, 0] and figure.data[1].text[1] == "5"
    assert figure.layout.yaxis.range is None and figure.layout.yaxis.tickformat is None  # Plotly fits it: 0 to 5
    assert figure.layout.yaxis.rangemode == "tozero" and figure.layout.yaxis.dtick == 1  # whole numbers of images


def test_a_confusion_difference_marks_what_is_worse_for_the_first_model_in_red():
    difference = np.zeros((10, 10), int)
    difference[3, 3], difference[3, 8] = -2, 2  # the first model reads two more 3s as 8
    figure = charts.confusion_difference_heatmap(difference, "a", "b")
    z = np.asarray(figure.data[0].z)
    assert z[3, 3] == 2 and z[3, 8] == 2  # both cells count against it, the same way
    assert figure.data[0].text[3][8] == 2 and figure.layout.title.text == "a minus b"


def test_a_numbers_boxes_lie_over_its_picture_sent_at_most_a_page_wide():
    import base64
    import io

    from PIL import Image

    from digitcnn.reading.numbers import DigitInNumber, NumberReading
    from digitcnn.reading.refusal import Reading

    sure, unsure = np.eye(10)[4] * 0.99 + 0.001, np.full(10, 0.1)
    number = NumberReading((DigitInNumber((100, 50, 400, 550), np.zeros((28, 28)), Reading(4, sure, 0.9876)),
                            DigitInNumber((700, 60, 1000, 560), np.zeros((28, 28)), Reading(None, unsure, 0.1))),
                           marks=((1200, 500, 1240, 540),))
    photo = Image.new("RGB", (1800, 600), "white")  # wider than a page shows
    figure = charts.number_boxes(photo, number)
    [picture] = figure.data
    sent = Image.open(io.BytesIO(base64.b64decode(picture.source.split(",", 1)[1])))
    assert sent.width == charts.NUMBER_PICTURE_WIDTH and picture.dx * sent.width == pytest.approx(1800)
    assert [(shape.x0, shape.y0, shape.x1, shape.y1) for shape in figure.layout.shapes] == [
        (100, 50, 400, 550), (700, 60, 1000, 560), (1200, 500, 1240, 540)]  # in the picture's own pixels
    assert tuple(figure.layout.xaxis.range) == (0, 1800) and tuple(figure.layout.yaxis.range) == (600, 0)
    four, refused, mark = (annotation.text for annotation in figure.layout.annotations)
    assert four == "<b>4</b> 98.8%"
    assert refused == "not a digit<br>closest 0, 10.0%" and mark == "left out"
    colours = [shape.line.color for shape in figure.layout.shapes]
    assert len(set(colours)) == 3  # a digit, a piece that is not one, a dot: each its own colour
