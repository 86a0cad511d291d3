/*
 * tinyml's int8 kernels: see tinyml_kernels.h. Written for tinyml; the
 * arithmetic follows TensorFlow Lite Micro's reference kernels so that results
 * are identical bit for bit.
 */
#include "tinyml_kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
/* The inner loops are the whole cost of inference: optimise them for speed even in -Os builds. */
#pragma GCC optimize("O2")
#endif

#include <math.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#include <arm_acle.h>
#define TM_DSP 1 /* Cortex-M4/M7/M33 with the DSP extension: two 16-bit MACs per SMLAD */
#endif

#define TM_INT32_MAX ((int32_t)0x7fffffff)
#define TM_INT32_MIN ((int32_t)(-TM_INT32_MAX - 1))

/* ---- fixed-point building blocks (gemmlowp semantics) ------------------- */

/* round(a * b / 2^31), saturating the single overflow case. */
static int32_t tm_high_mul(int32_t a, int32_t b) {
  if (a == TM_INT32_MIN && b == TM_INT32_MIN) return TM_INT32_MAX;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent, rounded half away from zero. */
static int32_t tm_round_shift(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static int32_t tm_shl(int32_t x, int n) { return (int32_t)((uint32_t)x << n); }

/* MultiplyByQuantizedMultiplier: x * m * 2^(shift - 31), TFLite's double rounding. */
static int32_t tm_requantize(int32_t x, int32_t m, int32_t shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  return tm_round_shift(tm_high_mul(tm_shl(x, left), m), right);
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0). */
static int32_t tm_requantize_small(int32_t x, int32_t m, int32_t shift) {
  return tm_round_shift(tm_high_mul(x, m), -shift);
}

/* SaturatingRoundingMultiplyByPOT: x * 2^exponent, saturating or rounding. */
static int32_t tm_mul_pot(int32_t x, int exponent) {
  if (exponent > 0) {
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) return TM_INT32_MAX;
    if (x < -threshold) return TM_INT32_MIN;
    return tm_shl(x, exponent);
  }
  if (exponent < 0) return tm_round_shift(x, -exponent);
  return x;
}

static int32_t tm_clamp(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static int32_t tm_exp_quarter(int32_t a) {
  const int32_t exp_minus_one_eighth = 1895147668;
  const int32_t one_third = 715827883;
  const int32_t x = a + (1 << 28);
  const int32_t x2 = tm_high_mul(x, x);
  const int32_t x3 = tm_high_mul(x2, x);
  const int32_t x4 = tm_high_mul(x2, x2);
  const int32_t x4_over_4 = tm_mul_pot(x4, -2);
  const int32_t tail = tm_mul_pot(tm_high_mul(x4_over_4 + x3, one_third) + x2, -1);
  return exp_minus_one_eighth + tm_high_mul(exp_minus_one_eighth, x + tail);
}

/* exp(a) for a <= 0 given with `integer_bits` integer bits; result Q0.31. */
static int32_t tm_exp_negative(int32_t a, int integer_bits) {
  /* exp(-2^k) in Q0.31 for k = -2 .. 4 */
  static const int32_t kExpPowers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  const int fractional_bits = 31 - integer_bits;
  const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
  const int32_t mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
  int32_t result = tm_exp_quarter(tm_mul_pot(mod_quarter_minus_quarter, integer_bits));
  const int32_t remainder = mod_quarter_minus_quarter - a;
  int k;
  for (k = 0; k < 7; ++k) {
    const int exponent = k - 2;
    if (integer_bits > exponent && (remainder & ((int32_t)1 << (fractional_bits + exponent)))) {
      result = tm_high_mul(result, kExpPowers[k]);
    }
  }
  if (integer_bits > 5 && a < -((int32_t)1 << (36 - integer_bits))) result = 0;
  return a == 0 ? TM_INT32_MAX : result;
}

static int32_t tm_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* Newton-Raphson on 1/(1+a) for a in [0, 1]; returns the Q2.29 estimate of 1/(1+a). */
static int32_t tm_reciprocal_q2(int32_t a) {
  const int32_t half_denominator = tm_half_sum(a, TM_INT32_MAX);
  const int32_t c48_over_17 = 1515870810;
  const int32_t c_neg32_over_17 = -1010580540;
  int32_t x = c48_over_17 + tm_high_mul(half_denominator, c_neg32_over_17);
  int i;
  for (i = 0; i < 3; ++i) {
    const int32_t one_minus = ((int32_t)1 << 29) - tm_high_mul(half_denominator, x);
    x = x + tm_mul_pot(tm_high_mul(x, one_minus), 2);
  }
  return x;
}

/* 1 / (1 + a), a in [0, 1], Q0.31 in and out. */
static int32_t tm_one_over_one_plus(int32_t a) { return tm_mul_pot(tm_reciprocal_q2(a), 1); }

/* (1 - a) / (1 + a), a in [0, 1], Q0.31 in and out. */
static int32_t tm_one_minus_over_one_plus(int32_t a) {
  return tm_mul_pot(tm_reciprocal_q2(a) - ((int32_t)1 << 29), 2);
}

static int tm_clz32(uint32_t x) {
#if defined(__GNUC__)
  return x ? __builtin_clz(x) : 32;
#else
  int n = 0;
  if (!x) return 32;
  while (!(x & 0x80000000u)) {
    x <<= 1;
    ++n;
  }
  return n;
#endif
}

/* ---- convolutions and fully connected ----------------------------------- */

/* sum(a[i] * b[i]) over n int8 pairs. */
static int32_t tm_dot(const int8_t *a, const int8_t *b, int32_t n) {
  int32_t acc0 = 0, acc1 = 0, i = 0;
#if defined(TM_DSP)
  /* Four pairs per step: sign-extend bytes 0,2 and 1,3 into halfword pairs (SXTB16, the second
   * through a rotate), then two dual multiply-accumulates (SMLAD). Same integer sum. */
  for (; i + 4 <= n; i += 4) {
    uint32_t x, y;
    memcpy(&x, a + i, 4);
    memcpy(&y, b + i, 4);
    acc0 = __smlad(__sxtb16(x), __sxtb16(y), acc0);
    acc1 = __smlad(__sxtb16((x >> 8) | (x << 24)), __sxtb16((y >> 8) | (y << 24)), acc1);
  }
#endif
  for (; i + 4 <= n; i += 4) {
    acc0 += (int32_t)a[i] * b[i] + (int32_t)a[i + 1] * b[i + 1];
    acc1 += (int32_t)a[i + 2] * b[i + 2] + (int32_t)a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) acc0 += (int32_t)a[i] * b[i];
  return acc0 + acc1;
}

static int8_t tm_finish(int32_t acc, const int32_t *bias, int32_t oc, int32_t mult, int32_t shift,
                        int32_t output_offset, int32_t act_min, int32_t act_max) {
  if (bias) acc += bias[oc];
  acc = tm_requantize(acc, mult, shift) + output_offset;
  return (int8_t)tm_clamp(acc, act_min, act_max);
}

void tm_conv2d_s8(const tm_conv_params *p, const int8_t *in, int8_t *out) {
  const int32_t in_c = p->in.c, out_c = p->out.c;
  const int32_t span_h = p->dil_h * (p->kh - 1), span_w = p->dil_w * (p->kw - 1);
  int32_t b, oy, ox, oc, fy, fx, ic;
  for (b = 0; b < p->out.n; ++b) {
    for (oy = 0; oy < p->out.h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out.w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int interior = y0 >= 0 && y0 + span_h < p->in.h && x0 >= 0 && x0 + span_w < p->in.w;
        int8_t *o = out + ((b * p->out.h + oy) * p->out.w + ox) * out_c;
        for (oc = 0; oc < out_c; ++oc) {
          int32_t acc = 0;
          if (interior) {
            acc = p->input_offset * p->filter_sum[oc];
            for (fy = 0; fy < p->kh; ++fy) {
              const int8_t *ip = in + ((b * p->in.h + y0 + p->dil_h * fy) * p->in.w + x0) * in_c;
              const int8_t *fp = p->filter + (oc * p->kh + fy) * p->kw * in_c;
              if (p->dil_w == 1) {
                acc += tm_dot(ip, fp, p->kw * in_c); /* the kernel row is contiguous in NHWC */
              } else {
                for (fx = 0; fx < p->kw; ++fx) acc += tm_dot(ip + fx * p->dil_w * in_c, fp + fx * in_c, in_c);
              }
            }
          } else {
            for (fy = 0; fy < p->kh; ++fy) {
              const int32_t iy = y0 + p->dil_h * fy;
              if (iy < 0 || iy >= p->in.h) continue;
              for (fx = 0; fx < p->kw; ++fx) {
                const int32_t ix = x0 + p->dil_w * fx;
                const int8_t *ip;
                const int8_t *fp;
                if (ix < 0 || ix >= p->in.w) continue;
                ip = in + ((b * p->in.h + iy) * p->in.w + ix) * in_c;
                fp = p->filter + ((oc * p->kh + fy) * p->kw + fx) * in_c;
                for (ic = 0; ic < in_c; ++ic) acc += ((int32_t)ip[ic] + p->input_offset) * (int32_t)fp[ic];
              }
            }
          }
          o[oc] = tm_finish(acc, p->bias, oc, p->mult[oc], p->shift[oc], p->output_offset, p->act_min,
                            p->act_max);
        }
      }
    }
  }
}

void tm_depthwise_conv2d_s8(const tm_conv_params *p, const int8_t *in, int8_t *out) {
  const int32_t in_c = p->in.c, out_c = p->out.c, dm = p->depth_multiplier;
  const int32_t span_h = p->dil_h * (p->kh - 1), span_w = p->dil_w * (p->kw - 1);
  int32_t b, oy, ox, ic, m, fy, fx;
  for (b = 0; b < p->out.n; ++b) {
    for (oy = 0; oy < p->out.h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out.w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int interior = y0 >= 0 && y0 + span_h < p->in.h && x0 >= 0 && x0 + span_w < p->in.w;
        int8_t *o = out + ((b * p->out.h + oy) * p->out.w + ox) * out_c;
        for (ic = 0; ic < in_c; ++ic) {
          for (m = 0; m < dm; ++m) {
            const int32_t oc = ic * dm + m;
            int32_t acc = 0;
            if (interior) {
              const int8_t *ip = in + ((b * p->in.h + y0) * p->in.w + x0) * in_c + ic;
              const int8_t *fp = p->filter + oc;
              acc = p->input_offset * p->filter_sum[oc];
              for (fy = 0; fy < p->kh; ++fy) {
                const int8_t *row = ip + p->dil_h * fy * p->in.w * in_c;
                for (fx = 0; fx < p->kw; ++fx) acc += (int32_t)row[p->dil_w * fx * in_c] * (int32_t)fp[fx * out_c];
                fp += p->kw * out_c;
              }
            } else {
              for (fy = 0; fy < p->kh; ++fy) {
                const int32_t iy = y0 + p->dil_h * fy;
                if (iy < 0 || iy >= p->in.h) continue;
                for (fx = 0; fx < p->kw; ++fx) {
                  const int32_t ix = x0 + p->dil_w * fx;
                  if (ix < 0 || ix >= p->in.w) continue;
                  acc += ((int32_t)in[((b * p->in.h + iy) * p->in.w + ix) * in_c + ic] + p->input_offset) *
                         (int32_t)p->filter[(fy * p->kw + fx) * out_c + oc];
                }
              }
            }
            o[oc] = tm_finish(acc, p->bias, oc, p->mult[oc], p->shift[oc], p->output_offset, p->act_min,
                              p->act_max);
          }
        }
      }
    }
  }
}

void tm_fully_connected_s8(const tm_fc_params *p, const int8_t *in, int8_t *out) {
  int32_t b, oc, d;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *x = in + b * p->in_depth;
    for (oc = 0; oc < p->out_depth; ++oc) {
      const int8_t *w = p->filter + oc * p->in_depth;
      const int32_t q = p->per_channel ? oc : 0;
      int32_t acc;
      if (p->filter_offset == 0) {
        acc = tm_dot(w, x, p->in_depth) + p->input_offset * p->filter_sum[oc];
      } else {
        acc = 0;
        for (d = 0; d < p->in_depth; ++d) acc += ((int32_t)w[d] + p->filter_offset) * ((int32_t)x[d] + p->input_offset);
      }
      out[b * p->out_depth + oc] =
          tm_finish(acc, p->bias, oc, p->mult[q], p->shift[q], p->output_offset, p->act_min, p->act_max);
    }
  }
}

/* ---- pooling ------------------------------------------------------------- */

static void tm_pool(const tm_pool_params *p, const int8_t *in, int8_t *out, int average) {
  const int32_t C = p->in.c;
  int32_t b, oy, ox, c, fy, fx;
  for (b = 0; b < p->out.n; ++b) {
    for (oy = 0; oy < p->out.h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t fy_start = y0 < 0 ? -y0 : 0;
      const int32_t fy_end = p->kh < p->in.h - y0 ? p->kh : p->in.h - y0;
      for (ox = 0; ox < p->out.w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t fx_start = x0 < 0 ? -x0 : 0;
        const int32_t fx_end = p->kw < p->in.w - x0 ? p->kw : p->in.w - x0;
        for (c = 0; c < C; ++c) {
          int32_t acc = average ? 0 : -128;
          int32_t count = 0;
          for (fy = fy_start; fy < fy_end; ++fy) {
            for (fx = fx_start; fx < fx_end; ++fx) {
              const int32_t v = in[((b * p->in.h + y0 + fy) * p->in.w + x0 + fx) * C + c];
              if (average) {
                acc += v;
              } else if (v > acc) {
                acc = v;
              }
              ++count;
            }
          }
          if (average && count > 0) acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
          out[((b * p->out.h + oy) * p->out.w + ox) * C + c] = (int8_t)tm_clamp(acc, p->act_min, p->act_max);
        }
      }
    }
  }
}

void tm_max_pool_s8(const tm_pool_params *p, const int8_t *in, int8_t *out) { tm_pool(p, in, out, 0); }
void tm_avg_pool_s8(const tm_pool_params *p, const int8_t *in, int8_t *out) { tm_pool(p, in, out, 1); }

/* ---- softmax, logistic, tanh --------------------------------------------- */

void tm_softmax_s8(const tm_softmax_params *p, const int8_t *in, int8_t *out) {
  int32_t r, c;
  for (r = 0; r < p->rows; ++r) {
    const int8_t *x = in + r * p->depth;
    int8_t *y = out + r * p->depth;
    int32_t max_in_row = -128, sum_of_exps = 0, shifted_scale, num_bits_over_unit, headroom;
    for (c = 0; c < p->depth; ++c) max_in_row = x[c] > max_in_row ? x[c] : max_in_row;
    for (c = 0; c < p->depth; ++c) {
      const int32_t diff = (int32_t)x[c] - max_in_row;
      if (diff >= p->diff_min) {
        const int32_t scaled = tm_high_mul(tm_shl(diff, p->input_left_shift), p->input_multiplier);
        sum_of_exps += tm_mul_pot(tm_exp_negative(scaled, 5), -12);
      }
    }
    headroom = tm_clz32((uint32_t)sum_of_exps);
    num_bits_over_unit = 12 - headroom;
    shifted_scale = tm_one_over_one_plus((int32_t)(((uint32_t)sum_of_exps << headroom) - (1u << 31)));
    for (c = 0; c < p->depth; ++c) {
      const int32_t diff = (int32_t)x[c] - max_in_row;
      if (diff >= p->diff_min) {
        const int32_t scaled = tm_high_mul(tm_shl(diff, p->input_left_shift), p->input_multiplier);
        const int32_t e = tm_exp_negative(scaled, 5);
        const int32_t unsat = tm_round_shift(tm_high_mul(shifted_scale, e), num_bits_over_unit + 31 - 8);
        y[c] = (int8_t)tm_clamp(unsat - 128, -128, 127);
      } else {
        y[c] = -128;
      }
    }
  }
}

static int32_t tm_logistic_q0(int32_t a) {
  const int32_t abs_a = a > 0 ? a : -a;
  const int32_t positive = tm_one_over_one_plus(tm_exp_negative(-abs_a, 4));
  if (a == 0) return (int32_t)1 << 30;
  return a > 0 ? positive : TM_INT32_MAX - positive;
}

static int32_t tm_tanh_q0(int32_t a) {
  const int32_t n = a < 0 ? a : -a;
  const int32_t t = tm_one_minus_over_one_plus(tm_exp_negative(n, 5));
  if (a == 0) return 0;
  return a < 0 ? -t : t;
}

/* LOGISTIC and TANH share TFLM's input handling: saturate outside the radius,
 * otherwise rescale to Q4.27 and evaluate in fixed point. */
static void tm_sigmoid_like(const tm_sigmoid_params *p, const int8_t *in, int8_t *out, int is_tanh) {
  int32_t i;
  for (i = 0; i < p->count; ++i) {
    const int32_t x = (int32_t)in[i] - p->input_zero_point;
    if (x <= -p->input_range_radius) {
      out[i] = -128;
    } else if (x >= p->input_range_radius) {
      out[i] = 127;
    } else {
      const int32_t q4 = tm_requantize(x, p->input_multiplier, p->input_left_shift);
      const int32_t y = is_tanh ? tm_round_shift(tm_tanh_q0(q4), 24) : tm_round_shift(tm_logistic_q0(q4), 23) - 128;
      out[i] = (int8_t)tm_clamp(y, -128, 127);
    }
  }
}

void tm_logistic_s8(const tm_sigmoid_params *p, const int8_t *in, int8_t *out) { tm_sigmoid_like(p, in, out, 0); }
void tm_tanh_s8(const tm_sigmoid_params *p, const int8_t *in, int8_t *out) { tm_sigmoid_like(p, in, out, 1); }

/* ---- elementwise ----------------------------------------------------------- */

static void tm_binary(const tm_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out, int mul) {
  int32_t d0, d1, d2, d3;
  int8_t *o = out;
  for (d0 = 0; d0 < p->out.n; ++d0) {
    for (d1 = 0; d1 < p->out.h; ++d1) {
      for (d2 = 0; d2 < p->out.w; ++d2) {
        for (d3 = 0; d3 < p->out.c; ++d3) {
          const int32_t i1 = d0 * p->in1_stride[0] + d1 * p->in1_stride[1] + d2 * p->in1_stride[2] +
                             d3 * p->in1_stride[3];
          const int32_t i2 = d0 * p->in2_stride[0] + d1 * p->in2_stride[1] + d2 * p->in2_stride[2] +
                             d3 * p->in2_stride[3];
          const int32_t a = (int32_t)in1[i1] + p->input1_offset;
          const int32_t b = (int32_t)in2[i2] + p->input2_offset;
          int32_t r;
          if (mul) {
            r = p->output_offset + tm_requantize(a * b, p->output_multiplier, p->output_shift);
          } else {
            const int32_t sa = tm_requantize_small(tm_shl(a, p->left_shift), p->input1_multiplier, p->input1_shift);
            const int32_t sb = tm_requantize_small(tm_shl(b, p->left_shift), p->input2_multiplier, p->input2_shift);
            r = tm_requantize_small(sa + sb, p->output_multiplier, p->output_shift) + p->output_offset;
          }
          *o++ = (int8_t)tm_clamp(r, p->act_min, p->act_max);
        }
      }
    }
  }
}

void tm_add_s8(const tm_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  tm_binary(p, in1, in2, out, 0);
}

void tm_mul_s8(const tm_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  tm_binary(p, in1, in2, out, 1);
}

/* ---- mean ------------------------------------------------------------------ */

void tm_mean_s8(const tm_mean_params *p, const int8_t *in, int8_t *out) {
  const int32_t dims[4] = {p->in.n, p->in.h, p->in.w, p->in.c};
  int32_t outer[4], count = 1, idx[4], o = 0, k;
  for (k = 0; k < 4; ++k) {
    outer[k] = p->reduce[k] ? 1 : dims[k];
    if (p->reduce[k]) count *= dims[k];
  }
  for (idx[0] = 0; idx[0] < outer[0]; ++idx[0]) {
    for (idx[1] = 0; idx[1] < outer[1]; ++idx[1]) {
      for (idx[2] = 0; idx[2] < outer[2]; ++idx[2]) {
        for (idx[3] = 0; idx[3] < outer[3]; ++idx[3]) {
          int32_t r[4], sum = 0, result;
          for (r[0] = 0; r[0] < (p->reduce[0] ? dims[0] : 1); ++r[0]) {
            for (r[1] = 0; r[1] < (p->reduce[1] ? dims[1] : 1); ++r[1]) {
              for (r[2] = 0; r[2] < (p->reduce[2] ? dims[2] : 1); ++r[2]) {
                for (r[3] = 0; r[3] < (p->reduce[3] ? dims[3] : 1); ++r[3]) {
                  const int32_t i0 = idx[0] + r[0], i1 = idx[1] + r[1], i2 = idx[2] + r[2], i3 = idx[3] + r[3];
                  const int32_t v = in[((i0 * dims[1] + i1) * dims[2] + i2) * dims[3] + i3];
                  sum += v;
                }
              }
            }
          }
          if (p->mode == 0) {
            result = tm_requantize(sum - p->input_zero_point * count, p->multiplier, p->shift) +
                     p->output_zero_point;
          } else {
            result = sum / count;
          }
          out[o++] = (int8_t)tm_clamp(result, -128, 127);
        }
      }
    }
  }
}

/* ---- data movement ------------------------------------------------------- */

void tm_pad_s8(const tm_pad_params *p, const int8_t *in, int8_t *out) {
  int32_t b, y, x;
  memset(out, p->value, (size_t)p->out.n * p->out.h * p->out.w * p->out.c);
  for (b = 0; b < p->in.n; ++b) {
    for (y = 0; y < p->in.h; ++y) {
      for (x = 0; x < p->in.w; ++x) {
        const int8_t *src = in + ((b * p->in.h + y) * p->in.w + x) * p->in.c;
        int8_t *dst = out + (((b + p->before[0]) * p->out.h + y + p->before[1]) * p->out.w + x + p->before[2]) *
                                p->out.c + p->before[3];
        memcpy(dst, src, (size_t)p->in.c);
      }
    }
  }
}

void tm_concatenation(int32_t outer, int32_t count, const int32_t *inner, const int8_t *const *inputs,
                      int8_t *out) {
  int32_t o, i;
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < count; ++i) {
      memcpy(out, inputs[i] + (size_t)o * inner[i], (size_t)inner[i]);
      out += inner[i];
    }
  }
}

void tm_quantize_f32_s8(int32_t count, float scale, int32_t zero_point, const float *in, int8_t *out) {
  int32_t i;
  for (i = 0; i < count; ++i) {
    const int32_t r = (int32_t)roundf(in[i] / scale) + zero_point;
    out[i] = (int8_t)tm_clamp(r, -128, 127);
  }
}

void tm_requantize_s8(int32_t count, int32_t input_zero_point, int32_t output_zero_point, int32_t multiplier,
                      int32_t shift, const int8_t *in, int8_t *out) {
  int32_t i;
  for (i = 0; i < count; ++i) {
    const int32_t r = tm_requantize((int32_t)in[i] - input_zero_point, multiplier, shift) + output_zero_point;
    out[i] = (int8_t)tm_clamp(r, -128, 127);
  }
}

void tm_dequantize_s8_f32(int32_t count, double scale, int32_t zero_point, const int8_t *in, float *out) {
  int32_t i;
  for (i = 0; i < count; ++i) out[i] = (float)(scale * (double)((int32_t)in[i] - zero_point));
}
