"""A Keras network made elsewhere, made to read as this project's networks read: one 28×28×1 picture in, pixels
0–1, and ten probabilities out of a softmax ``Dense`` layer where it has one (:func:`adapted`). The rest of the
project relies on that shape: the refusal rule reads the input of the last layer as the network's features, looking
inside a reading takes the logits from a softmax ``Dense``, and a drawing is read by the same LiteRT graph.

What a network made elsewhere may read and give (:func:`check_shapes`): a picture shaped (28, 28, 1), (28, 28) or
(784,), and ten probabilities or ten logits. Which pixel range it expects and whether it gives logits is measured on
images by the importer (:mod:`digitcnn.storage.importing`), not read from the file: a file says neither.

The network is changed through its configuration, Keras's public description of its layers and how they connect,
and rebuilt with its own weights (:func:`adapted`): a layer that scales its pixels and one that shapes them are put
after a new 28×28×1 input, and a final softmax is folded into the ``Dense`` layer that gives its logits. Rebuilding
from the configuration keeps the network one flat graph of its own layers, whatever their names, where wrapping
it in another model would make it one opaque layer.
"""

from __future__ import annotations

import json

from digitcnn.data import IMAGE_SIDE
from digitcnn.errors import ModelFileError
from digitcnn.networks.architectures import CLASS_COUNT

PICTURE_SHAPE = (IMAGE_SIDE, IMAGE_SIDE, 1)
INPUT_SHAPES = (PICTURE_SHAPE, (IMAGE_SIDE, IMAGE_SIDE), (IMAGE_SIDE * IMAGE_SIDE,))  # what an imported network may read
PIXEL_RANGES = {"0–1": 1.0, "0–255": 255.0}  # how a network may expect its pixels: the factor from 0–1
PROBABILITIES, LOGITS = "probabilities", "logits"
OUTPUT_KINDS = (PROBABILITIES, LOGITS)  # what an imported network's ten outputs may be
_SCALING_NAME, _SHAPING_NAME, _SOFTMAX_NAME = "pixels_scaled", "pixels_shaped", "probabilities"
_SOFTMAX_CLASSES = ("Softmax", "Activation")


def shape_text(shape) -> str:
    """A shape as a person reads it: "(28, 28, 1)", "(784,)", "(None, 32)"."""
    return str(tuple(shape))


def check_shapes(model, where: str) -> tuple[int, ...]:
    """The shape of one picture that ``model`` reads (one of :data:`INPUT_SHAPES`); raises :class:`ModelFileError`
    naming what it has and what it may have unless it reads one such picture and gives ten outputs."""
    accepted = ", ".join(map(shape_text, INPUT_SHAPES))
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelFileError(f"{where}: has {len(model.inputs)} inputs and {len(model.outputs)} outputs; a model here "
                             f"reads one picture, shaped {accepted}, and gives {CLASS_COUNT} probabilities or logits")
    reads, gives = tuple(model.inputs[0].shape[1:]), tuple(model.outputs[0].shape[1:])
    if reads not in INPUT_SHAPES or gives != (CLASS_COUNT,):
        raise ModelFileError(f"{where}: reads {shape_text(reads)} and gives {shape_text(gives)}; a model here reads one "
                             f"28×28 gray picture, shaped {accepted}, and gives ({CLASS_COUNT},): "
                             f"{CLASS_COUNT} probabilities or logits, one for each digit")
    return reads


def adapted(model, pixel_scale: float, add_softmax: bool):
    """``model`` rebuilt with its weights to read 28×28×1 pictures with pixels 0–1: scaled by ``pixel_scale`` (255 for
    a network that expects 0–255) and shaped as it reads them, and giving probabilities (``add_softmax``: a softmax
    after the logits it gives). A softmax after a linear ``Dense`` layer, its own or the one added, goes into that
    layer, so that the network's features are what that layer reads (:mod:`digitcnn.reading.refusal`)."""
    import keras

    config = json.loads(json.dumps(model.get_config()))  # as saved: lists where get_config gives tuples
    reads = tuple(model.inputs[0].shape[1:])
    sequential = isinstance(model, keras.Sequential)
    adapters = _adapter_layers(pixel_scale, reads)
    if sequential:
        _sequential_input(config, adapters)
        _sequential_ending(config, add_softmax)
        rebuilt = keras.Sequential.from_config(config)
    else:
        _functional_input(config, adapters)
        _functional_ending(config, add_softmax)
        rebuilt = keras.Model.from_config(config)
    for layer in model.layers:
        if layer.weights:
            rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
    return rebuilt


def _adapter_layers(pixel_scale: float, reads: tuple[int, ...]) -> list[dict]:
    """The configurations of the layers between a 28×28×1 input of pixels 0–1 and what the network reads."""
    adapters = []
    if pixel_scale != 1:
        adapters.append(_layer_config("Rescaling", _SCALING_NAME, scale=float(pixel_scale), offset=0.0))
    if reads != PICTURE_SHAPE:
        adapters.append(_layer_config("Reshape", _SHAPING_NAME, target_shape=list(reads)))
    return adapters


def _layer_config(class_name: str, name: str, **settings) -> dict:
    """The configuration of one of Keras's own layers, as ``get_config`` writes it (float32, trainable)."""
    return {"module": "keras.layers", "class_name": class_name, "registered_name": None,
            "config": {"name": name, "trainable": True, "dtype": "float32", **settings}}


def _input_config(name: str) -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
            "config": {"batch_shape": [None, *PICTURE_SHAPE], "dtype": "float32", "sparse": False, "name": name}}


# --- A Sequential network: a list of layers ------------------------------------------------------------

def _sequential_input(config: dict, adapters: list[dict]) -> None:
    layers = [layer for layer in config["layers"] if layer["class_name"] != "InputLayer"]
    for adapter in adapters:
        adapter["config"]["name"] = _unused_name(adapter["config"]["name"], layers)
    config.pop("build_input_shape", None)
    config["layers"] = [_input_config("picture"), *adapters, *layers]


def _sequential_ending(config: dict, add_softmax: bool) -> None:
    layers = config["layers"]
    last = layers[-1]
    if not add_softmax and _is_softmax(last) and _is_linear_dense(layers[-2]):
        layers.pop()  # the softmax goes into the Dense layer before it
        _set_softmax(layers[-1])
    elif add_softmax and _is_linear_dense(last):
        _set_softmax(last)
    elif add_softmax:
        layers.append(_layer_config("Activation", _unused_name(_SOFTMAX_NAME, layers), activation="softmax"))


# --- A functional network: layers and the tensors between them ------------------------------------------

def _functional_input(config: dict, adapters: list[dict]) -> None:
    layers = config["layers"]
    input_name = _single(config["input_layers"])[0]
    input_layer = next(layer for layer in layers if layer["name"] == input_name)
    input_layer["config"].update(batch_shape=[None, *PICTURE_SHAPE], dtype="float32")
    previous, position = input_name, layers.index(input_layer) + 1
    for adapter in adapters:
        name = _unused_name(adapter["config"]["name"], layers)
        adapter["config"]["name"] = adapter["name"] = name
        adapter["inbound_nodes"] = [_node(previous)]
        layers.insert(position, adapter)
        previous, position = name, position + 1
    if previous != input_name:
        for layer in layers[position:]:
            _rename_history(layer["inbound_nodes"], input_name, previous)
        if _single(config["output_layers"])[0] == input_name:
            config["output_layers"] = [[previous, 0, 0]]


def _functional_ending(config: dict, add_softmax: bool) -> None:
    layers = config["layers"]
    by_name = {layer["name"]: layer for layer in layers}
    output = by_name[_single(config["output_layers"])[0]]
    feeding = _feeding_layer(output)
    if not add_softmax and _is_softmax(output) and feeding in by_name and _is_linear_dense(by_name[feeding]) \
            and _used_once(feeding, layers):
        layers.remove(output)  # the softmax goes into the Dense layer before it
        _set_softmax(by_name[feeding])
        config["output_layers"] = [[feeding, 0, 0]]
    elif add_softmax and _is_linear_dense(output) and _used_once(output["name"], layers, output_too=True):
        _set_softmax(output)
    elif add_softmax:
        name = _unused_name(_SOFTMAX_NAME, layers)
        softmax = _layer_config("Activation", name, activation="softmax")
        softmax.update(name=name, inbound_nodes=[_node(output["name"], shape=[None, CLASS_COUNT])])
        layers.append(softmax)
        config["output_layers"] = [[name, 0, 0]]


def _single(entries: list) -> list:
    """The one ``[layer name, node, tensor]`` of a functional configuration's inputs or outputs (written as that
    triple or as a list of one; :func:`check_shapes` has made sure there is one)."""
    return entries if entries and isinstance(entries[0], str) else entries[0]


def _node(layer_name: str, shape: list | None = None) -> dict:
    """An inbound node that takes the first output of ``layer_name``."""
    shape = shape or [None, *PICTURE_SHAPE]
    return {"args": [{"class_name": "__keras_tensor__",
                      "config": {"shape": shape, "dtype": "float32", "keras_history": [layer_name, 0, 0]}}],
            "kwargs": {}}


def _histories(value):
    """Each tensor's ``keras_history`` (``[layer name, node, tensor]``, a list that can be changed in place) in
    ``value``: a layer's inbound nodes, as a configuration writes them."""
    if isinstance(value, dict):
        history = value.get("keras_history")
        if isinstance(history, list) and history:
            yield history
        for item in value.values():
            yield from _histories(item)
    elif isinstance(value, list):
        for item in value:
            yield from _histories(item)


def _rename_history(value, old: str, new: str) -> None:
    """Point every tensor in ``value`` (a layer's inbound nodes) that comes from ``old`` at ``new`` instead."""
    for history in _histories(value):
        if history[0] == old:
            history[0] = new


def _read_layers(layer: dict) -> list[str]:
    """The names of the layers whose outputs ``layer`` reads, once for each tensor it reads."""
    return [history[0] for history in _histories(layer.get("inbound_nodes", []))]


def _feeding_layer(layer: dict) -> str | None:
    """The name of the layer whose output ``layer`` reads, when it reads one tensor."""
    read = _read_layers(layer)
    return read[0] if len(read) == 1 else None


def _used_once(name: str, layers: list[dict], output_too: bool = False) -> bool:
    """Whether the output of the layer ``name`` is read by one layer at most (none, with ``output_too``): a Dense
    layer whose logits another layer also reads keeps giving logits."""
    readers = sum(_read_layers(layer).count(name) for layer in layers)
    return readers <= (0 if output_too else 1)


# --- Layers --------------------------------------------------------------------------------------------

def _is_softmax(layer: dict) -> bool:
    settings = layer["config"]
    return layer["class_name"] == "Softmax" and settings.get("axis", -1) in (-1, [-1]) or (
        layer["class_name"] == "Activation" and settings.get("activation") == "softmax")


def _is_linear_dense(layer: dict) -> bool:
    return layer["class_name"] == "Dense" and layer["config"].get("activation") in ("linear", None) \
        and layer["config"].get("units") == CLASS_COUNT


def _set_softmax(layer: dict) -> None:
    layer["config"]["activation"] = "softmax"


def _unused_name(name: str, layers: list[dict]) -> str:
    """``name``, or ``name_2``, ``name_3``… where a layer of the network already has it."""
    taken = {layer["config"].get("name") for layer in layers} | {layer.get("name") for layer in layers}
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}_{number}"
    return candidate
