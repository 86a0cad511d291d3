"""The quantization parameters TFLM computes in each kernel's Prepare, computed the same way.

Everything here runs once, in Python, at generation time; the generated C only
holds the resulting integers. Scales are float32 in the flatbuffer; where TFLM
widens them to double (or multiplies them as float first) we do exactly the same.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127

# ActivationFunctionType in the TFLite schema.
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3


def f32(x) -> float:
    """A value rounded to float32, returned as a Python float (double)."""
    return float(np.float32(x))


def round_half_away(x: float) -> int:
    """C's std::round / TfLiteRound: halves go away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def quantize_multiplier(m: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: m = q * 2^(shift - 31), q a Q0.31 integer."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


def quantize_value(x: float, scale: float, zero_point: int) -> int:
    """How TFLM quantizes an activation bound: zero point + round(float(x) / float(scale))."""
    return zero_point + round_half_away(f32(f32(x) / f32(scale)))


def activation_range(act: int, scale: float, zero_point: int, qmin: int = INT8_MIN, qmax: int = INT8_MAX):
    """CalculateActivationRangeQuantized for a fused activation."""
    if act == ACT_NONE:
        return qmin, qmax
    if act == ACT_RELU:
        return max(qmin, quantize_value(0.0, scale, zero_point)), qmax
    if act == ACT_RELU6:
        return max(qmin, quantize_value(0.0, scale, zero_point)), min(qmax, quantize_value(6.0, scale, zero_point))
    if act == ACT_RELU_N1_TO_1:
        return (max(qmin, quantize_value(-1.0, scale, zero_point)),
                min(qmax, quantize_value(1.0, scale, zero_point)))
    raise ValueError(f"fused activation {act}")


def padding(padding_type: int, in_size: int, filter_size: int, stride: int, dilation: int) -> tuple[int, int]:
    """(output size, padding before) as ComputePaddingHeightWidth does; 0 = SAME, 1 = VALID."""
    effective = (filter_size - 1) * dilation + 1
    if padding_type == 0:
        out = (in_size + stride - 1) // stride
    else:
        out = (in_size - effective + stride) // stride
    total = max(0, (out - 1) * stride + effective - in_size)
    return out, total // 2


def input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius: the largest input magnitude whose rescaled value fits."""
    max_rescaled = (1.0 * ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits))
                    / (1 << left_shift))
    return int(math.floor(max_rescaled))
