"""The seam between the model compiler and an accelerator: what the compiler tells a unit about
one layer, what the unit answers, and what it adds to every firmware compiled for it.

For each operator the compiler builds a ``Layer`` and asks the attached accelerators in order
(``Accelerator.compile_layer``): the first that answers with ``LayerCode`` runs the layer; one
that answers with a string refuses it for that reason (the layer then runs on the CPU and the
per-layer report says ``cpu: <unit>: <reason>``); None means the operator is not one it handles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: A compiled model's layer function, ``layer_<index>_<op>`` (``layer_function``): what the per-layer profile and the
#: timeline's layer track look for.
LAYER_FUNCTION = re.compile(r"layer_(\d+)_([a-z0-9_]+)")


def layer_function(index: int, op: str) -> str:
    """The name of the function that runs operator ``index`` (``op``, e.g. CONV_2D) in a compiled model."""
    return f"layer_{index}_{op.lower()}"


@dataclass(frozen=True)
class LayerTensor:
    """One input or output of a layer."""

    shape: tuple[int, ...]
    dtype: str                 #: numpy dtype name: int8 (activations, weights), int32 (biases); int16x8: int16, int64
    scale: np.ndarray          #: quantisation: one value per tensor, or one per channel
    zero_point: np.ndarray
    data: np.ndarray | None    #: the values of a constant tensor (weights, bias); None for activations
    address: str | None        #: C expression of an activation's address in the arena; None for constants

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Layer:
    """One operator of the model as the compiler sees it, its numbers already computed.

    ``params`` are the fields of the CPU kernel's parameter block (``firmware/include/simmcu_nn.h``)
    without its pointers: CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (a 1x1 convolution over
    ``batches`` pixels: ``in_w`` = batches, ``in_c`` = depth) give ``nn_conv_params``'s shapes,
    strides, dilations, TFLite's padding, ``taps`` (kh x kw x in_c; depthwise kh x kw),
    ``single_rounding`` (1 for FULLY_CONNECTED), ``in_offset`` (-input zero point), ``out_zp`` and
    the fused activation's ``act_min``/``act_max``; the pools ``nn_pool_params``; ADD
    ``nn_add_params`` (rescaling multipliers and shifts); SOFTMAX ``nn_softmax_params``; RESHAPE and the
    operators ``firmware/_ops.py`` lowers (elementwise, data movement, MEAN) none: their code is derived
    from the tensors and options. UNIDIRECTIONAL_SEQUENCE_LSTM gives what the interpreter's Prepare
    computes (``firmware/_lstm.describe``: per gate its weights, effective biases and multipliers, as
    arrays, and the scalars of ``nn_lstm_params``) and its state tensors' arena addresses.
    ``multiplier`` and ``shift`` are the per-output-channel requantisation of the convolutions
    (TFLite convention: a positive shift is to the left).
    """

    index: int
    op: str                              #: TFLite builtin operator name, e.g. CONV_2D
    name: str                            #: its C function, layer_<index>_<op>; prefix constants with it
    inputs: tuple[LayerTensor, ...]      #: in the operator's order; an absent optional input (bias) is left out
    outputs: tuple[LayerTensor, ...]
    options: dict[str, Any]              #: the operator's options (stride_h, activation, ...)
    params: dict[str, int]
    multiplier: tuple[int, ...] = ()
    shift: tuple[int, ...] = ()


@dataclass(frozen=True)
class LayerCode:
    """An accelerator's code for one layer, placed in the generated model.c."""

    consts: tuple[str, ...] = ()   #: C definitions at file scope (``c_array``, ``c_struct``)
    body: str = ""                 #: C statements of the layer function, each line indented, ending in a newline
    scratch: int = 0               #: bytes of the shared, 4-byte aligned ``nn_scratch`` buffer it uses


@dataclass(frozen=True)
class FirmwareSupport:
    """What an accelerator adds to every model firmware compiled for it."""

    sources: tuple[Path, ...] = ()                        #: .c and .h files compiled in beside the kernels
    defines: dict[str, str] = field(default_factory=dict)  #: preprocessor definitions for every source


def c_array(ctype: str, name: str, values) -> str:
    """A word-aligned constant C array (it lands in flash) of ``values`` (flattened)."""
    vals = [int(v) for v in np.asarray(values).ravel()]
    rows = [", ".join(map(str, vals[i:i + 24])) for i in range(0, len(vals), 24)]
    return f"static const {ctype} {name}[{len(vals)}] __attribute__((aligned(4))) = {{\n    " + \
        ",\n    ".join(rows) + "\n};\n"


def c_struct(ctype: str, name: str, fields: dict) -> str:
    """A constant C struct with designated initialisers, in ``fields`` order."""
    body = ", ".join(f".{k} = {v}" for k, v in fields.items())
    return f"static const {ctype} {name} = {{{body}}};\n"
