"""Plotly figures built from plain arrays: what the app draws, testable without a browser."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from digitcnn.views import gallery
from digitcnn.percentages import probability_text, share_text

DIGITS = list(range(10))
_ACCENT = "#4C78A8"
_SECOND = "#F58518"


def class_counts_bar(counts: np.ndarray, title: str = "Images per digit") -> go.Figure:
    """A bar per digit 0–9 with its count written on it."""
    figure = go.Figure(
        go.Bar(x=DIGITS, y=[int(c) for c in counts], text=[f"{int(c):,}" for c in counts], marker_color=_ACCENT)
    )
    figure.update_layout(title=title, xaxis=dict(title="digit", tickmode="linear"), yaxis_title="images")
    return _compact(figure)


def training_curves(epochs: list, batches: list) -> go.Figure:
    """Loss and accuracy as training goes: running values after each batch (thin lines), each epoch's training
    scores and its scores on the images held out to validate (markers), as Keras's MNIST example draws them.
    ``epochs`` and ``batches`` are Progress events."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    position = [p.epoch - 1 + p.batch / p.batches for p in batches]
    ends = [p.epoch for p in epochs]
    for column, metric in ((1, "loss"), (2, "accuracy")):
        first = column == 1
        figure.add_trace(
            go.Scatter(x=position, y=[getattr(p, metric) for p in batches], mode="lines", name="training (running)",
                       line=dict(color=_ACCENT, width=1), opacity=0.5, showlegend=first, legendgroup="running"),
            row=1, col=column,
        )
        figure.add_trace(
            go.Scatter(x=ends, y=[getattr(p, metric) for p in epochs], mode="lines+markers", name="training",
                       line=dict(color=_ACCENT), showlegend=first, legendgroup="train"),
            row=1, col=column,
        )
        held_out = [(p.epoch, getattr(p, f"validation_{metric}")) for p in epochs
                    if getattr(p, f"validation_{metric}") is not None]
        if held_out:
            figure.add_trace(
                go.Scatter(x=[e for e, _ in held_out], y=[v for _, v in held_out], mode="lines+markers",
                           name="validation (held out)", line=dict(color=_SECOND), showlegend=first,
                           legendgroup="validation"),
                row=1, col=column,
            )
    figure.update_xaxes(title_text="epoch", rangemode="tozero")
    figure.update_layout(legend=dict(orientation="h", y=-0.25))
    return _compact(figure)


_ERROR_COLOURS = [[0.0, "#FDD0A2"], [1.0, "#A50F15"]]  # the fewest errors already plainly coloured, the most dark red
_RIGHT_COLOUR = "#DDEFD9"  # every right reading alike: their counts are written, not coloured


def confusion_matrix_heatmap(matrix: np.ndarray, normalize: bool = False) -> go.Figure:
    """The confusion matrix, true digit down, predicted digit across; counts, or the share of
    each true digit (rows sum to 1) when ``normalize``.

    The mistakes are coloured on a scale of their own (trace 0), from the fewest in light orange to
    the most in dark red, and a cell without any is left blank: the diagonal's hundreds of right
    readings would otherwise set the scale and a cell of one or two mistakes would look like an empty
    one. The diagonal (trace 1) is one pale green, its counts written in it. Each cell is also a
    clickable point (trace 2, its count in ``customdata``), so an app can react to the cell a user picks."""
    matrix = np.asarray(matrix)
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    text = np.array([[share_text(v, decimals=1) if normalize else f"{int(v)}" for v in row] for row in shown])
    diagonal = np.eye(10, dtype=bool)
    errors = np.where(~diagonal & (matrix > 0), shown, np.nan)
    largest = float(np.nanmax(errors)) if np.any(~np.isnan(errors)) else 1.0
    figure = go.Figure([
        go.Heatmap(z=errors, x=DIGITS, y=DIGITS, zmin=0, zmax=largest, colorscale=_ERROR_COLOURS,
                   text=np.where(np.isnan(errors), "", text), texttemplate="%{text}", hoverinfo="skip",
                   showscale=False, xgap=1, ygap=1),
        go.Heatmap(z=np.where(diagonal, 1.0, np.nan), x=DIGITS, y=DIGITS, zmin=0, zmax=1,
                   colorscale=[[0, _RIGHT_COLOUR], [1, _RIGHT_COLOUR]], text=np.where(diagonal, text, ""),
                   texttemplate="%{text}", hoverinfo="skip", showscale=False, xgap=1, ygap=1),
    ])
    true, predicted = np.divmod(np.arange(100), 10)
    figure.add_trace(
        go.Scatter(
            x=predicted, y=true, mode="markers",
            marker=dict(symbol="square", size=30, color="rgba(0,0,0,0)"),
            customdata=matrix.ravel(),
            text=[f"{t} read right" if t == p else f"true {t} read as {p}" for t, p in zip(true, predicted)],
            hovertemplate="%{text}: %{customdata} images<extra></extra>",
            showlegend=False,
        )
    )
    figure.update_layout(
        xaxis=dict(title="predicted digit", tickmode="linear", side="top", constrain="domain", range=[-0.5, 9.5],
                   showgrid=False, zeroline=False, showline=True, mirror=True, linecolor="#BBBBBB"),
        yaxis=dict(title="true digit", tickmode="linear", range=[9.5, -0.5], scaleanchor="x", showgrid=False,
                   zeroline=False, showline=True, mirror=True, linecolor="#BBBBBB"),
        plot_bgcolor="white",  # what a cell without mistakes shows
        clickmode="event+select",
        height=520,
    )
    return _compact(figure)


def probability_bars(sureness: np.ndarray) -> go.Figure:
    """How sure the model is of each digit 0–9 (ten values: probabilities) and, given an eleventh, of "not a
    digit" (see :attr:`digitcnn.reading.refusal.Reading.sureness`), the likeliest answer highlighted; a bar of 1% or more
    is labelled as the app writes a probability."""
    sureness = np.asarray(sureness, dtype=float)
    answers = [str(digit) for digit in DIGITS] + ["not a digit"][:len(sureness) - len(DIGITS)]
    best = int(sureness.argmax())
    figure = go.Figure(
        go.Bar(
            x=answers, y=sureness, text=[probability_text(p) if p >= 0.01 else "" for p in sureness],
            marker_color=[_SECOND if index == best else _ACCENT for index in range(len(answers))],
            # Level, above the bar, at full size: a bar is too narrow to hold "> 99.9%" upright.
            textposition="outside", textangle=0, constraintext="none", cliponaxis=False,
        )
    )
    figure.update_layout(xaxis=dict(title="answer" if len(answers) > len(DIGITS) else "digit", type="category",
                                    tickvals=answers, ticktext=[answer.replace(" a ", " a<br>") for answer in answers]),
                         yaxis=dict(title="how sure", tickformat=".0%", range=[0, 1.08],  # room for a label on top
                                    tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1]), height=300)
    return _compact(figure)


def coverage_curve(curve: list, threshold: float) -> go.Figure:
    """What an "only answer when at least … sure" threshold does on a model's test digits: the share
    answered and the accuracy on those, for every threshold (``curve``: [threshold, answered,
    accuracy] points), the chosen ``threshold`` marked."""
    thresholds, answered, accuracy = (np.asarray(column, dtype=float) for column in zip(*curve))
    figure = go.Figure([
        go.Scatter(x=thresholds, y=answered, name="digits answered", line=dict(color=_ACCENT),
                   hovertemplate="at %{x:.0%}: %{y:.2%} answered<extra></extra>"),
        go.Scatter(x=thresholds, y=accuracy, name="accuracy on those", line=dict(color=_SECOND),
                   hovertemplate="at %{x:.0%}: %{y:.2%} right<extra></extra>"),
    ])
    figure.add_vline(x=threshold, line_dash="dash", line_color="gray")
    low = float(min(answered.min(), accuracy.min()))
    figure.update_layout(xaxis=dict(title="only answer when at least this sure", tickformat=".0%", range=[0, 1]),
                         yaxis=dict(title="share of the test digits", tickformat=".0%", range=[max(0.0, low - 0.02), 1.005]),
                         height=300, legend=dict(orientation="h", y=-0.35))
    return _compact(figure)


def pixel_heatmap(image: np.ndarray, title: str = "") -> go.Figure:
    """One 28×28 image as a heatmap whose cells tell their pixel values on hover."""
    figure = go.Figure(
        go.Heatmap(z=np.asarray(image), colorscale="gray", reversescale=False, showscale=False,
                   hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>")
    )
    figure.update_layout(title=title, yaxis=dict(autorange="reversed", scaleanchor="x", showticklabels=False),
                         xaxis=dict(showticklabels=False), height=360, width=360)
    return _compact(figure)


SAMPLE_TILE_PIXELS = 72  # how large a sample is drawn: ten to a row fit a wide page, a row of them is above its fold


def sample_grid(images: np.ndarray, rows: np.ndarray, labels: np.ndarray, columns: int = 10) -> go.Figure:
    """Digit images side by side, ``columns`` to a row, each a tile a click picks: a transparent point on it
    whose ``customdata`` is its row in the data (``rows``) and whose hover tells that row and its label.

    One heat map of the :func:`digitcnn.views.gallery.montage` of the images (a Plotly image cannot be selected,
    streamlit#8760), covered by a large point per tile: forty tiles stay forty points, not 31,360 pixels."""
    gap = 2
    sheet = gallery.montage(images, columns=columns, scale=1, gap=gap).astype(np.float32)
    step = images.shape[1] + gap
    centre = (images.shape[1] - 1) / 2
    places = np.arange(len(images))
    figure = go.Figure([
        go.Heatmap(z=sheet, zmin=0, zmax=255, colorscale="gray", showscale=False, hoverinfo="skip"),
        go.Scatter(x=(places % columns) * step + centre, y=(places // columns) * step + centre, mode="markers",
                   marker=dict(symbol="square", size=SAMPLE_TILE_PIXELS - 8, color="rgba(0,0,0,0)"),
                   customdata=np.asarray(rows), text=[f"row {row}: label {label}" for row, label in zip(rows, labels)],
                   hovertemplate="%{text}<br>click to open it<extra></extra>", showlegend=False),
    ])
    tile_rows = -(-len(images) // columns)
    figure.update_layout(
        height=SAMPLE_TILE_PIXELS * tile_rows + 10, clickmode="event+select", plot_bgcolor="rgba(0,0,0,0)",
        xaxis=dict(visible=False, range=[-0.5, sheet.shape[1] - 0.5], constrain="domain", fixedrange=True),
        yaxis=dict(visible=False, range=[sheet.shape[0] - 0.5, -0.5], scaleanchor="x", constrain="domain",
                   fixedrange=True),
        margin=dict(l=0, r=0, t=0, b=10), dragmode=False)
    return figure


def _compact(figure: go.Figure) -> go.Figure:
    figure.update_layout(margin=dict(l=10, r=10, t=50, b=10))
    return figure


def per_digit_bars(series: dict, title: str = "", axis_title: str = "accuracy", shares: bool = True) -> go.Figure:
    """A group of bars per digit 0–9, one bar for each of ``series`` (name → ten values; NaN: no such digit,
    no bar): before and after a fine-tuning, or several models side by side. The values are shares in [0, 1]
    on a 0–100% axis, or when not ``shares`` counts on an axis from 0 to the largest, where a difference of a
    few images shows."""
    figure = go.Figure()
    colors = [_SECOND, _ACCENT, "#54A24B", "#B279A2"]
    for (name, values), color in zip(series.items(), colors * len(series)):
        values = [None if np.isnan(value) else float(value) for value in values]
        figure.add_trace(go.Bar(x=DIGITS, y=values, name=name, marker_color=color,
                                text=["" if value is None else f"{value:.0%}" if shares else f"{value:,.0f}"
                                      for value in values]))
    # Counts are ticked at whole numbers, about five of them: Plotly would tick a largest count of 3 at 0.5, 1, 1.5…
    largest = max((np.nanmax(values) for values in series.values() if not np.isnan(values).all()), default=0)
    axis = (dict(tickformat=".0%", range=[0, 1.05]) if shares
            else dict(rangemode="tozero", tick0=0, dtick=max(1, int(np.ceil(largest / 5)))))
    figure.update_layout(title=title, barmode="group", xaxis=dict(title="digit", tickmode="linear"),
                         yaxis=dict(title=axis_title, **axis))
    return _compact(figure)


def confusion_difference_heatmap(difference: np.ndarray, a: str, b: str) -> go.Figure:
    """``a``'s confusion matrix minus ``b``'s: on the diagonal, more right answers for ``a`` in blue; off it,
    more of that mistake for ``a`` in red."""
    difference = np.asarray(difference)
    signed = difference.astype(float) * np.where(np.eye(10, dtype=bool), -1, 1)  # red: worse for a, everywhere
    extent = float(np.abs(signed).max()) or 1.0
    figure = go.Figure(go.Heatmap(
        z=signed, x=DIGITS, y=DIGITS, zmin=-extent, zmax=extent, colorscale="RdBu", reversescale=True,
        text=difference, texttemplate="%{text}", customdata=difference, showscale=False,
        hovertemplate=f"true %{{y}}, read %{{x}}: {a} minus {b} = %{{customdata}}<extra></extra>"))
    figure.update_layout(title=f"{a} minus {b}", xaxis=dict(title="predicted digit", tickmode="linear"),
                         yaxis=dict(title="true digit", tickmode="linear", autorange="reversed"), height=420)
    return _compact(figure)


def activation_grid(maps: np.ndarray, order: np.ndarray, limit: int = 16, columns: int = 8) -> go.Figure:
    """A layer's activation maps (H×W×C) as small heat maps, in ``order`` (strongest first), at most
    ``limit`` of them, ``columns`` to a row; each tells its channel and values on hover, and a click on
    it is a selected point whose ``customdata`` starts with its channel (see :func:`picked_channel`).

    The maps are tiles of one mosaic (one heat map, gaps left blank) rather than subplots: Plotly builds one
    trace in milliseconds where 32 subplot traces take ~0.3 s. Plotly selects no heat-map cells (a click on one
    reaches no app: streamlit#8760), so the mosaic is covered by transparent points, one per pixel, that carry
    the values (channel, row, column, value) and take the clicks. They are WebGL points: as SVG, the 12,544 points
    of a 28×28×16 layer took about a second to select and another to draw, for each click
    (benchmarks.app_interactions)."""
    shown = [int(channel) for channel in order[:limit]]
    height, width = maps.shape[:2]
    gap_x, gap_y = max(1, width // 7), max(2, height // 3)  # the room between tiles; above each, its title
    step_x, step_y = width + gap_x, height + gap_y
    rows = -(-len(shown) // columns)
    mosaic = np.full((rows * step_y, columns * step_x - gap_x), np.nan, dtype=np.float32)
    pixel_rows, pixel_columns = (grid.ravel() for grid in np.indices((height, width)))
    xs, ys, values, titles = [], [], [], []
    for index, channel in enumerate(shown):
        top, left = (index // columns) * step_y + gap_y, (index % columns) * step_x
        mosaic[top:top + height, left:left + width] = maps[:, :, channel]
        xs.append(left + pixel_columns)
        ys.append(top + pixel_rows)
        values.append(np.stack([np.full(height * width, channel), pixel_rows, pixel_columns,
                                maps[:, :, channel].ravel()], axis=1))
        titles.append(dict(x=left + (width - 1) / 2, y=top - 0.5, text=f"#{channel}", showarrow=False,
                           yanchor="bottom", font_size=10))
    figure = go.Figure([
        go.Heatmap(z=mosaic, zmin=0, zmax=float(maps.max()) or 1.0, colorscale="Viridis", showscale=False,
                   hoverinfo="skip"),
        go.Scattergl(x=np.concatenate(xs), y=np.concatenate(ys), mode="markers", showlegend=False,
                     marker=dict(symbol="square", size=3, color="rgba(0,0,0,0)"),
                     customdata=np.concatenate(values).astype(np.float32),  # sent packed, not as 50,000 numbers
                     hovertemplate="channel %{customdata[0]}, row %{customdata[1]}, column %{customdata[2]}: "
                                   "%{customdata[3]:.2f}<br>click to see it large<extra></extra>"),
    ])
    figure.update_layout(
        annotations=titles, height=100 * rows + 10, clickmode="event+select", plot_bgcolor="rgba(0,0,0,0)",
        xaxis=dict(visible=False, range=[-0.5, mosaic.shape[1] - 0.5], constrain="domain"),
        yaxis=dict(visible=False, range=[mosaic.shape[0] - 0.5, -0.5], scaleanchor="x", constrain="domain"),
        margin=dict(l=10, r=10, t=0, b=10))  # the titles are inside the mosaic, above their maps
    return figure


def picked_channel(selection) -> int | None:
    """The channel of the map clicked in an :func:`activation_grid` (Streamlit's selection state of the
    chart), or None when no map is picked."""
    points = (selection or {}).get("selection", {}).get("points", [])
    picked = points[0].get("customdata") if points else None
    if picked is None:
        return None
    # A packed array's point comes as the browser writes a typed array: {"0": channel, "1": row, …}.
    return int(picked["0"] if isinstance(picked, dict) else picked[0])


def attribution_overlay(image: np.ndarray, attribution: np.ndarray, title: str = "") -> go.Figure:
    """Where the evidence is: ``attribution`` (28×28; above 0 for the digit, below 0 against it) in
    red and blue over the drawing in gray."""
    extent = float(np.abs(attribution).max()) or 1.0
    figure = go.Figure([
        go.Heatmap(z=np.asarray(image), colorscale="gray", showscale=False, hoverinfo="skip"),
        go.Heatmap(z=np.where(np.abs(attribution) > 0.05 * extent, attribution, np.nan), zmin=-extent, zmax=extent,
                   colorscale="RdBu", reversescale=True, opacity=0.75, colorbar=dict(title="evidence", thickness=10),
                   hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>"),
    ])
    figure.update_layout(title=title, yaxis=dict(autorange="reversed", scaleanchor="x", showticklabels=False),
                         xaxis=dict(showticklabels=False), height=320, width=360)
    return _compact(figure)


def logit_bars(logits: np.ndarray) -> go.Figure:
    """The ten values the last layer computes before its softmax turns them into probabilities."""
    logits = np.asarray(logits, dtype=float)
    best = int(logits.argmax())
    figure = go.Figure(go.Bar(x=DIGITS, y=logits, text=[f"{value:.1f}" for value in logits],
                              marker_color=[_SECOND if digit == best else _ACCENT for digit in DIGITS]))
    figure.update_layout(xaxis=dict(title="digit", tickmode="linear"), yaxis_title="logit", height=260)
    return _compact(figure)


NUMBER_PICTURE_WIDTH = 900  # a number's picture is sent at most this wide: the page shows it no wider
_REFUSED_COLOUR = "#D62728"
_MARK_COLOUR = "rgba(160,160,160,0.8)"  # a dot's box, faint; its label darker, to be read
_MARK_LABEL_COLOUR = "#555555"


def number_boxes(picture, number) -> go.Figure:
    """How a number was read, over its picture (a PIL image: the canvas or the photo): each digit's box with its
    answer and how sure (a piece refused is "not a digit", in another colour, with its closest digit), and the dots
    left out, faint. ``number`` is a :class:`~digitcnn.reading.numbers.NumberReading`. The picture travels as one
    PNG, not as a grid of numbers."""
    import base64
    import io

    shown = picture.convert("RGB")
    shrink = min(1.0, NUMBER_PICTURE_WIDTH / shown.width)
    if shrink < 1:
        shown = shown.resize((round(shown.width * shrink), round(shown.height * shrink)))
    buffer = io.BytesIO()
    shown.save(buffer, format="PNG", optimize=True)
    width, height = picture.size
    figure = go.Figure(go.Image(source="data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(),
                                dx=1 / shrink, dy=1 / shrink, hoverinfo="skip"))
    for part in number.digits:
        reading = part.reading
        if reading.digit is None:
            colour = _REFUSED_COLOUR
            label = (f"not a digit<br>closest {reading.closest}, "
                     f"{probability_text(reading.sureness[reading.closest])}")
        else:
            colour, label = _SECOND, f"<b>{reading.digit}</b> {probability_text(reading.score)}"
        _box(figure, part.box, colour, label, dash="solid" if reading.digit is not None else "dot")
    for box in number.marks:
        _box(figure, box, _MARK_COLOUR, "left out", dash="dot", size=11, label_colour=_MARK_LABEL_COLOUR)
    figure.update_layout(
        xaxis=dict(visible=False, range=[0, width], constrain="domain", fixedrange=True),
        yaxis=dict(visible=False, range=[height, 0], scaleanchor="x", constrain="domain", fixedrange=True),
        height=round(min(500, max(160, 1000 * height / width))) + 40, margin=dict(l=0, r=0, t=40, b=0),
        dragmode=False, showlegend=False)
    return figure


def _box(figure: go.Figure, box, colour: str, label: str, dash: str, size: int = 14,
         label_colour: str | None = None) -> None:
    """A rectangle over ``box`` (left, top, right, bottom in picture pixels), labelled above its top."""
    left, top, right, bottom = (float(edge) for edge in box)
    figure.add_shape(type="rect", x0=left, y0=top, x1=right, y1=bottom, line=dict(color=colour, width=3, dash=dash))
    figure.add_annotation(x=(left + right) / 2, y=top, text=label, showarrow=False, yanchor="bottom",
                          font=dict(color=label_colour or colour, size=size), bgcolor="rgba(255,255,255,0.85)",
                          borderpad=2)
