"""Looking inside one reading, on the draw page: what each layer sees, where the model looked, and what it
takes to change its mind (see digitcnn.explain). Drawn after the reading itself, so the answer never waits
for the explanations."""

from __future__ import annotations

import numpy as np
import streamlit as st

from digitcnn import charts, explain, gallery
from digitcnn.inference import PLAIN
from digitcnn.percentages import probability_text
from ui import state
from ui.markup import literal

CHANNELS_SHOWN = 16  # per layer: the strongest; a compact layer has up to 64


def inside_section(predictor, digit: np.ndarray, key: str, threshold: float | None = None) -> None:
    """The three views of ``digit`` (the 28×28 the model saw) under one toggle, off until asked for; what changes
    its mind is judged as the reading above it is, at ``threshold`` (None: the model's own)."""
    if not st.toggle("Look inside this reading", key=f"{key}_inside",
                     help="What each layer sees, where the model looked, and what changes its mind."):
        return
    if predictor.reading != PLAIN:
        st.caption("This model reads each drawing three times (as drawn, with a bolder pen and with a finer one) and "
                   "averages the answers: the first two views show the network on the drawing as drawn; the third "
                   "reads as the model does.")
    layers, looked, changes = st.tabs(["Inside the network", "Where it looked", "What changes its mind"])
    logits, probabilities = explain.logits_and_probabilities(predictor.model, digit)
    with layers:
        inside_the_network(predictor.model, digit, logits, probabilities, key)
    with looked:
        where_it_looked(predictor.model, digit, probabilities, key)
    with changes:
        what_changes_its_mind(predictor, digit, key, threshold)


def inside_the_network(model, digit: np.ndarray, logits: np.ndarray, probabilities: np.ndarray, key: str) -> None:
    """The input, each convolution and pooling stage's maps (strongest channels first), the logits and the
    softmax; a channel clicked in a grid, or picked, is shown large beside the input."""
    stages = explain.activation_maps(model, digit)
    names = [name for name, _ in stages]
    generation = _take_map_click(names, key)
    input_column, picked_column = st.columns(2)
    input_column.image(gallery.enlarge(digit, 6), caption="The input: 28×28", output_format="PNG")
    with picked_column:
        layer_column, channel_column = st.columns(2)
        name = layer_column.selectbox("Layer", names, key=state.layer_picker(key))
        maps = dict(stages)[name]
        strongest = int(explain.channel_order(maps)[0])  # shown until a channel is picked
        channel = channel_column.number_input(f"Channel (0–{maps.shape[2] - 1})", min_value=0,
                                              max_value=maps.shape[2] - 1,
                                              key=state.channel_picker(key, name, strongest))
        st.plotly_chart(charts.pixel_heatmap(np.round(maps[:, :, channel], 3), f"{name}, channel {channel}"),
                        key=f"{key}_channel_map")
    st.caption("Hover over a map for its values; click one to see it large beside the input.")
    for name, maps in stages:
        height, width, depth = maps.shape
        st.markdown(f"**{literal(name)}** · {height}×{width}×{depth}"
                    + (f" · the {CHANNELS_SHOWN} strongest of {depth} channels" if depth > CHANNELS_SHOWN else ""))
        st.plotly_chart(charts.activation_grid(maps, explain.channel_order(maps), CHANNELS_SHOWN),
                        key=_grid_key(key, name, generation), on_select="rerun", selection_mode="points")
    logit_column, softmax_column = st.columns(2)
    logit_column.markdown("**Logits**: the last layer's raw score for each digit, before the softmax")
    logit_column.plotly_chart(charts.logit_bars(logits), key=f"{key}_logits")
    softmax_column.markdown("**Softmax**: the logits as the probability of each digit, if it is one; how sure the "
                            "reading is also weighs how much the drawing looks like a digit at all")
    softmax_column.plotly_chart(charts.probability_bars(probabilities), key=f"{key}_softmax")


def _take_map_click(names: list[str], key: str) -> int:
    """Show the map last clicked in a layer's grid large: its layer and channel go to the pickers above the
    grids. Returns the grids' generation, part of their keys: a click taken makes new grids, so that the
    next click, even on the same map, is a new selection."""
    generation = state.maps_generation(key)
    for name in names:
        channel = charts.picked_channel(st.session_state.get(_grid_key(key, name, generation)))
        if channel is not None:
            return state.show_map(key, name, channel)
    return generation


def _grid_key(key: str, layer: str, generation: int) -> str:
    return f"{key}_maps_{layer}_{generation}"


def where_it_looked(model, digit: np.ndarray, probabilities: np.ndarray, key: str) -> None:
    """Integrated Gradients for the answer over the drawing, and the contrast with a second digit."""
    answer = int(np.argmax(probabilities))
    evidence_column, contrast_column = st.columns(2)
    evidence_column.plotly_chart(
        charts.attribution_overlay(digit, explain.attribution(model, digit, answer), f"Evidence for {answer}"),
        key=f"{key}_attribution")
    with contrast_column:
        runner_up = int(np.argsort(probabilities)[-2])
        others = [other for other in range(10) if other != answer]
        other = st.selectbox(f"Why {answer} and not …", others, index=others.index(runner_up), key=f"{key}_other")
        st.plotly_chart(charts.attribution_overlay(digit, explain.contrast(model, digit, answer, other),
                                                   f"Why {answer} and not {other}"), key=f"{key}_contrast")
    st.caption("Red: pixels that speak for the digit; blue: against it (Integrated Gradients from a black "
               "image, 16 steps). Removing the reddest tenth of the ink lowers the answer's probability about "
               "four times more than removing a random tenth (tests/test_explain.py).")


def what_changes_its_mind(predictor, digit: np.ndarray, key: str, threshold: float | None) -> None:
    """Sliders that turn, move, scale and thicken the drawing, with the reading updating; and the smallest
    turn and move that change the answer, in words. Both read as the answer above was read (the same pens,
    the same "not a digit" rule at the same ``threshold``): a change said to make it read 4 reads 4 on the
    sliders."""
    for kind in explain.FLIP_KINDS:
        flip = explain.smallest_flip(predictor, digit, kind, threshold=threshold)
        limit = f"{explain.MAX_ROTATION}° either way" if kind == "rotation" else f"{explain.MAX_SHIFT} px"
        sureness = "" if flip is None or flip.digit is None else f" ({probability_text(flip.score)} sure)"
        st.markdown(f"- {flip.describe()}{sureness}" if flip else f"- no {kind} within {limit} changes the answer")
    sliders, result = st.columns(2)
    with sliders:
        rotation = st.slider("Turn (degrees, clockwise)", -45, 45, 0, key=f"{key}_turn")
        across = st.slider("Move right (pixels)", -6, 6, 0, key=f"{key}_across")
        down = st.slider("Move down (pixels)", -6, 6, 0, key=f"{key}_down")
        scale = st.slider("Scale", 0.6, 1.4, 1.0, 0.05, key=f"{key}_scale")
        stroke = st.slider("Pen: thinner ← → thicker", -1.0, 1.0, 0.0, 0.1, key=f"{key}_stroke")
    changed = explain.transformed(digit, rotation, (across, down), scale, stroke)
    reading = predictor.read(changed, threshold)
    with result:
        picture, answer = st.columns(2)
        picture.image(gallery.enlarge(changed, 4), caption="Changed", output_format="PNG")
        answer.metric("It reads", "not a digit" if reading.digit is None else str(reading.digit),
                      probability_text(reading.score) + " sure", delta_color="off")
        st.plotly_chart(charts.probability_bars(reading.sureness), key=f"{key}_changed_probabilities")
