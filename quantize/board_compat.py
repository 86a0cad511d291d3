"""Quantization choices the board's older TFLM needs, and a check for models made elsewhere.

The Nano 33 BLE runs TFLM of 2023-01 (the Chirale_TensorFLowLite library). Two of its kernels compute
some models differently from the host's TFLM (2026) and LiteRT, found by running single ops of real
models both ways under emulation:

- FULLY_CONNECTED with per-channel weight scales: the 2023 kernel (reference and CMSIS-NN) takes the
  first channel's scale for every output channel (micro_allocator.cpp keeps `scale[0]` only). TF's
  converter quantizes Dense layers per channel by default; `tinyml quantize` asks for per tensor.
- MEAN (int8 or int16) whose output is quantized differently from its input: the 2023 kernel
  computes it in float (`TfLiteRound(sum / n * scale + bias)`, reference/reduce.h), the host in
  integers, and they differ by 1 LSB on some inputs. AVERAGE_POOL_2D over the same axes is exact on
  both, which is why tinyml's gesture model averages with it.
- LSTM, below.

Its int8 LSTM kernel
(lstm_eval.cpp, CalculateLstmOutputInteger8x8_16) handles an int16 cell-state scale finer than 2^-12
by shifting the cell state itself right, in place, at every time step, so the state the next step
reads is too small and the outputs drift from the host's (newer TFLM and LiteRT, which shift a copy).
The TF converter picks the cell-state scale as the power of two that covers the calibrated range,
often 2^-14 or 2^-15. At 2^-12 or coarser the branch is never taken and both libraries compute the
same bytes (measured under emulation: tests/test_tflm_board.py). No other tensor's quantization
depends on that scale in an LSTM without peepholes, layer norm or projection, so raising it is the
model the converter would write for a calibrated cell range of up to 8.
"""

from __future__ import annotations

import math
import struct

LSTM_CELL_STATE_INPUT = 19  # UNIDIRECTIONAL_SEQUENCE_LSTM's int16 cell-state (variable) input
BOARD_MIN_CELL_SCALE_LOG2 = -12


def _cells(raw: bytes):
    """(tensor name, scale, flatbuffer offset of the scale's float) for every LSTM cell state."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    model = s.Model.GetRootAs(raw, 0)
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            code = model.OperatorCodes(op.OpcodeIndex())
            if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) != s.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM:
                continue
            if op.InputsLength() <= LSTM_CELL_STATE_INPUT or op.Inputs(LSTM_CELL_STATE_INPUT) < 0:
                continue
            tensor = graph.Tensors(op.Inputs(LSTM_CELL_STATE_INPUT))
            q = tensor.Quantization()
            if tensor.Type() != s.TensorType.INT16 or q is None or q.ScaleLength() != 1:
                continue  # a float or hybrid LSTM: no integer cell state
            tab = q._tab  # QuantizationParameters.scale: field 2, vtable offset 8 (as the schema's Scale() reads it)
            yield tensor.Name().decode(errors="replace"), q.Scale(0), tab.Vector(tab.Offset(8))


def lstm_cells_too_fine(raw: bytes) -> list[tuple[str, float]]:
    """The LSTM cell states whose scale the board's LSTM kernel mishandles (finer than 2^-12)."""
    return [(name, scale) for name, scale, _ in _cells(raw) if scale < 2.0 ** BOARD_MIN_CELL_SCALE_LOG2]


def per_channel_dense(info) -> list[str]:
    """FULLY_CONNECTED ops whose weights have more than one scale (the board uses only the first)."""
    names = []
    for op in info.operators:
        if op.op == "FULLY_CONNECTED" and len(op.inputs) > 1 and op.inputs[1] >= 0:
            weights = info.tensors[op.inputs[1]]
            if len(weights.scales) > 1 and len(set(weights.scales)) > 1:
                names.append(weights.name)
    return names


def _requantizes(info, op) -> bool:
    inp, out = info.tensors[op.inputs[0]], info.tensors[op.outputs[0]]
    return inp.dtype in ("INT8", "INT16") and (inp.scales[:1], inp.zero_points[:1]) != (out.scales[:1],
                                                                                      out.zero_points[:1])


def board_defects(info) -> list[str]:
    """What the board's TFLM (2023-01) will compute differently from the host for this model, one
    sentence each with the remedy; empty when nothing known applies."""
    found = []
    dense = per_channel_dense(info)
    if dense:
        found.append(f"FULLY_CONNECTED weights '{dense[0]}'{f' (and {len(dense) - 1} more)' if len(dense) > 1 else ''}"
                     " are quantized per channel, and this library applies the first channel's scale to every "
                     "output; quantize Dense layers per tensor (`tinyml quantize` does)")
    means = [info.tensors[op.outputs[0]].name for op in info.operators if op.op == "MEAN" and _requantizes(info, op)]
    if means:
        found.append(f"MEAN '{means[0]}' requantizes its output, which this library does in float (1 LSB off "
                     "on some inputs); average with AVERAGE_POOL_2D (Keras AveragePooling2D) instead")
    cells = lstm_cells_too_fine(info.raw)
    if cells:
        found.append(f"LSTM cell state '{cells[0][0]}' has scale 2^{round(math.log2(cells[0][1]))}, which this "
                     "library's LSTM kernel mishandles below 2^-12 (it shifts the state in place); `tinyml quantize` "
                     "writes LSTMs at 2^-12")
    return found


def board_safe_lstm(raw: bytes) -> tuple[bytes, list[str]]:
    """`raw` with every LSTM cell-state scale finer than 2^-12 set to 2^-12 (4 bytes each, patched in
    place: same size and layout). Returns the model and the names of the tensors changed."""
    data, changed = bytearray(raw), []
    for name, scale, offset in _cells(raw):
        if scale < 2.0 ** BOARD_MIN_CELL_SCALE_LOG2 and math.log2(scale) == round(math.log2(scale)):
            struct.pack_into("<f", data, offset, 2.0 ** BOARD_MIN_CELL_SCALE_LOG2)
            changed.append(name)
    return bytes(data), changed
