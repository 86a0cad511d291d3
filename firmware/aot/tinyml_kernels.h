/*
 * tinyml's int8 kernels for the interpreter-free (AOT) backend.
 *
 * Each kernel reproduces the arithmetic of TensorFlow Lite Micro's reference
 * kernel for the same op bit for bit: the same requantization
 * (MultiplyByQuantizedMultiplier), the same rounding, the same padding rules,
 * the same fixed-point softmax / logistic / tanh. The code is our own; all
 * quantization parameters are computed at generation time (codegen/aot/quant.py)
 * exactly as TFLM computes them in its Prepare functions.
 *
 * Tensors are NHWC. Portable C99; integer-only except QUANTIZE and DEQUANTIZE,
 * which repeat TFLM's float arithmetic (one division or one multiplication, so
 * no fused multiply-add can change a rounding).
 */
#ifndef TINYML_KERNELS_H_
#define TINYML_KERNELS_H_

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int32_t n, h, w, c;
} tm_shape;

/* CONV_2D and DEPTHWISE_CONV_2D. Filter layout: conv [out_c][kh][kw][in_c],
 * depthwise [1][kh][kw][out_c]. mult/shift hold one entry per output channel. */
typedef struct {
  tm_shape in, out;
  int32_t kh, kw, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
  int32_t depth_multiplier;
  int32_t input_offset, output_offset, act_min, act_max;
  const int8_t *filter;
  const int32_t *bias; /* may be NULL */
  const int32_t *mult;
  const int32_t *shift;
  /* Sum of each output channel's filter taps: windows fully inside the input then compute
   * sum((x + input_offset) * w) as sum(x * w) + input_offset * sum(w), the same integer. */
  const int32_t *filter_sum;
} tm_conv_params;

void tm_conv2d_s8(const tm_conv_params *p, const int8_t *in, int8_t *out);
void tm_depthwise_conv2d_s8(const tm_conv_params *p, const int8_t *in, int8_t *out);

/* ---- the fast paths: chosen at generation time where their conditions hold ----------------------
 *
 * Same integers as the kernels above, computed differently: the input offset is folded into the bias
 * at generation time (bias_eff = bias + input_offset * sum(w)) and padded taps read the input's zero
 * point, so the hot loops multiply raw int8 pairs, two per SMLAD on a core with the DSP extension
 * (SXTB16 widens bytes 0,2 and, through a rotate, 1,3: the same pairs on both sides). Requantization
 * uses the short exact form that holds because codegen checked that no accumulator of the layer can
 * reach 2^29 (see codegen/aot/lower.py). mult/shift hold one entry per output channel. */
typedef struct {
  tm_shape in, out;
  int32_t kh, kw, stride_h, stride_w, pad_h, pad_w;
  int32_t depth; /* kh * kw * in_c: the length of one column */
  int32_t depth4; /* depth rounded up to 4: each filter row is zero-padded to it */
  int32_t pointwise; /* 1x1, stride 1, no padding, in_c a multiple of 4: columns are the input's rows */
  int32_t input_zero_point, output_offset, act_min, act_max;
  const int8_t *filter; /* [out_c][depth4] */
  const int32_t *bias_eff;
  const int32_t *mult;
  const int32_t *shift;
} tm_conv_fast_params;

/* CONV_2D (dilation 1) as a GEMM: two output pixels' columns are gathered (im2col) and widened to
 * 16 bits once, then each pair of output channels is computed against both (2 x 2 accumulators).
 * The working memory (2 * depth4 int16, plus depth4 bytes unless pointwise, 4-byte aligned) is
 * `scratch` for the output pixels before `split` and `scratch_late` for the rest (batch 0): codegen
 * may put the first in the output's tail, not yet written, and the second in the input's head, read
 * by then (see codegen/aot/generate.py); otherwise both are one planned buffer and split is large. */
void tm_conv2d_s8_fast(const tm_conv_fast_params *p, const int8_t *in, int8_t *out, void *scratch,
                       void *scratch_late, int32_t split);

/* DEPTHWISE_CONV_2D with dilation 1. Depth multiplier 1: four channels per 32-bit load (filter
 * reordered by codegen, see the kernel); above 1: one output channel at a time, the filter as TFLite
 * lays it out, [kh][kw][c * depth_multiplier]. */
typedef struct {
  tm_shape in, out;
  int32_t kh, kw, stride_h, stride_w, pad_h, pad_w, depth_multiplier;
  int32_t input_zero_point, output_offset, act_min, act_max;
  const int8_t *filter; /* [kh][kw][c] */
  const int32_t *bias_eff;
  const int32_t *mult;
  const int32_t *shift;
} tm_dw_fast_params;

void tm_depthwise_conv2d_s8_fast(const tm_dw_fast_params *p, const int8_t *in, int8_t *out);
void tm_depthwise_conv2d_mult_s8_fast(const tm_dw_fast_params *p, const int8_t *in, int8_t *out);

/* FULLY_CONNECTED with symmetric weights: four output units per pass over the input. */
typedef struct {
  int32_t batches, in_depth, out_depth;
  int32_t output_offset, act_min, act_max;
  int32_t per_channel;
  const int8_t *filter; /* [out_depth][in_depth] */
  const int32_t *bias_eff;
  const int32_t *mult;
  const int32_t *shift;
} tm_fc_fast_params;

void tm_fully_connected_s8_fast(const tm_fc_fast_params *p, const int8_t *in, int8_t *out);

/* FULLY_CONNECTED: filter [out_depth][in_depth]; per_channel selects mult[oc] or mult[0]. */
typedef struct {
  int32_t batches, in_depth, out_depth;
  int32_t input_offset, filter_offset, output_offset, act_min, act_max;
  int32_t per_channel;
  const int8_t *filter;
  const int32_t *bias; /* may be NULL */
  const int32_t *mult;
  const int32_t *shift;
  const int32_t *filter_sum; /* per output: sum of its weights (used when filter_offset is 0) */
} tm_fc_params;

void tm_fully_connected_s8(const tm_fc_params *p, const int8_t *in, int8_t *out);

/* MAX_POOL_2D and AVERAGE_POOL_2D. */
typedef struct {
  tm_shape in, out;
  int32_t kh, kw, stride_h, stride_w, pad_h, pad_w, act_min, act_max;
} tm_pool_params;

void tm_max_pool_s8(const tm_pool_params *p, const int8_t *in, int8_t *out);
void tm_avg_pool_s8(const tm_pool_params *p, const int8_t *in, int8_t *out);

/* SOFTMAX over the last dimension, int8 in, int8 out (scale 1/256, zero point -128). */
typedef struct {
  int32_t rows, depth;
  int32_t input_multiplier, input_left_shift, diff_min;
} tm_softmax_params;

void tm_softmax_s8(const tm_softmax_params *p, const int8_t *in, int8_t *out);

/* LOGISTIC (output scale 1/256, zero point -128) and TANH (1/128, 0). */
typedef struct {
  int32_t count;
  int32_t input_zero_point, input_range_radius, input_multiplier, input_left_shift;
} tm_sigmoid_params;

void tm_logistic_s8(const tm_sigmoid_params *p, const int8_t *in, int8_t *out);
void tm_tanh_s8(const tm_sigmoid_params *p, const int8_t *in, int8_t *out);

/* ADD and MUL with 4-D broadcasting: strides are in elements, 0 along a broadcast axis. */
typedef struct {
  tm_shape out;
  int32_t in1_stride[4], in2_stride[4];
  int32_t input1_offset, input2_offset, output_offset;
  int32_t left_shift;
  int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
  int32_t output_multiplier, output_shift;
  int32_t act_min, act_max;
} tm_binary_params;

void tm_add_s8(const tm_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tm_mul_s8(const tm_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* MEAN over any set of axes of a (up to) 4-D tensor; reduce[d] is 1 for reduced axes.
 * mode 0 (TFLM's QuantizedMeanOrSum): requantize (sum - zp_in * count) with the multiplier
 *   and shift already divided by count at generation time, add zp_out, clamp;
 * mode 1 (input and output quantized alike): sum / count, truncated. */
typedef struct {
  tm_shape in;
  int32_t reduce[4];
  int32_t mode;
  int32_t input_zero_point, output_zero_point;
  int32_t multiplier, shift;
} tm_mean_params;

void tm_mean_s8(const tm_mean_params *p, const int8_t *in, int8_t *out);

/* PAD (4-D): value is the output zero point. */
typedef struct {
  tm_shape in, out;
  int32_t before[4];
  int8_t value;
} tm_pad_params;

void tm_pad_s8(const tm_pad_params *p, const int8_t *in, int8_t *out);

/* CONCATENATION of inputs with the same quantization: outer blocks, each input
 * contributing inner[i] bytes per block. */
void tm_concatenation(int32_t outer, int32_t count, const int32_t *inner, const int8_t *const *inputs,
                      int8_t *out);

/* QUANTIZE float -> int8, QUANTIZE int8 -> int8 (requantize), DEQUANTIZE int8 -> float. */
void tm_quantize_f32_s8(int32_t count, float scale, int32_t zero_point, const float *in, int8_t *out);
void tm_requantize_s8(int32_t count, int32_t input_zero_point, int32_t output_zero_point, int32_t multiplier,
                      int32_t shift, const int8_t *in, int8_t *out);
void tm_dequantize_s8_f32(int32_t count, double scale, int32_t zero_point, const int8_t *in, float *out);

#endif /* TINYML_KERNELS_H_ */
