"""Lowering: each TFLite op -> one call of a kernel in firmware/aot/tinyml_kernels.c.

For every op this computes, in Python, the integers TFLM's Prepare would
compute (multipliers, shifts, offsets, activation bounds, padding) and returns
them as a C initializer. The kernels do only the per-inference arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyml.codegen.aot import quant
from tinyml.errors import expected
from tinyml.quantize.flatbuffer import ModelInfo, Operator, Tensor

# Ops that only reinterpret the shape: the output aliases the input's bytes.
RESHAPES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "SOFTMAX",
             "ADD", "MUL", "MEAN", "LOGISTIC", "TANH", "PAD", "CONCATENATION", "QUANTIZE", "DEQUANTIZE") + RESHAPES


@dataclass
class Array:
    """A constant array the generated C defines once."""
    name: str
    ctype: str
    values: np.ndarray


@dataclass
class Call:
    """One kernel call in tinyml_invoke()."""
    comment: str
    function: str
    params_type: str | None  # the params struct, or None for kernels taking plain arguments
    params: dict  # field -> C initializer text
    args: list  # ("in", tensor) / ("out", tensor) / ("text", "...")
    arrays: list[Array] = field(default_factory=list)
    in_place: tuple[int, int] | None = None  # (input tensor, output tensor) that may share bytes


class Unsupported(Exception):
    pass


def _shape4(shape: tuple[int, ...]) -> list[int]:
    if len(shape) > 4:
        raise Unsupported(f"a {len(shape)}-D tensor")
    return [1] * (4 - len(shape)) + list(shape)


def _c_shape(shape) -> str:
    n, h, w, c = _shape4(tuple(shape))
    return f"{{{n}, {h}, {w}, {c}}}"


def _require_int8(op: Operator, *tensors: Tensor) -> None:
    for t in tensors:
        if t.dtype != "INT8":
            raise Unsupported(f"{op.op} on {t.dtype.lower()} tensors")


def _scale(t: Tensor) -> float:
    if not t.scales:
        raise Unsupported(f"tensor '{t.name}' without quantization")
    return t.scales[0]


def _zp(t: Tensor) -> int:
    return t.zero_points[0] if t.zero_points else 0


def _act(op: Operator, out: Tensor) -> tuple[int, int]:
    act = op.options.get("fusedActivationFunction", 0)
    try:
        return quant.activation_range(act, _scale(out), _zp(out))
    except ValueError:
        raise Unsupported(f"{op.op} with fused activation {act}") from None


def _weights(k: int, flt: Tensor, bias: Tensor | None, pairs: list[tuple[int, int]],
             channel_axis: int = 0) -> tuple[list, dict]:
    """The constant arrays of a weighted op and the parameter fields that point at them."""
    w = flt.array().astype(np.int64)
    sums = w.sum(axis=tuple(a for a in range(w.ndim) if a != channel_axis))
    arrays = [Array(f"op{k}_filter", "int8_t", flt.array()),
              Array(f"op{k}_filter_sum", "int32_t", sums.astype(np.int32)),
              Array(f"op{k}_mult", "int32_t", np.array([p[0] for p in pairs])),
              Array(f"op{k}_shift", "int32_t", np.array([p[1] for p in pairs]))]
    if bias is not None:
        if bias.dtype != "INT32":
            raise Unsupported(f"{bias.dtype.lower()} bias")
        arrays.append(Array(f"op{k}_bias", "int32_t", bias.array()))
    refs = {"filter": f"op{k}_filter", "bias": f"op{k}_bias" if bias is not None else "NULL",
            "mult": f"op{k}_mult", "shift": f"op{k}_shift", "filter_sum": f"op{k}_filter_sum"}
    return arrays, refs


def _conv(model: ModelInfo, op: Operator, k: int, depthwise: bool) -> Call:
    t = model.tensors
    inp, flt, out = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    bias = t[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    _require_int8(op, inp, flt, out)
    n, h, w, c = _shape4(inp.shape)
    o = op.options
    if depthwise:
        _, kh, kw, oc = flt.shape
        mult = oc // c
    else:
        oc, kh, kw, ic = flt.shape
        if ic != c:
            raise Unsupported("grouped CONV_2D")
        mult = 1
    dil_h, dil_w = o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)
    out_h, pad_h = quant.padding(o["padding"], h, kh, o["strideH"], dil_h)
    out_w, pad_w = quant.padding(o["padding"], w, kw, o["strideW"], dil_w)
    if [n, out_h, out_w, oc] != _shape4(out.shape):
        raise Unsupported(f"{op.op} whose output shape {list(out.shape)} disagrees with its options")
    in_s, out_s = _scale(inp), _scale(out)
    scales = flt.scales if len(flt.scales) > 1 else flt.scales * oc
    pairs = [quant.quantize_multiplier(in_s * s / out_s) for s in scales]  # all double, as TFLM
    act_min, act_max = _act(op, out)
    arrays, refs = _weights(k, flt, bias, pairs, channel_axis=3 if depthwise else 0)
    params = {
        "in": _c_shape(inp.shape), "out": _c_shape(out.shape), "kh": kh, "kw": kw,
        "stride_h": o["strideH"], "stride_w": o["strideW"], "dil_h": dil_h, "dil_w": dil_w,
        "pad_h": pad_h, "pad_w": pad_w, "depth_multiplier": mult,
        "input_offset": -_zp(inp), "output_offset": _zp(out), "act_min": act_min, "act_max": act_max,
        **refs,
    }
    fn = "tm_depthwise_conv2d_s8" if depthwise else "tm_conv2d_s8"
    return Call(op.op, fn, "tm_conv_params", params, [("in", inp.index), ("out", out.index)], arrays)


def _fully_connected(model: ModelInfo, op: Operator, k: int) -> Call:
    t = model.tensors
    inp, flt, out = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    bias = t[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    _require_int8(op, inp, flt, out)
    if op.options.get("weightsFormat", 0) != 0:
        raise Unsupported("FULLY_CONNECTED with shuffled weights")
    units, depth = flt.shape
    in_s, out_s = _scale(inp), _scale(out)
    per_channel = len(flt.scales) > 1
    if per_channel:  # double products
        pairs = [quant.quantize_multiplier(in_s * s / out_s) for s in flt.scales]
    else:  # GetQuantizedConvolutionMultipler: the product is taken in float first
        pairs = [quant.quantize_multiplier(quant.f32(np.float32(in_s) * np.float32(flt.scales[0])) / out_s)]
    act_min, act_max = _act(op, out)
    arrays, refs = _weights(k, flt, bias, pairs)
    params = {
        "batches": out.elements // units, "in_depth": depth, "out_depth": units,
        "input_offset": -_zp(inp), "filter_offset": 0 if per_channel else -_zp(flt), "output_offset": _zp(out),
        "act_min": act_min, "act_max": act_max, "per_channel": int(per_channel), **refs,
    }
    return Call(op.op, "tm_fully_connected_s8", "tm_fc_params", params,
                [("in", inp.index), ("out", out.index)], arrays)


def _pool(model: ModelInfo, op: Operator, k: int) -> Call:
    inp, out = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
    _require_int8(op, inp, out)
    o = op.options
    _, h, w, _ = _shape4(inp.shape)
    _, pad_h = quant.padding(o["padding"], h, o["filterHeight"], o["strideH"], 1)
    _, pad_w = quant.padding(o["padding"], w, o["filterWidth"], o["strideW"], 1)
    act_min, act_max = _act(op, out)
    params = {"in": _c_shape(inp.shape), "out": _c_shape(out.shape), "kh": o["filterHeight"],
              "kw": o["filterWidth"], "stride_h": o["strideH"], "stride_w": o["strideW"], "pad_h": pad_h,
              "pad_w": pad_w, "act_min": act_min, "act_max": act_max}
    fn = "tm_max_pool_s8" if op.op == "MAX_POOL_2D" else "tm_avg_pool_s8"
    return Call(op.op, fn, "tm_pool_params", params, [("in", inp.index), ("out", out.index)])


def _softmax(model: ModelInfo, op: Operator, k: int) -> Call:
    inp, out = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
    _require_int8(op, inp, out)
    if _zp(out) != -128 or np.float32(_scale(out)) != np.float32(1.0 / 256):
        raise Unsupported("SOFTMAX whose output is not quantized as 1/256, -128")
    beta = quant.f32(op.options.get("beta", 1.0))
    real = min(beta * _scale(inp) * (1 << (31 - 5)), (1 << 31) - 1.0)
    mult, shift = quant.quantize_multiplier(real)
    depth = inp.shape[-1]
    params = {"rows": inp.elements // depth, "depth": depth, "input_multiplier": mult,
              "input_left_shift": shift, "diff_min": -quant.input_radius(5, shift)}
    return Call(op.op, "tm_softmax_s8", "tm_softmax_params", params, [("in", inp.index), ("out", out.index)])


def _sigmoid(model: ModelInfo, op: Operator, k: int) -> Call:
    import math

    inp, out = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
    _require_int8(op, inp, out)
    q, shift = math.frexp(_scale(inp) * (1 << (31 - 4)))
    params = {"count": inp.elements, "input_zero_point": _zp(inp),
              "input_range_radius": quant.input_radius(4, shift), "input_multiplier": quant.round_half_away(q * (1 << 31)),
              "input_left_shift": shift}
    fn = "tm_logistic_s8" if op.op == "LOGISTIC" else "tm_tanh_s8"
    return Call(op.op, fn, "tm_sigmoid_params", params, [("in", inp.index), ("out", out.index)],
                in_place=(inp.index, out.index))


def _broadcast_strides(shape: tuple[int, ...], out_shape: list[int]) -> str:
    dims = _shape4(shape)
    strides, step = [0] * 4, 1
    for d in range(3, -1, -1):
        strides[d] = 0 if dims[d] == 1 and out_shape[d] > 1 else step
        step *= dims[d]
    return "{" + ", ".join(map(str, strides)) + "}"


def _binary(model: ModelInfo, op: Operator, k: int) -> Call:
    t = model.tensors
    a, b, out = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    _require_int8(op, a, b, out)
    out4 = _shape4(out.shape)
    act_min, act_max = _act(op, out)
    params = {"out": _c_shape(out.shape), "in1_stride": _broadcast_strides(a.shape, out4),
              "in2_stride": _broadcast_strides(b.shape, out4), "input1_offset": -_zp(a),
              "input2_offset": -_zp(b), "output_offset": _zp(out), "act_min": act_min, "act_max": act_max}
    sa, sb, so = _scale(a), _scale(b), _scale(out)
    if op.op == "ADD":
        twice_max = 2.0 * float(max(np.float32(sa), np.float32(sb)))  # max in float, product in double
        m1, s1 = quant.quantize_multiplier(sa / twice_max)
        m2, s2 = quant.quantize_multiplier(sb / twice_max)
        mo, s_o = quant.quantize_multiplier(twice_max / ((1 << 20) * so))
        params.update(left_shift=20, input1_multiplier=m1, input1_shift=s1, input2_multiplier=m2,
                      input2_shift=s2, output_multiplier=mo, output_shift=s_o)
        fn = "tm_add_s8"
    else:
        mo, s_o = quant.quantize_multiplier(sa * sb / so)
        params.update(left_shift=0, input1_multiplier=0, input1_shift=0, input2_multiplier=0, input2_shift=0,
                      output_multiplier=mo, output_shift=s_o)
        fn = "tm_mul_s8"
    in_place = None
    if list(a.shape) == list(out.shape) and not a.constant:
        in_place = (a.index, out.index)
    elif list(b.shape) == list(out.shape) and not b.constant:
        in_place = (b.index, out.index)
    return Call(op.op, fn, "tm_binary_params", params, [("in", a.index), ("in", b.index), ("out", out.index)],
                in_place=in_place)


def _mean(model: ModelInfo, op: Operator, k: int) -> Call:
    t = model.tensors
    inp, axis_t, out = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    _require_int8(op, inp, out)
    if axis_t.data is None:
        raise Unsupported("MEAN over axes computed at run time")
    rank = len(inp.shape)
    axes = sorted({int(a) + rank if a < 0 else int(a) for a in axis_t.array().reshape(-1)})
    pad = 4 - rank
    if pad < 0:
        raise Unsupported(f"MEAN of a {rank}-D tensor")
    reduce = [0] * 4
    for a in axes:
        reduce[a + pad] = 1
    count = int(np.prod([inp.shape[a] for a in axes]))
    in_s, out_s, in_zp, out_zp = _scale(inp), _scale(out), _zp(inp), _zp(out)
    if in_zp == out_zp and np.float32(in_s) == np.float32(out_s):
        mode, mult, shift = 1, 0, 0
    else:  # QuantizedMeanOrSum: fold the division by count into the multiplier
        mode = 0
        m, shift = quant.quantize_multiplier(in_s / out_s)
        s = min(count.bit_length() - 1, 32, 31 + shift)
        mult, shift = (m << s) // count, shift - s
    params = {"in": _c_shape(inp.shape), "reduce": "{" + ", ".join(map(str, reduce)) + "}", "mode": mode,
              "input_zero_point": in_zp, "output_zero_point": out_zp, "multiplier": mult, "shift": shift}
    return Call(op.op, "tm_mean_s8", "tm_mean_params", params, [("in", inp.index), ("out", out.index)])


def _pad(model: ModelInfo, op: Operator, k: int) -> Call:
    t = model.tensors
    inp, pads, out = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    _require_int8(op, inp, out)
    if pads.data is None:
        raise Unsupported("PAD with paddings computed at run time")
    before = [0] * 4
    rank = len(inp.shape)
    for d, (lo, _) in enumerate(pads.array().reshape(rank, 2)):
        before[d + 4 - rank] = int(lo)
    params = {"in": _c_shape(inp.shape), "out": _c_shape(out.shape),
              "before": "{" + ", ".join(map(str, before)) + "}", "value": _zp(out)}
    return Call(op.op, "tm_pad_s8", "tm_pad_params", params, [("in", inp.index), ("out", out.index)])


def _concatenation(model: ModelInfo, op: Operator, k: int) -> Call:
    t = model.tensors
    ins, out = [t[i] for i in op.inputs], t[op.outputs[0]]
    _require_int8(op, *ins, out)
    if op.options.get("fusedActivationFunction", 0) != 0:
        raise Unsupported("CONCATENATION with a fused activation")
    axis = op.options.get("axis", 0)
    axis = axis + len(out.shape) if axis < 0 else axis
    outer = int(np.prod(out.shape[:axis])) if axis else 1
    inner = [int(np.prod(x.shape[axis:])) for x in ins]
    arrays = [Array(f"op{k}_inner", "int32_t", np.array(inner))]
    args = [("text", str(outer)), ("text", str(len(ins))), ("text", f"op{k}_inner"), ("inputs", [x.index for x in ins]),
            ("out", out.index)]
    return Call(op.op, "tm_concatenation", None, {}, args, arrays)


def _quantize(model: ModelInfo, op: Operator, k: int) -> Call:
    inp, out = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
    _require_int8(op, out)
    if inp.dtype == "FLOAT32":
        args = [("text", str(out.elements)), ("text", _c_float(_scale(out))), ("text", str(_zp(out))),
                ("in", inp.index), ("out", out.index)]
        return Call(op.op, "tm_quantize_f32_s8", None, {}, args)
    _require_int8(op, inp)
    mult, shift = quant.quantize_multiplier(_scale(inp) / _scale(out))
    args = [("text", str(out.elements)), ("text", str(_zp(inp))), ("text", str(_zp(out))), ("text", str(mult)),
            ("text", str(shift)), ("in", inp.index), ("out", out.index)]
    return Call(op.op, "tm_requantize_s8", None, {}, args, in_place=(inp.index, out.index))


def _dequantize(model: ModelInfo, op: Operator, k: int) -> Call:
    inp, out = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
    _require_int8(op, inp)
    if out.dtype != "FLOAT32":
        raise Unsupported(f"DEQUANTIZE to {out.dtype.lower()}")
    args = [("text", str(inp.elements)), ("text", repr(_scale(inp))), ("text", str(_zp(inp))), ("in", inp.index),
            ("out", out.index)]
    return Call(op.op, "tm_dequantize_s8_f32", None, {}, args)


def _c_float(x: float) -> str:
    """A float32 constant written so the C compiler reads back the same bits."""
    return f"{np.float32(x).item():.9g}f"


LOWER = {
    "CONV_2D": lambda m, op, k: _conv(m, op, k, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda m, op, k: _conv(m, op, k, depthwise=True),
    "FULLY_CONNECTED": _fully_connected,
    "AVERAGE_POOL_2D": _pool, "MAX_POOL_2D": _pool,
    "SOFTMAX": _softmax,
    "LOGISTIC": _sigmoid, "TANH": _sigmoid,
    "ADD": _binary, "MUL": _binary,
    "MEAN": _mean,
    "PAD": _pad,
    "CONCATENATION": _concatenation,
    "QUANTIZE": _quantize,
    "DEQUANTIZE": _dequantize,
}


def check_model(model: ModelInfo) -> None:
    """Refuse, in one line, what the backend cannot compile."""
    where = f"'{model.path}'"
    if model.subgraphs != 1:
        raise expected("a model with one subgraph", f"{where} with {model.subgraphs}",
                       "Use --backend tflm for models with control flow.")
    missing = [op for op in model.ops if op not in SUPPORTED]
    custom = sorted({op.op for op in model.operators if op.custom})
    if custom:
        raise expected("builtin TFLite ops", f"{where} uses the custom op {', '.join(custom)}",
                       "It was compiled for a specific accelerator or runtime; convert the original model "
                       "without it (TFLM cannot run it either).")
    if missing:
        raise expected(f"ops the AOT backend implements ({', '.join(sorted(SUPPORTED))})",
                       f"{where} uses {', '.join(missing)}", "Use --backend tflm for this model.")
    boundary = {op.inputs[0] for op in model.operators if op.op == "QUANTIZE"} | \
               {op.outputs[0] for op in model.operators if op.op == "DEQUANTIZE"}
    floats = [t.name for t in model.tensors if t.dtype in ("FLOAT32", "FLOAT16") and not t.constant
              and t.index not in boundary]
    const_floats = [t.name for t in model.tensors if t.dtype in ("FLOAT32", "FLOAT16") and t.constant]
    if floats or const_floats:
        raise expected("a full-int8 model (float only at QUANTIZE inputs and DEQUANTIZE outputs)",
                       f"{where} computing in float, e.g. tensor '{(floats or const_floats)[0]}'",
                       "Quantize it with `tinyml quantize`, or use --backend tflm, which runs float models.")


def lower(model: ModelInfo) -> list[Call]:
    check_model(model)
    calls = []
    for k, op in enumerate(model.operators):
        if op.op in RESHAPES:
            calls.append(Call(op.op, "", None, {}, [("in", op.inputs[0]), ("out", op.outputs[0])]))
            continue
        try:
            calls.append(LOWER[op.op](model, op, k))
        except Unsupported as exc:
            raise expected("ops in a form the AOT backend implements", f"op {k} of '{model.path}': {exc}",
                           "Use --backend tflm for this model.") from None
    return calls
