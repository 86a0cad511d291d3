"""Lowering: each TFLite op -> one call of a kernel in firmware/aot/tinyml_kernels.c.

For every op this computes, in Python, the integers TFLM's Prepare would
compute (multipliers, shifts, offsets, activation bounds, padding) and returns
them as a C initializer. The kernels do only the per-inference arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tinyml.codegen.aot import quant
from tinyml.errors import expected
from tinyml.quantize.flatbuffer import NUMPY_TYPES, ModelInfo, Operator, Tensor

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
    scratch: int = 0  # bytes of working memory the kernel needs during this call
    # (split pixel, byte offset in the output): where the scratch may live outside the arena instead, in
    # the output's unwritten tail for the pixels before the split and the input's consumed head after it
    scratch_split: tuple[int, int] | None = None


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
    if not all(math.isfinite(v) and v > 0 for v in t.scales):
        raise Unsupported(f"tensor '{t.name}' with the scale {t.scales[0]}")
    if len(t.zero_points) != len(t.scales):
        raise Unsupported(f"tensor '{t.name}' with {len(t.scales)} scale(s) and {len(t.zero_points)} zero point(s)")
    return t.scales[0]


def _zp(t: Tensor) -> int:
    zp = t.zero_points[0] if t.zero_points else 0
    if t.dtype == "INT8" and not -128 <= zp <= 127:
        raise Unsupported(f"int8 tensor '{t.name}' with the zero point {zp}")
    return zp


def _multiplier(m: float) -> tuple[int, int]:
    """quant.quantize_multiplier, refusing what no int32 multiplier and shift can hold."""
    if not math.isfinite(m) or m < 0:
        raise Unsupported(f"a rescale by {m}")
    q, shift = quant.quantize_multiplier(m)
    if shift > 31:
        raise Unsupported(f"a rescale by {m:g}, beyond int32")
    return q, shift


def _option(op: Operator, name: str, minimum: int | None = None) -> int:
    """A builtin option the lowering needs (at least `minimum`), or Unsupported naming it."""
    if name not in op.options:
        raise Unsupported(f"{op.op} without its option {name}")
    value = op.options[name]
    if minimum is not None and value < minimum:
        raise Unsupported(f"{op.op} with {name} {value}")
    return value


def _padding(op: Operator) -> int:
    value = _option(op, "padding")
    if value not in (0, 1):  # SAME, VALID
        raise Unsupported(f"{op.op} with padding {value}")
    return value


def _same_shape(op: Operator, inp: Tensor, out: Tensor, elements_only: bool = False) -> None:
    """An elementwise op's output has its input's shape (a reshape's, its element count): TFLM reads
    such a model in ways of its own otherwise."""
    if (inp.elements != out.elements) if elements_only else (list(inp.shape) != list(out.shape)):
        raise Unsupported(f"{op.op} from {list(inp.shape)} to {list(out.shape)}")


def _constant(op: Operator, t: Tensor, what: str) -> Tensor:
    if t.data is None:
        raise Unsupported(f"{op.op} with {what} computed at run time")
    return t


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
        _bias_values(bias, sums.size)  # refuses a bias the kernels cannot take
        arrays.append(Array(f"op{k}_bias", "int32_t", bias.array()))
    refs = {"filter": f"op{k}_filter", "bias": f"op{k}_bias" if bias is not None else "NULL",
            "mult": f"op{k}_mult", "shift": f"op{k}_shift", "filter_sum": f"op{k}_filter_sum"}
    return arrays, refs


# The fast kernels' short requantization is exact while |accumulator * 2^left shift| < 2^29.
FAST_ACC_LIMIT = 1 << 29


def _bias_values(bias: Tensor | None, channels: int) -> np.ndarray:
    """The bias as int64 per output channel (zeros without one), or Unsupported naming what is wrong."""
    if bias is None:
        return np.zeros(channels, dtype=np.int64)
    if bias.dtype != "INT32":
        raise Unsupported(f"{bias.dtype.lower()} bias")
    if bias.data is None:
        raise Unsupported("a bias computed at run time")
    if bias.elements != channels:
        raise Unsupported(f"a bias of {bias.elements} values for {channels} output channels")
    return bias.array().astype(np.int64).reshape(-1)


def _fast_weights(k: int, w: np.ndarray, bias: Tensor | None, input_offset: int, pairs: list[tuple[int, int]],
                  channel_axis: int) -> tuple[list, dict] | None:
    """The fast kernels' arrays: the bias with the input offset folded in, bias + input_offset * sum(w), per
    output channel. None when some accumulator of the layer could reach FAST_ACC_LIMIT (then the general
    kernel, whose requantization holds for any int32, runs instead)."""
    w64 = w.astype(np.int64)
    other = tuple(a for a in range(w64.ndim) if a != channel_axis)
    sums, magnitude = w64.sum(axis=other), np.abs(w64).sum(axis=other)
    bias64 = _bias_values(bias, sums.size)
    shifts = [max(p[1], 0) for p in pairs] * (sums.size if len(pairs) == 1 else 1)
    # raw int8 inputs times weights (|x| <= 128) plus the folded bias (|input_offset| <= 128), shifted left
    # as the requantization shifts it: in Python integers, which cannot wrap
    bounds = (np.abs(bias64) + 256 * magnitude).tolist()
    if any(shift >= 31 or bound << shift >= FAST_ACC_LIMIT for bound, shift in zip(bounds, shifts)):
        return None
    folded = bias64 + input_offset * sums
    arrays = [Array(f"op{k}_bias_eff", "int32_t", folded.astype(np.int32)),
              Array(f"op{k}_mult", "int32_t", np.array([p[0] for p in pairs])),
              Array(f"op{k}_shift", "int32_t", np.array([p[1] for p in pairs]))]
    return arrays, {"bias_eff": f"op{k}_bias_eff", "mult": f"op{k}_mult", "shift": f"op{k}_shift"}


def _interleaved_rows(w: np.ndarray, block: int) -> np.ndarray:
    """A [rows][depth] weight matrix as the fast kernels read it, flat: each row zero-padded to whole groups
    of four bytes; blocks of `block` rows interleaved group by group (row 0's four bytes of a group, then row
    1's, ...), then the rows past the last whole block, one after the other."""
    units, depth = w.shape
    depth4 = -(-depth // 4) * 4
    rows = np.zeros((units, depth4), dtype=np.int8)
    rows[:, :depth] = w
    whole = units - units % block
    interleaved = rows[:whole].reshape(whole // block, block, depth4 // 4, 4).transpose(0, 2, 1, 3).reshape(-1)
    return np.concatenate([interleaved, rows[whole:].reshape(-1)])


def _fast_conv(k: int, inp: Tensor, w: np.ndarray, bias: Tensor | None, out: Tensor, pairs, geometry: dict,
               act: tuple[int, int], depthwise: bool) -> Call | None:
    """CONV_2D / DEPTHWISE_CONV_2D on the fast kernels (`w` the filter as the op's own layout), or None
    where they do not apply."""
    g = geometry
    if g["dil_h"] != 1 or g["dil_w"] != 1:
        return None
    c = _shape4(inp.shape)[3]
    folded = _fast_weights(k, w, bias, -_zp(inp), pairs, channel_axis=3 if depthwise else 0)
    if folded is None:
        return None
    arrays, refs = folded
    common = {"in": _c_shape(inp.shape), "out": _c_shape(out.shape), "kh": g["kh"], "kw": g["kw"],
              "stride_h": g["stride_h"], "stride_w": g["stride_w"], "pad_h": g["pad_h"], "pad_w": g["pad_w"]}
    tail = {"input_zero_point": _zp(inp), "output_offset": _zp(out), "act_min": act[0], "act_max": act[1]}
    io = [("in", inp.index), ("out", out.index)]
    if depthwise and g["depth_multiplier"] > 1:
        arrays.insert(0, Array(f"op{k}_filter", "int8_t", w))
        params = {**common, "depth_multiplier": g["depth_multiplier"], **tail, "filter": f"op{k}_filter", **refs}
        return Call("DEPTHWISE_CONV_2D", "tm_depthwise_conv2d_mult_s8_fast", "tm_dw_fast_params", params, io, arrays)
    if depthwise:
        common["depth_multiplier"] = 1
        taps = g["kh"] * g["kw"]
        c4 = c - c % 4
        grouped = w.reshape(taps, c)[:, :c4].reshape(taps, c4 // 4, 4).transpose(1, 0, 2).reshape(-1)
        w = np.concatenate([grouped, w.reshape(taps, c)[:, c4:].reshape(-1)])  # see tm_depthwise_conv2d_s8_fast
        arrays.insert(0, Array(f"op{k}_filter", "int8_t", w))
        params = {**common, **tail, "filter": f"op{k}_filter", **refs}
        return Call("DEPTHWISE_CONV_2D", "tm_depthwise_conv2d_s8_fast", "tm_dw_fast_params", params, io, arrays)
    oc = w.shape[0]
    depth = g["kh"] * g["kw"] * c
    depth4 = -(-depth // 4) * 4
    rows = _interleaved_rows(w.reshape(oc, depth), 2)  # channel pairs, as tm_block_2x2 reads them
    pointwise = g["kh"] == g["kw"] == 1 and g["stride_h"] == g["stride_w"] == 1 and \
        g["pad_h"] == g["pad_w"] == 0 and c % 4 == 0
    arrays.insert(0, Array(f"op{k}_filter", "int8_t", rows))
    params = {**common, "depth": depth, "depth4": depth4, "pointwise": int(pointwise), **tail,
              "filter": f"op{k}_filter", **refs}
    scratch = 4 * depth4 + (0 if pointwise else depth4)  # two int16 columns, and the int8 staging column
    return Call("CONV_2D", "tm_conv2d_s8_fast", "tm_conv_fast_params", params, io + [("scratch", scratch)],
                arrays, scratch=scratch, scratch_split=_scratch_split(inp, out, g, scratch))


def _scratch_split(inp: Tensor, out: Tensor, g: dict, scratch: int) -> tuple[int, int] | None:
    """Where tm_conv2d_s8_fast's scratch fits in its own tensors: the output's last bytes (4-byte aligned)
    while the pixels before `split` are computed (their outputs end before it), then the input's first
    bytes, which no window of the pixels from `split` on reads. None if the tensors are too small."""
    n, h, w, c = _shape4(inp.shape)
    _, out_h, out_w, out_c = _shape4(out.shape)
    pixels = out_h * out_w
    tail = (out.elements - scratch) // 4 * 4
    if n != 1 or tail < 0 or scratch > inp.elements:
        return None
    split = min(tail // out_c, pixels) // 2 * 2  # whole pairs of pixels on each side
    oy, ox = np.divmod(np.arange(split, pixels), out_w)
    first_row = np.maximum(oy * g["stride_h"] - g["pad_h"], 0)
    first_col = np.maximum(ox * g["stride_w"] - g["pad_w"], 0)
    if split < pixels and int(((first_row * w + first_col) * c).min()) < scratch:
        return None
    return split, tail


def _conv(model: ModelInfo, op: Operator, k: int, depthwise: bool) -> Call:
    t = model.tensors
    inp, flt, out = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    bias = t[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    _require_int8(op, inp, flt, out)
    _constant(op, flt, "a filter")
    n, h, w, c = _shape4(inp.shape)
    o = op.options
    if len(flt.shape) != 4:
        raise Unsupported(f"{op.op} with a {len(flt.shape)}-D filter")
    if depthwise:
        _, kh, kw, oc = flt.shape
        mult = oc // c
        if flt.shape[0] != 1 or oc != c * mult:
            raise Unsupported(f"DEPTHWISE_CONV_2D with the filter {list(flt.shape)} on {c} channels")
        if o.get("depthMultiplier", mult) != mult:  # TFLM's kernel loops over the option, not the shapes
            raise Unsupported(f"DEPTHWISE_CONV_2D whose depthMultiplier {o['depthMultiplier']} disagrees with "
                              f"its filter {list(flt.shape)} on {c} channels")
    else:
        oc, kh, kw, ic = flt.shape
        if ic != c:
            raise Unsupported("grouped CONV_2D")
        mult = 1
    dil_h, dil_w = o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)
    stride_h, stride_w = _option(op, "strideH", 1), _option(op, "strideW", 1)
    if dil_h < 1 or dil_w < 1:
        raise Unsupported(f"{op.op} with dilation {dil_h}x{dil_w}")
    out_h, pad_h = quant.padding(_padding(op), h, kh, stride_h, dil_h)
    out_w, pad_w = quant.padding(_padding(op), w, kw, stride_w, dil_w)
    if [n, out_h, out_w, oc] != _shape4(out.shape):
        raise Unsupported(f"{op.op} whose output shape {list(out.shape)} disagrees with its options")
    in_s, out_s = _scale(inp), _scale(out)
    _scale(flt)
    if len(flt.scales) not in (1, oc):
        raise Unsupported(f"{op.op} with {len(flt.scales)} filter scales for {oc} channels")
    scales = flt.scales if len(flt.scales) > 1 else flt.scales * oc
    pairs = [_multiplier(in_s * s / out_s) for s in scales]  # all double, as TFLM
    act_min, act_max = _act(op, out)
    geometry = {"kh": kh, "kw": kw, "stride_h": stride_h, "stride_w": stride_w, "dil_h": dil_h, "dil_w": dil_w,
                "pad_h": pad_h, "pad_w": pad_w, "depth_multiplier": mult}
    if depthwise and c == 1 and dil_h == dil_w == 1:
        # One input channel: each of the `mult` outputs is an ordinary filter over it, so this is a CONV_2D
        # whose [mult][kh][kw][1] filter is the depthwise [1][kh][kw][mult] one transposed.
        fast = _fast_conv(k, inp, flt.array().transpose(3, 1, 2, 0), bias, out, pairs,
                          {**geometry, "depth_multiplier": 1}, (act_min, act_max), depthwise=False)
        if fast is not None:
            fast.comment = "DEPTHWISE_CONV_2D on one channel, as CONV_2D"
    else:
        fast = _fast_conv(k, inp, flt.array(), bias, out, pairs, geometry, (act_min, act_max), depthwise)
    if fast is not None:
        return fast
    arrays, refs = _weights(k, flt, bias, pairs, channel_axis=3 if depthwise else 0)
    params = {
        "in": _c_shape(inp.shape), "out": _c_shape(out.shape), "kh": kh, "kw": kw,
        "stride_h": stride_h, "stride_w": stride_w, "dil_h": dil_h, "dil_w": dil_w,
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
    _constant(op, flt, "weights")
    if op.options.get("weightsFormat", 0) != 0:
        raise Unsupported("FULLY_CONNECTED with shuffled weights")
    if len(flt.shape) != 2:
        raise Unsupported(f"FULLY_CONNECTED with {len(flt.shape)}-D weights")
    units, depth = flt.shape
    if inp.elements % depth or out.elements != inp.elements // depth * units or out.shape[-1:] != (units,):
        raise Unsupported(f"FULLY_CONNECTED of {list(inp.shape)} by weights {list(flt.shape)} "
                          f"into {list(out.shape)}")
    in_s, out_s = _scale(inp), _scale(out)
    _scale(flt)
    per_channel = len(flt.scales) > 1
    if per_channel and len(flt.scales) != units:
        raise Unsupported(f"FULLY_CONNECTED with {len(flt.scales)} weight scales for {units} units")
    if per_channel:  # double products
        pairs = [_multiplier(in_s * s / out_s) for s in flt.scales]
    else:  # GetQuantizedConvolutionMultipler: the product is taken in float first
        pairs = [_multiplier(quant.f32(np.float32(in_s) * np.float32(flt.scales[0])) / out_s)]
    act_min, act_max = _act(op, out)
    if per_channel or _zp(flt) == 0:
        folded = _fast_weights(k, flt.array(), bias, -_zp(inp), pairs, channel_axis=0)
        if folded is not None:
            arrays, refs = folded
            arrays.insert(0, Array(f"op{k}_filter", "int8_t", _interleaved_rows(flt.array(), 4)))
            params = {"batches": out.elements // units, "in_depth": depth, "out_depth": units,
                      "output_offset": _zp(out), "act_min": act_min, "act_max": act_max,
                      "per_channel": int(per_channel), "filter": f"op{k}_filter", **refs}
            return Call(op.op, "tm_fully_connected_s8_fast", "tm_fc_fast_params", params,
                        [("in", inp.index), ("out", out.index)], arrays)
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
    n, h, w, c = _shape4(inp.shape)
    kh, kw = _option(op, "filterHeight", 1), _option(op, "filterWidth", 1)
    stride_h, stride_w = _option(op, "strideH", 1), _option(op, "strideW", 1)
    out_h, pad_h = quant.padding(_padding(op), h, kh, stride_h, 1)
    out_w, pad_w = quant.padding(_padding(op), w, kw, stride_w, 1)
    if [n, out_h, out_w, c] != _shape4(out.shape):
        raise Unsupported(f"{op.op} whose output shape {list(out.shape)} disagrees with its options")
    if (_scale(inp), _zp(inp)) != (_scale(out), _zp(out)):
        raise Unsupported(f"{op.op} that requantizes")
    act_min, act_max = _act(op, out)
    params = {"in": _c_shape(inp.shape), "out": _c_shape(out.shape), "kh": kh,
              "kw": kw, "stride_h": stride_h, "stride_w": stride_w, "pad_h": pad_h,
              "pad_w": pad_w, "act_min": act_min, "act_max": act_max}
    fn = "tm_max_pool_s8" if op.op == "MAX_POOL_2D" else "tm_avg_pool_s8"
    return Call(op.op, fn, "tm_pool_params", params, [("in", inp.index), ("out", out.index)])


def _softmax(model: ModelInfo, op: Operator, k: int) -> Call:
    inp, out = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
    _require_int8(op, inp, out)
    _same_shape(op, inp, out)
    if _zp(out) != -128 or np.float32(_scale(out)) != np.float32(1.0 / 256):
        raise Unsupported("SOFTMAX whose output is not quantized as 1/256, -128")
    beta = quant.f32(op.options.get("beta", 1.0))
    real = min(beta * _scale(inp) * (1 << (31 - 5)), (1 << 31) - 1.0)
    mult, shift = _multiplier(real)
    if shift < 1:  # TFLM's QuantizeMultiplierGreaterThanOne
        raise Unsupported(f"SOFTMAX with beta {beta} on the input scale {_scale(inp)}")
    if not inp.shape:
        raise Unsupported("SOFTMAX of a scalar")
    depth = inp.shape[-1]
    params = {"rows": inp.elements // depth, "depth": depth, "input_multiplier": mult,
              "input_left_shift": shift, "diff_min": -quant.input_radius(5, shift)}
    return Call(op.op, "tm_softmax_s8", "tm_softmax_params", params, [("in", inp.index), ("out", out.index)])


def _sigmoid(model: ModelInfo, op: Operator, k: int) -> Call:
    inp, out = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
    _require_int8(op, inp, out)
    _same_shape(op, inp, out)
    want = (1.0 / 256, -128) if op.op == "LOGISTIC" else (1.0 / 128, 0)  # what the kernel writes
    if (np.float32(_scale(out)), _zp(out)) != (np.float32(want[0]), want[1]):
        raise Unsupported(f"{op.op} whose output is not quantized as {want[0]:g}, {want[1]}")
    q, shift = math.frexp(_scale(inp) * (1 << (31 - 4)))
    if not 0 <= shift <= 31:
        raise Unsupported(f"{op.op} on the input scale {_scale(inp)}")
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
    for x in (a, b):
        if any(d not in (1, o) for d, o in zip(_shape4(x.shape), out4)):
            raise Unsupported(f"{op.op} of {list(a.shape)} and {list(b.shape)} into {list(out.shape)}")
    if [max(d, e) for d, e in zip(_shape4(a.shape), _shape4(b.shape))] != out4:
        raise Unsupported(f"{op.op} of {list(a.shape)} and {list(b.shape)} into {list(out.shape)}")
    act_min, act_max = _act(op, out)
    params = {"out": _c_shape(out.shape), "in1_stride": _broadcast_strides(a.shape, out4),
              "in2_stride": _broadcast_strides(b.shape, out4), "input1_offset": -_zp(a),
              "input2_offset": -_zp(b), "output_offset": _zp(out), "act_min": act_min, "act_max": act_max}
    sa, sb, so = _scale(a), _scale(b), _scale(out)
    if op.op == "ADD":
        twice_max = 2.0 * float(max(np.float32(sa), np.float32(sb)))  # max in float, product in double
        m1, s1 = _multiplier(sa / twice_max)
        m2, s2 = _multiplier(sb / twice_max)
        mo, s_o = _multiplier(twice_max / ((1 << 20) * so))
        params.update(left_shift=20, input1_multiplier=m1, input1_shift=s1, input2_multiplier=m2,
                      input2_shift=s2, output_multiplier=mo, output_shift=s_o)
        fn = "tm_add_s8"
    else:
        mo, s_o = _multiplier(sa * sb / so)
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
    if axis_t.dtype not in ("INT32", "INT64"):
        raise Unsupported(f"MEAN over {axis_t.dtype.lower()} axes")
    rank = len(inp.shape)
    given = [int(a) for a in axis_t.array().reshape(-1)]
    if not all(-rank <= a < rank for a in given):
        raise Unsupported(f"MEAN of a {rank}-D tensor over the axes {given}")
    axes = sorted({a + rank if a < 0 else a for a in given})
    pad = 4 - rank
    if pad < 0:
        raise Unsupported(f"MEAN of a {rank}-D tensor")
    reduce = [0] * 4
    for a in axes:
        reduce[a + pad] = 1
    count = math.prod(inp.shape[a] for a in axes)
    if out.elements * count != inp.elements:
        raise Unsupported(f"MEAN of {list(inp.shape)} over the axes {given} into {list(out.shape)}")
    in_s, out_s, in_zp, out_zp = _scale(inp), _scale(out), _zp(inp), _zp(out)
    if in_zp == out_zp and np.float32(in_s) == np.float32(out_s):
        mode, mult, shift = 1, 0, 0
    else:  # QuantizedMeanOrSum: fold the division by count into the multiplier
        mode = 0
        m, shift = _multiplier(in_s / out_s)
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
    _shape4(inp.shape)  # at most 4-D
    if pads.dtype not in ("INT32", "INT64") or pads.elements != 2 * rank:
        raise Unsupported(f"PAD of a {rank}-D tensor by {pads.dtype.lower()} paddings {list(pads.shape)}")
    widths = [(int(lo), int(hi)) for lo, hi in pads.array().reshape(rank, 2)]
    if any(lo < 0 or hi < 0 for lo, hi in widths) or \
            [d + lo + hi for d, (lo, hi) in zip(inp.shape, widths)] != list(out.shape):
        raise Unsupported(f"PAD of {list(inp.shape)} by {widths} into {list(out.shape)}")
    if (_scale(inp), _zp(inp)) != (_scale(out), _zp(out)):
        raise Unsupported("PAD that requantizes")
    for d, (lo, _) in enumerate(widths):
        before[d + 4 - rank] = lo
    params = {"in": _c_shape(inp.shape), "out": _c_shape(out.shape),
              "before": "{" + ", ".join(map(str, before)) + "}", "value": _zp(out)}
    return Call(op.op, "tm_pad_s8", "tm_pad_params", params, [("in", inp.index), ("out", out.index)])


def _concatenation(model: ModelInfo, op: Operator, k: int) -> Call:
    t = model.tensors
    ins, out = [t[i] for i in op.inputs], t[op.outputs[0]]
    _require_int8(op, *ins, out)
    if op.options.get("fusedActivationFunction", 0) != 0:
        raise Unsupported("CONCATENATION with a fused activation")
    rank = len(out.shape)
    axis = op.options.get("axis", 0)
    if not -rank <= axis < rank:
        raise Unsupported(f"CONCATENATION of {rank}-D tensors on axis {axis}")
    axis = axis + rank if axis < 0 else axis

    def others(shape):  # every dim but the axis
        return [d for j, d in enumerate(shape) if j != axis]

    if any(len(x.shape) != rank or others(x.shape) != others(out.shape) for x in ins) \
            or sum(x.shape[axis] for x in ins) != out.shape[axis]:
        raise Unsupported(f"CONCATENATION of {[list(x.shape) for x in ins]} into {list(out.shape)}")
    if any((_scale(x), _zp(x)) != (_scale(out), _zp(out)) for x in ins):
        raise Unsupported("CONCATENATION that requantizes")
    outer = math.prod(out.shape[:axis])
    inner = [math.prod(x.shape[axis:]) for x in ins]
    arrays = [Array(f"op{k}_inner", "int32_t", np.array(inner))]
    args = [("text", str(outer)), ("text", str(len(ins))), ("text", f"op{k}_inner"), ("inputs", [x.index for x in ins]),
            ("out", out.index)]
    return Call(op.op, "tm_concatenation", None, {}, args, arrays)


def _quantize(model: ModelInfo, op: Operator, k: int) -> Call:
    inp, out = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
    _require_int8(op, out)
    _same_shape(op, inp, out)
    if inp.dtype == "FLOAT32":
        args = [("text", str(out.elements)), ("text", _c_float(_scale(out))), ("text", str(_zp(out))),
                ("in", inp.index), ("out", out.index)]
        return Call(op.op, "tm_quantize_f32_s8", None, {}, args)
    _require_int8(op, inp)
    mult, shift = _multiplier(_scale(inp) / _scale(out))
    args = [("text", str(out.elements)), ("text", str(_zp(inp))), ("text", str(_zp(out))), ("text", str(mult)),
            ("text", str(shift)), ("in", inp.index), ("out", out.index)]
    return Call(op.op, "tm_requantize_s8", None, {}, args, in_place=(inp.index, out.index))


def _dequantize(model: ModelInfo, op: Operator, k: int) -> Call:
    inp, out = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
    _require_int8(op, inp)
    _same_shape(op, inp, out)
    if out.dtype != "FLOAT32":
        raise Unsupported(f"DEQUANTIZE to {out.dtype.lower()}")
    args = [("text", str(inp.elements)), ("text", repr(_scale(inp))), ("text", str(_zp(inp))), ("in", inp.index),
            ("out", out.index)]
    return Call(op.op, "tm_dequantize_s8_f32", None, {}, args)


def _reshape(model: ModelInfo, op: Operator) -> Call:
    """No kernel: the output is the input's bytes (the memory plan aliases them)."""
    inp, out = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
    _same_shape(op, inp, out, elements_only=True)
    if inp.dtype != out.dtype:
        raise Unsupported(f"{op.op} from {inp.dtype.lower()} to {out.dtype.lower()}")
    return Call(op.op, "", None, {}, [("in", op.inputs[0]), ("out", op.outputs[0])])


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


# Inputs each op needs present (the rest are optional); every op needs its first output.
_INPUTS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "ADD": 2, "MUL": 2, "MEAN": 2, "PAD": 2}
# Bytes of any one tensor the generated C indexes with int32.
MAX_TENSOR_BYTES = (1 << 31) - 1


def _used(model: ModelInfo) -> set[int]:
    """The tensors some op reads or writes, and the graph's inputs and outputs."""
    return {i for op in model.operators for i in op.inputs + op.outputs if i >= 0} | set(model.inputs) | \
        set(model.outputs)


def _check_graph(model: ModelInfo, where: str) -> None:
    """The dataflow the memory plan relies on: each op reads tensors that exist by then (constants,
    graph inputs, outputs of earlier ops) and writes tensors nothing else writes."""
    def refuse(what: str):
        return expected("a well-formed model", f"{where}: {what}", "Convert the original model again.")

    if not model.inputs or not model.outputs:
        raise refuse(f"{len(model.inputs)} input(s) and {len(model.outputs)} output(s)")
    for kind, indices in (("input", model.inputs), ("output", model.outputs)):
        const = [i for i in indices if model.tensors[i].constant]
        if const:
            raise refuse(f"graph {kind} {const[0]} is a constant")
    written = set(model.inputs)
    for k, op in enumerate(model.operators):
        need = _INPUTS.get(op.op, len(op.inputs) if op.op == "CONCATENATION" else 1)
        if len(op.inputs) < max(need, 1) or any(i < 0 for i in op.inputs[:need]) or not op.outputs \
                or op.outputs[0] < 0:
            raise refuse(f"op {k} ({op.op}) has the inputs {list(op.inputs)} and outputs {list(op.outputs)}")
        read = op.inputs[:1] if op.op in RESHAPES else op.inputs  # a reshape's shape input is not read
        for i in read:
            if i >= 0 and not model.tensors[i].constant and i not in written:
                raise refuse(f"op {k} ({op.op}) reads tensor {i} before anything writes it")
        for i in op.outputs:
            if i >= 0 and (i in written or model.tensors[i].constant):
                raise refuse(f"op {k} ({op.op}) writes tensor {i}, which is "
                             f"{'a constant' if model.tensors[i].constant else 'written before'}")
            written.add(i)
    for i in sorted(_used(model)):
        t = model.tensors[i]
        if t.dtype in NUMPY_TYPES and not 0 < t.elements * np.dtype(NUMPY_TYPES[t.dtype]).itemsize <= MAX_TENSOR_BYTES:
            raise refuse(f"tensor {i} ('{t.name}') has the shape {list(t.shape)}")


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
    used = _used(model)
    others = [t for t in model.tensors if t.index in used and not t.constant and t.dtype not in ("INT8", "FLOAT32")]
    if others:
        raise expected("a full-int8 model (int8 activations; float only at QUANTIZE inputs and DEQUANTIZE outputs)",
                       f"{where} computing in {others[0].dtype.lower()}, e.g. tensor '{others[0].name}'",
                       "Use --backend tflm, which runs int16 and other types.")
    _check_graph(model, where)


def lower(model: ModelInfo) -> list[Call]:
    check_model(model)
    calls = []
    for k, op in enumerate(model.operators):
        try:
            calls.append(_reshape(model, op) if op.op in RESHAPES else LOWER[op.op](model, op, k))
        except Unsupported as exc:
            raise expected("ops in a form the AOT backend implements", f"op {k} of '{model.path}': {exc}",
                           "Use --backend tflm for this model.") from None
    return calls
