"""Plotly figures built from plain arrays: what the app draws, testable without a browser."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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
    """Loss and accuracy as training goes: running values after each batch (thin lines) and each
    epoch's training and test scores (markers). ``epochs`` and ``batches`` are Progress events."""
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
        test = [(p.epoch, getattr(p, f"test_{metric}")) for p in epochs if getattr(p, f"test_{metric}") is not None]
        if test:
            figure.add_trace(
                go.Scatter(x=[e for e, _ in test], y=[v for _, v in test], mode="lines+markers", name="test",
                           line=dict(color=_SECOND), showlegend=first, legendgroup="test"),
                row=1, col=column,
            )
    figure.update_xaxes(title_text="epoch", rangemode="tozero")
    figure.update_layout(legend=dict(orientation="h", y=-0.25))
    return _compact(figure)


def confusion_matrix_heatmap(matrix: np.ndarray, normalize: bool = False) -> go.Figure:
    """The confusion matrix, true digit down, predicted digit across; counts, or the share of
    each true digit (rows sum to 1) when ``normalize``. Each cell is also a clickable point
    (trace 1), so an app can react to the cell a user picks."""
    matrix = np.asarray(matrix)
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    text = [[f"{v:.1%}" if normalize else f"{int(v)}" for v in row] for row in shown]
    figure = go.Figure(
        go.Heatmap(z=shown, x=DIGITS, y=DIGITS, text=text, texttemplate="%{text}", colorscale="Blues",
                   hoverinfo="skip", showscale=False)
    )
    true, predicted = np.divmod(np.arange(100), 10)
    figure.add_trace(
        go.Scatter(
            x=predicted, y=true, mode="markers",
            marker=dict(symbol="square", size=30, color="rgba(0,0,0,0)"),
            customdata=matrix.ravel(),
            hovertemplate="true %{y}, predicted %{x}: %{customdata} images<extra></extra>",
            showlegend=False,
        )
    )
    figure.update_layout(
        xaxis=dict(title="predicted digit", tickmode="linear", side="top", constrain="domain", range=[-0.5, 9.5]),
        yaxis=dict(title="true digit", tickmode="linear", range=[9.5, -0.5], scaleanchor="x"),
        clickmode="event+select",
        height=520,
    )
    return _compact(figure)


def probability_text(probability: float) -> str:
    """A probability as a percentage to one decimal that never claims certainty it lacks:
    "> 99.9%" rather than a rounded "100.0%", "< 0.1%" rather than "0.0%"."""
    if 0.999 < probability < 1:
        return "> 99.9%"
    if 0 < probability < 0.001:
        return "< 0.1%"
    return f"{probability:.1%}"


def probability_bars(probabilities: np.ndarray) -> go.Figure:
    """The probability of each digit, the most likely one highlighted."""
    probabilities = np.asarray(probabilities, dtype=float)
    best = int(probabilities.argmax())
    figure = go.Figure(
        go.Bar(
            x=DIGITS, y=probabilities, text=[_bar_label(p) for p in probabilities],
            marker_color=[_SECOND if d == best else _ACCENT for d in DIGITS],
        )
    )
    figure.update_layout(xaxis=dict(title="digit", tickmode="linear"), yaxis=dict(title="probability", range=[0, 1]),
                         height=300)
    return _compact(figure)


def _bar_label(probability: float) -> str:
    """A bar's label in whole percent, which never claims a certainty the model lacks."""
    if probability < 0.01:
        return ""
    return ">99%" if 0.99 < probability < 1 else f"{probability:.0%}"


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


def _compact(figure: go.Figure) -> go.Figure:
    figure.update_layout(margin=dict(l=10, r=10, t=50, b=10))
    return figure


def per_digit_bars(series: dict, title: str = "", axis_title: str = "accuracy") -> go.Figure:
    """A group of bars per digit 0–9, one bar for each of ``series`` (name → ten values in [0, 1]; NaN:
    no such digit, no bar): before and after a fine-tuning, or several models side by side."""
    figure = go.Figure()
    colors = [_SECOND, _ACCENT, "#54A24B", "#B279A2"]
    for (name, values), color in zip(series.items(), colors * len(series)):
        values = [None if np.isnan(value) else float(value) for value in values]
        figure.add_trace(go.Bar(x=DIGITS, y=values, name=name, marker_color=color,
                                text=["" if value is None else f"{value:.0%}" for value in values]))
    figure.update_layout(title=title, barmode="group", xaxis=dict(title="digit", tickmode="linear"),
                         yaxis=dict(title=axis_title, tickformat=".0%", range=[0, 1.05]))
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
