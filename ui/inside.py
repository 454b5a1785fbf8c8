"""Looking inside one reading, on the draw page: where the model looked, what it takes to change its mind, and what
each layer sees (see digitcnn.reading.explain). Drawn after the reading itself, so the answer never waits for the
explanations.

What a person looks at first comes first, and only what is shown is computed and drawn: the views are tabs that
run when opened, the network is shown one layer at a time (a picker goes to the others), and the logits are in an
expander. The panel is a fragment: its switch, tabs, sliders and clicks rerun it alone, not the page, and what it
computed for a drawing (the searches for what changes its mind, the maps, the attributions) is remembered while the
drawing stays. Measured with ``python -m benchmarks.app_interactions`` (docs/benchmarks.md): the panel drew all seven
layers' maps at once, 112 of them on a page 4,424 px tall, and took 5.6–5.9 s to appear and 6.0 s per click on a map.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from digitcnn.views import charts, gallery
from digitcnn.reading import explain
from digitcnn.reading.inference import PLAIN
from digitcnn.percentages import probability_text
from ui import loaders, state
from ui.markup import literal

CHANNELS_SHOWN = 16  # per layer: the strongest; a compact layer has up to 64
VIEWS = ("Where it looked", "What changes its mind", "Inside the network")


@st.fragment
def inside_section(predictor, digit: np.ndarray, key: str, threshold: float | None = None) -> None:
    """The three views of ``digit`` (the 28×28 the model saw) under one toggle, off until asked for; what changes
    its mind is judged as the reading above it is, at ``threshold`` (None: the model's own)."""
    if not st.toggle("Look inside this reading", key=f"{key}_inside",
                     help="What each layer sees, where the model looked, and what changes its mind."):
        return
    if predictor.reading != PLAIN:
        st.caption("This model reads each drawing three times (as drawn, with a bolder pen and with a finer one) and "
                   "averages the answers: where it looked and inside the network show the network on the drawing as "
                   "drawn; what changes its mind reads as the model does.")
    # The Keras model is loaded at the first look (the reading itself needs none): TensorFlow's import, a few seconds
    # once per server. Loaded ahead, in a thread, it slowed the readings a person makes meanwhile (0.5 → 0.8 s),
    # and when the page opened, the page (4 → 8 s).
    with st.spinner("Loading the network: the first look after the server started takes a few seconds…"):
        model = predictor.model
    loaders.keep_streamlits_cleanup_cheap()  # here too: the panel's runs are its own, not the entry point's
    remembered = state.inside_memory(key, (predictor, hashlib.blake2b(digit.tobytes()).hexdigest()))
    looked, changes, layers = st.tabs(VIEWS, key=f"{key}_view", on_change="rerun")
    if looked.open:
        with looked:
            where_it_looked(model, digit, key, remembered)
    if changes.open:
        with changes:
            what_changes_its_mind(predictor, digit, key, threshold, remembered)
    if layers.open:
        with layers:
            inside_the_network(model, digit, key, remembered)


def _once(remembered: dict, what, compute):
    """``compute()``, computed once for the panel's drawing (``remembered`` is its memory, see
    :func:`ui.state.inside_memory`) under the name ``what``."""
    if what not in remembered:
        remembered[what] = compute()
    return remembered[what]


def _logits_and_probabilities(model, digit: np.ndarray, remembered: dict) -> tuple[np.ndarray, np.ndarray]:
    return _once(remembered, "logits", lambda: explain.logits_and_probabilities(model, digit))


def where_it_looked(model, digit: np.ndarray, key: str, remembered: dict) -> None:
    """Integrated Gradients for the answer over the drawing, and the contrast with a second digit."""
    _, probabilities = _logits_and_probabilities(model, digit, remembered)
    answer = int(np.argmax(probabilities))
    evidence_column, contrast_column = st.columns(2)
    evidence = _once(remembered, ("attribution", answer), lambda: explain.attribution(model, digit, answer))
    evidence_column.plotly_chart(charts.attribution_overlay(digit, evidence, f"Evidence for {answer}"),
                                 key=f"{key}_attribution")
    with contrast_column:
        runner_up = int(np.argsort(probabilities)[-2])
        others = [other for other in range(10) if other != answer]
        other = st.selectbox(f"Why {answer} and not …", others, index=others.index(runner_up), key=f"{key}_other")
        against = _once(remembered, ("contrast", answer, other), lambda: explain.contrast(model, digit, answer, other))
        st.plotly_chart(charts.attribution_overlay(digit, against, f"Why {answer} and not {other}"),
                        key=f"{key}_contrast")
    st.caption("Red: pixels that speak for the digit; blue: against it (Integrated Gradients from a black "
               "image, 16 steps). Removing the reddest tenth of the ink lowers the answer's probability about "
               "four times more than removing a random tenth (tests/test_explain.py).")


def what_changes_its_mind(predictor, digit: np.ndarray, key: str, threshold: float | None, remembered: dict) -> None:
    """Sliders that turn, move, scale and thicken the drawing, with the reading updating; and the smallest
    turn and move that change the answer, in words. Both read as the answer above was read (the same pens,
    the same "not a digit" rule at the same ``threshold``): a change said to make it read 4 reads 4 on the
    sliders."""
    for kind in explain.FLIP_KINDS:
        flip = _once(remembered, ("flip", kind, threshold),
                     lambda: explain.smallest_flip(predictor, digit, kind, threshold=threshold))
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


def inside_the_network(model, digit: np.ndarray, key: str, remembered: dict) -> None:
    """One convolution or pooling stage at a time (a picker goes to the others): its maps, strongest channels first,
    and one of them large beside the input, the one clicked in the grid or picked; the logits and the softmax
    below, on demand."""
    stages = _once(remembered, "maps", lambda: explain.activation_maps(model, digit))
    if stages:
        _stage_maps(stages, digit, key)
    else:  # an imported network of Dense layers alone, say
        st.info("This network has no convolution or pooling layers: its layers read the picture's 784 pixels as one "
                "row, and have no maps to show. Its last layer's values are below.", icon=":material/info:")
    logits_box = st.expander("Logits and softmax: the last layer's ten values and their probabilities",
                             key=f"{key}_logits_box", on_change="rerun")
    if not logits_box.open:
        return
    with logits_box:
        logits, probabilities = _logits_and_probabilities(model, digit, remembered)
        logit_column, softmax_column = st.columns(2)
        logit_column.markdown("**Logits**: the last layer before its softmax")
        logit_column.plotly_chart(charts.logit_bars(logits), key=f"{key}_logits")
        softmax_column.markdown("**Softmax**: the logits as the probability of each digit, if it is one; how sure "
                                "the reading is also weighs how much the drawing looks like a digit at all")
        softmax_column.plotly_chart(charts.probability_bars(probabilities), key=f"{key}_softmax")


def _stage_maps(stages: list, digit: np.ndarray, key: str) -> None:
    """The maps of one stage of ``stages`` (a picker goes to the others), strongest channels first, one of them
    large beside the input."""
    names = [name for name, _ in stages]
    picker = state.layer_picker(key, names)
    _take_map_click(st.session_state[picker], key)
    input_column, picked_column = st.columns(2)
    input_column.image(gallery.enlarge(digit, 6), caption="The input: 28×28", output_format="PNG")
    with picked_column:
        layer_column, channel_column = st.columns(2)
        name = layer_column.selectbox("Layer", names, key=picker,
                                      help=f"The network's {len(names)} convolution and pooling stages, first to last: "
                                           f"pick one to see its maps.")
        maps = dict(stages)[name]
        order = explain.channel_order(maps)
        strongest = int(order[0])  # shown until a channel is picked
        channel = channel_column.number_input(f"Channel (0–{maps.shape[2] - 1})", min_value=0,
                                              max_value=maps.shape[2] - 1,
                                              key=state.channel_picker(key, name, strongest))
        st.plotly_chart(charts.pixel_heatmap(np.round(maps[:, :, channel], 3), f"{name}, channel {channel}"),
                        key=f"{key}_channel_map")
    height, width, depth = maps.shape
    st.markdown(f"**{literal(name)}** · {height}×{width}×{depth}"
                + (f" · the {CHANNELS_SHOWN} strongest of {depth} channels" if depth > CHANNELS_SHOWN else ""))
    st.caption("Hover over a map for its values; click one to see it large beside the input. The layer picker "
               "above goes to the other layers.")
    st.plotly_chart(charts.activation_grid(maps, order, CHANNELS_SHOWN),
                    key=_grid_key(key, name), on_select="rerun", selection_mode="points")


def _take_map_click(layer: str, key: str) -> None:
    """Show the map clicked in ``layer``'s grid large (its channel goes to the picker above the grid) when the click
    is new. The grid keeps its key, and so its selection, from run to run: a new key per click made a new chart,
    which the browser drew again from scratch, for each click. (A second click on the selected map undoes the
    selection; a third shows it again.)"""
    channel = charts.picked_channel(st.session_state.get(_grid_key(key, layer)))
    if channel != state.clicked_map(key, layer):
        state.show_map(key, layer, channel)


def _grid_key(key: str, layer: str) -> str:
    return f"{key}_maps_{layer}"
