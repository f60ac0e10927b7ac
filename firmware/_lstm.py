"""UNIDIRECTIONAL_SEQUENCE_LSTM, fully integer (int8 activations and weights, int16 cell state), as
the reference interpreter's integer kernel (lstm_eval's EvalInteger8x8_16) computes it, lowered to
``nn_lstm`` (firmware/kernels/lstm.c).

Everything the interpreter's Prepare computes is computed here: the effective scales of the eight
gate matrix products (weight scale x input or output-state scale / the Q3.12 gate scale, in float32,
as QuantizeMultiplier's multiplier and shift), the hidden state's (2^-15 x 2^-15 / its intermediate
scale), the quantised cell clip, and the effective biases (gate bias + weight row sums x -input
zero point; row sums x -output-state zero point for the recurrent products; the gate bias is
added after layer normalisation instead), the peephole and projection scales and the layer
normalisation's. CIFG, peephole weights, projection (with or without bias) and layer normalisation
are supported, batch-major or time-major, any batch; float and hybrid LSTMs are refused. The kernel does the integer
arithmetic of each time step. The states start from the interpreter's reset values (the
output state at its zero point, the cell state at 0) on every run of the model.
"""

from __future__ import annotations

import numpy as np

from ._layer import Layer, LayerCode, c_array, c_struct
from .reference import quantize_multiplier

OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"
GATES = ("input", "forget", "cell", "output")
#: operator input slots (TFLite's lstm_shared.h)
INPUT_WEIGHTS, RECURRENT_WEIGHTS, PEEPHOLE, BIASES = (1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11), (12, 13, 14, 15)
PROJECTION, OUTPUT_STATE, CELL_STATE, LAYER_NORM = (16, 17), 18, 19, (20, 21, 22, 23)
GATE_SCALE = 2.0 ** -12  #: the gates' Q3.12 (the intermediates' scale without layer normalisation)
_TANH = 4  #: ActivationFunctionType.TANH


def _slot(op, tensors, k):
    return tensors[op.inputs[k]] if k < len(op.inputs) and op.inputs[k] >= 0 else None


def check(op, tensors, fail) -> None:
    """What the integer kernel takes, refusing float, hybrid and the features it does not implement."""
    if len(op.inputs) not in (20, 24):
        fail(f"{len(op.inputs)} inputs; the LSTM takes 20 or 24")
    x, w = tensors[op.inputs[0]] if op.inputs[0] >= 0 else None, _slot(op, tensors, INPUT_WEIGHTS[1])
    if x is None or w is None:
        fail("the input or the input-to-forget weights are absent")
    if x.dtype is np.float32:
        fail(("a hybrid LSTM (float32 activations, int8 weights)" if w.dtype is np.int8 else "a float LSTM") +
             "; only the fully integer LSTM (int8 activations and weights, int16 cell state) is supported")
    o = op.options
    if o["cell_activation"] != _TANH:
        fail(f"cell activation {o['cell_activation']}; the integer kernel computes tanh (4)")
    if o["diagonal_recurrent"]:
        fail("diagonal recurrent weights are not supported")
    if len(x.shape) != 3:
        fail(f"input shape {list(x.shape)}; it takes [batch, time, features] (or [time, batch, features])")
    batch = x.shape[1] if o["time_major"] else x.shape[0]
    cifg = _slot(op, tensors, INPUT_WEIGHTS[0]) is None
    if cifg != (_slot(op, tensors, RECURRENT_WEIGHTS[0]) is None) or cifg != (_slot(op, tensors, BIASES[0]) is None):
        fail("the input gate's weights and bias must all be present or all absent (CIFG)")
    n_input = x.shape[2]
    n_cell = w.shape[0] if len(w.shape) == 2 else 0
    rec = _slot(op, tensors, RECURRENT_WEIGHTS[1])
    n_output = rec.shape[1] if rec is not None and len(rec.shape) == 2 else 0
    for gate in range(1 if cifg else 0, 4):
        for k, cols in ((INPUT_WEIGHTS[gate], n_input), (RECURRENT_WEIGHTS[gate], n_output)):
            t = _slot(op, tensors, k)
            if t is None or t.dtype is not np.int8 or t.data is None or t.shape != (n_cell, cols) or \
                    t.scale.size != 1 or not t.scale[0] > 0 or np.any(t.zero_point != 0):
                fail(f"{GATES[gate]} gate weights (input {k}) are not constant symmetric per-tensor int8 of shape "
                     f"[{n_cell}, {cols}]")
        b = _slot(op, tensors, BIASES[gate])
        if b is None or b.dtype is not np.int32 or b.data is None or b.shape != (n_cell,):
            fail(f"{GATES[gate]} gate bias is not a constant int32 tensor of {n_cell} values")
    _check_vectors(op, tensors, PEEPHOLE, ("input", "forget", "output"), "peephole weights", cifg, n_cell, fail)
    norms = _check_vectors(op, tensors, LAYER_NORM, GATES, "layer normalisation coefficients", cifg, n_cell, fail)
    if any(t is not None for t in norms) and \
            any(not tensors[k].scale.size or not tensors[k].scale[0] > 0 for k in op.intermediates[:4]):
        fail("layer normalisation without the gates' intermediate scales")
    projection, projection_bias = (_slot(op, tensors, k) for k in PROJECTION)
    if projection is None and projection_bias is not None:
        fail("a projection bias without projection weights")
    if projection is not None and (projection.dtype is not np.int8 or projection.data is None or
                                   projection.shape != (n_output, n_cell) or projection.scale.size != 1 or
                                   not projection.scale[0] > 0 or np.any(projection.zero_point != 0)):
        fail(f"projection weights are not constant symmetric per-tensor int8 of shape [{n_output}, {n_cell}]")
    if projection is None and n_output != n_cell:
        fail(f"{n_output} output units for {n_cell} cells without a projection")
    if projection_bias is not None and (projection_bias.dtype is not np.int32 or projection_bias.data is None or
                                        projection_bias.shape != (n_output,)):
        fail(f"the projection bias is not a constant int32 tensor of {n_output} values")
    state, cell = _slot(op, tensors, OUTPUT_STATE), _slot(op, tensors, CELL_STATE)
    if state is None or state.dtype is not np.int8 or state.data is not None or state.scale.size != 1 or \
            int(np.prod(state.shape)) != batch * n_output or not state.scale[0] > 0:
        fail(f"the output state is not a quantised int8 variable tensor of {batch} x {n_output} values")
    if cell is None or cell.dtype is not np.int16 or cell.data is not None or \
            int(np.prod(cell.shape)) != batch * n_cell:
        fail(f"the cell state is not an int16 variable tensor of {batch} x {n_cell} values")
    exponent = np.log2(float(np.float32(cell.scale[0]))) if cell.scale.size == 1 and cell.scale[0] > 0 else 0.5
    if exponent != round(exponent) or not -15 <= exponent <= -9:
        shown = f"{float(np.float32(cell.scale[0])):g}" if cell.scale.size else "absent"
        fail(f"cell state scale {shown}; the integer kernel takes a power of two 2^-15 .. 2^-9")
    if len(op.intermediates) != 5:
        fail(f"{len(op.intermediates)} intermediate tensors; the integer LSTM has 5 (the gate and hidden scales)")
    hidden = tensors[op.intermediates[4]]
    if hidden.scale.size != 1 or not hidden.scale[0] > 0 or hidden.zero_point.size != 1:
        fail("the hidden-state intermediate has no scale and zero point")
    y = tensors[op.outputs[0]]
    if len(y.shape) != 3 or y.shape[:2] != x.shape[:2] or y.shape[2] != n_output:
        fail(f"output shape {list(y.shape)}; the input's {list(x.shape[:2])} steps by {n_output} units")


def _check_vectors(op, tensors, slots, gates, what: str, cifg: bool, n_cell: int, fail) -> list:
    """Per-gate int16 vectors (peephole weights, layer normalisation coefficients): none, or one
    for each gate there is (no input gate's with CIFG). The tensors by slot."""
    vectors = [_slot(op, tensors, k) for k in slots]
    if all(t is None for t in vectors):
        return vectors
    for gate, t in zip(gates, vectors):
        if gate == "input" and cifg:
            if t is not None:
                fail(f"input gate {what} without an input gate (CIFG)")
        elif t is None or t.dtype is not np.int16 or t.data is None or t.shape != (n_cell,) or \
                t.scale.size != 1 or not t.scale[0] > 0:
            fail(f"{gate} gate {what} are not constant quantised int16 of {n_cell} values (one per gate, or none)")
    return vectors


def describe(model, op) -> dict:
    """The reference Prepare's numbers (PopulateQuantizedLstmParams8x8_16 and the precomputed zero
    point row sums): scalars for the parameter block, and per gate its matrices' effective biases."""
    t = model.tensors
    x, state, cell = t[op.inputs[0]], _slot(op, t, OUTPUT_STATE), _slot(op, t, CELL_STATE)
    hidden = t[op.intermediates[4]]
    f32 = np.float32
    sx, ss = f32(x.scale[0]), f32(state.scale[0])
    norms = [_slot(op, t, k) for k in LAYER_NORM]
    layer_norm = any(n is not None for n in norms)
    gates = []
    for gate in range(4):
        w_in, w_rec = _slot(op, t, INPUT_WEIGHTS[gate]), _slot(op, t, RECURRENT_WEIGHTS[gate])
        if w_in is None:  # CIFG: the input gate is 1 - forget
            gates.append(None)
            continue
        entry = {}
        gate_bias = _slot(op, t, BIASES[gate]).data
        # with layer normalisation the products are requantised to the gate's intermediate scale and
        # the gate bias is added after the normalisation
        gate_scale = f32(t[op.intermediates[gate]].scale[0]) if layer_norm else f32(GATE_SCALE)
        if layer_norm:
            coefficients = norms[gate]
            scale = f32(coefficients.scale[0])
            entry["ln_weights"], entry["ln_bias"] = coefficients.data, gate_bias
            entry["ln_multiplier"], entry["ln_shift"] = quantize_multiplier(float(scale))
            entry["ln_guard"] = max(1, int(f32(10000) * scale))
        peephole = _slot(op, t, PEEPHOLE[(0, 1, None, 2)[gate]]) if gate != 2 else None
        if peephole is not None:  # Prepare: 2^cell exponent (double) x weight scale / gate scale, stored as float
            cell_exponent = int(round(np.log2(float(f32(cell.scale[0])))))
            effective = f32(2.0 ** cell_exponent * float(f32(peephole.scale[0])) / float(gate_scale))
            entry["peephole"] = peephole.data
            entry["peephole_multiplier"], entry["peephole_shift"] = quantize_multiplier(float(effective))
        for tag, w, scale, zp, bias in (("in", w_in, sx, int(x.zero_point[0]), None if layer_norm else gate_bias),
                                        ("rec", w_rec, ss, int(state.zero_point[0]), None)):
            effective = f32(f32(w.scale[0]) * scale) / gate_scale  # float32, as Prepare's floats
            entry[f"{tag}_multiplier"], entry[f"{tag}_shift"] = quantize_multiplier(float(effective))
            rows = w.data.astype(np.int64).sum(axis=1) * -zp + (0 if bias is None else bias.astype(np.int64))
            entry[f"{tag}_bias"] = _wrap32(rows)
            entry[f"{tag}_weights"] = w.data
        gates.append(entry)
    cell_exponent = int(round(np.log2(float(f32(cell.scale[0])))))
    hidden_scale = float(f32(2.0 ** -15 / float(f32(hidden.scale[0])) * 2.0 ** -15))  # double, stored as float
    hm, hs = quantize_multiplier(hidden_scale)
    clip = float(op.options["cell_clip"])
    quantized_clip = int(min(max(f32(clip) / f32(cell.scale[0]), -32768.0), 32767.0)) if clip > 0 else 0
    time_major = bool(op.options["time_major"])
    steps, batches = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_input, n_output = x.shape[2], t[op.outputs[0]].shape[2]
    layout = {f"{side}_{what}": n * (value if (what == "step") == time_major else 1)
              for side, n in (("in", n_input), ("out", n_output))
              for what, value in (("step", batches), ("batch", steps))}
    projection, projection_bias = (_slot(op, t, k) for k in PROJECTION)
    project = {}
    if projection is not None:  # Prepare's float32 scale; the row sums with the hidden zero point
        effective = f32(f32(projection.scale[0]) * f32(hidden.scale[0])) / ss
        project["proj_multiplier"], project["proj_shift"] = quantize_multiplier(float(effective))
        rows = projection.data.astype(np.int64).sum(axis=1) * -int(hidden.zero_point[0])
        project["proj_bias"] = _wrap32(rows + (0 if projection_bias is None else projection_bias.data))
        project["proj_weights"] = projection.data
        proj_clip = float(op.options["proj_clip"])
        y = t[op.outputs[0]]
        project["proj_clip"] = int(min(max(f32(proj_clip) / f32(y.scale[0]), -128.0), 127.0)) if proj_clip > 0 else 0
    return dict(gates=gates, projection=project, batches=batches, steps=steps, **layout, n_input=n_input,
                n_cell=t[op.inputs[INPUT_WEIGHTS[1]]].shape[0], n_output=n_output, cell_exponent=cell_exponent,
                hidden_multiplier=hm, hidden_shift=hs, hidden_zp=int(hidden.zero_point[0]), cell_clip=quantized_clip,
                state_zp=int(state.zero_point[0]))


def _wrap32(v: np.ndarray) -> np.ndarray:
    return ((np.asarray(v, np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int64)


def cpu_code(layer: Layer) -> LayerCode:
    """nn_lstm with one parameter block: per gate (input, forget, cell, output) its two weight
    matrices, effective biases and requantisation, its peephole and layer normalisation (0 without); the
    input gate's entries 0 for CIFG; the projection's (weights 0 without one)."""
    p, name = layer.params, layer.name
    consts, fields = [], {}
    arrays = {"in_weights": [], "rec_weights": [], "in_bias": [], "rec_bias": [], "ln_weights": [], "ln_bias": [],
              "peephole": []}
    scalars = {"in_multiplier": [], "in_shift": [], "rec_multiplier": [], "rec_shift": [], "ln_multiplier": [],
               "ln_shift": [], "ln_guard": [], "peephole_multiplier": [], "peephole_shift": []}
    ctypes = {"in_weights": "int8_t", "rec_weights": "int8_t", "ln_weights": "int16_t", "peephole": "int16_t"}
    for gate, entry in zip(GATES, p["gates"]):
        for key in arrays:
            if entry is None or key not in entry:
                arrays[key].append("0")
                continue
            ctype = ctypes.get(key, "int32_t")
            consts.append(c_array(ctype, f"{name}_{gate}_{key}", entry[key]))
            arrays[key].append(f"{name}_{gate}_{key}")
        for key in scalars:
            scalars[key].append(0 if entry is None else entry.get(key, 0))
    fields.update({k: "{" + ", ".join(map(str, v)) + "}" for k, v in {**arrays, **scalars}.items()})
    project = p["projection"]
    for key, ctype in (("proj_weights", "int8_t"), ("proj_bias", "int32_t")):
        if project:
            consts.append(c_array(ctype, f"{name}_{key}", project[key]))
        fields[key] = f"{name}_{key}" if project else 0
    fields.update({key: project.get(key, 0) for key in ("proj_multiplier", "proj_shift", "proj_clip")})
    state, cell = layer.params["state_address"], layer.params["cell_address"]
    n_cell = p["n_cell"]
    fields.update(output_state=f"(int8_t *)({state})", cell_state=f"(int16_t *)(void *)({cell})",
                  scratch="(int16_t *)(void *)nn_scratch",
                  **{k: p[k] for k in ("batches", "steps", "in_step", "in_batch", "out_step", "out_batch")},
                  n_input=p["n_input"], n_cell=n_cell,
                  n_output=p["n_output"], cell_exponent=p["cell_exponent"], hidden_multiplier=p["hidden_multiplier"],
                  hidden_shift=p["hidden_shift"], hidden_zp=p["hidden_zp"], cell_clip=p["cell_clip"],
                  state_zp=p["state_zp"])
    consts.append(c_struct("nn_lstm_params", f"{name}_params", fields))
    x, y = layer.inputs[0], layer.outputs[0]
    scratch = 2 * 4 * n_cell + (n_cell if project else 0)
    return LayerCode(tuple(consts), f"    nn_lstm(&{name}_params, {x.address}, {y.address});\n", scratch)


def macs(model, op) -> int:
    """Multiply-accumulates of the gate matrix products (and the projection's) over the sequence."""
    t = model.tensors
    x = t[op.inputs[0]]
    sequences = x.shape[0] * x.shape[1]  # steps x batches
    gates = [g for g in range(4) if _slot(op, t, INPUT_WEIGHTS[g]) is not None]
    n_cell, n_output = t[op.inputs[INPUT_WEIGHTS[1]]].shape[0], t[op.outputs[0]].shape[2]
    projection = _slot(op, t, PROJECTION[0])
    return sequences * (len(gates) * n_cell * (x.shape[2] + n_output) + (projection.data.size if projection else 0))
