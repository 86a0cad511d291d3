/*
 * tinyml's int8 kernels: see tinyml_kernels.h. Written for tinyml; the
 * arithmetic follows TensorFlow Lite Micro's reference kernels so that results
 * are identical bit for bit.
 */
#include "tinyml_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#include <arm_acle.h>
#define TM_DSP 1 /* Cortex-M4/M7/M33 with the DSP extension: two 16-bit MACs per SMLAD */
#if defined(__OPTIMIZE__) && defined(__thumb2__) && !defined(TINYML_NO_ASM)
/* The hot loops in assembly: they need 12 or 13 registers, which an unoptimised build (keeping a frame
 * pointer) cannot give them, so -O0 builds take the same loops in C with the same instructions'
 * intrinsics; so does a build with -DTINYML_NO_ASM (for flags that reserve registers, e.g. -ffixed-r9
 * with -fno-omit-frame-pointer). */
#define TM_ASM 1
#endif
#endif

#if defined(__GNUC__) && !defined(__clang__)
/* The general kernels' inner loops are the whole cost of inference where they run: optimise them for
 * speed even in -Os builds. (The fast paths below keep the build's flags: their hot loops are
 * written out instruction by instruction, and the rest is smaller at -Os.) */
#pragma GCC push_options
#pragma GCC optimize("O2")
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

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* ---- the fast paths ------------------------------------------------------------------------------
 * See tinyml_kernels.h. One algorithm for every core: on a core with the DSP extension the widening
 * and the multiply-accumulates are single instructions, elsewhere the same integers in plain C. */

#if defined(__GNUC__)
#define TM_INLINE __attribute__((always_inline))
#define TM_NOINLINE __attribute__((noinline))
#else
#define TM_INLINE
#define TM_NOINLINE
#endif

static inline uint32_t tm_load32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4); /* one LDR where unaligned loads are allowed (Cortex-M3 and up) */
  return v;
}

#if defined(TM_DSP)
#define tm_sxtb16(x) __sxtb16(x)
#define tm_sxtb16_ror8(x) __sxtb16(((x) >> 8) | ((x) << 24)) /* folded into SXTB16 ..., ROR #8 */
#define tm_smlad(a, b, c) ((int32_t)__smlad((a), (b), (c)))
#define tm_smlabb(a, b, c) ((int32_t)__smlabb((a), (b), (c)))
#define tm_smlatt(a, b, c) ((int32_t)__smlatt((a), (b), (c)))
#else
static inline uint32_t tm_sxtb16(uint32_t x) {
  return (uint32_t)(uint16_t)(int16_t)(int8_t)(x & 0xff) | ((uint32_t)(uint16_t)(int16_t)(int8_t)((x >> 16) & 0xff) << 16);
}
static inline uint32_t tm_sxtb16_ror8(uint32_t x) { return tm_sxtb16((x >> 8) | (x << 24)); }
static inline int32_t tm_lo16(uint32_t x) { return (int16_t)(x & 0xffff); }
static inline int32_t tm_hi16(uint32_t x) { return (int16_t)(x >> 16); }
/* Wrapping like the instructions (and like TFLM's int32 accumulators in practice). */
static inline int32_t tm_smlad(uint32_t a, uint32_t b, int32_t c) {
  return (int32_t)((uint32_t)c + (uint32_t)(tm_lo16(a) * tm_lo16(b)) + (uint32_t)(tm_hi16(a) * tm_hi16(b)));
}
static inline int32_t tm_smlabb(uint32_t a, uint32_t b, int32_t c) {
  return (int32_t)((uint32_t)c + (uint32_t)(tm_lo16(a) * tm_lo16(b)));
}
static inline int32_t tm_smlatt(uint32_t a, uint32_t b, int32_t c) {
  return (int32_t)((uint32_t)c + (uint32_t)(tm_hi16(a) * tm_hi16(b)));
}
#endif

/* round(a * b / 2^32): SMMULR. */
static inline int32_t tm_smmulr(int32_t a, int32_t b) {
#if defined(TM_DSP)
  int32_t r;
  __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
  return r;
#else
  return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* tm_requantize for |acc * 2^shift| < 2^29 (codegen proves the bound per layer), then the output
 * offset and the clamp. With m >= 0, TFLM's rounding high multiply, round(x * m / 2^31) with its
 * nudge and truncating division, is (x * m + 2^30) >> 31 for either sign, which is SMMULR of 2x and
 * m. Its rounding right shift by e >= 1 (halves away from zero) is ((y >> (e - 1)) + 1) >> 1 with
 * y = x - (x < 0). */
static inline TM_INLINE int8_t tm_requantize_fast(int32_t acc, int32_t m, int32_t shift, int32_t output_offset,
                                        int32_t act_min, int32_t act_max) {
  int32_t x;
  if (shift >= 0) {
    x = tm_smmulr((int32_t)((uint32_t)acc << (shift + 1)), m);
  } else {
    x = tm_smmulr((int32_t)((uint32_t)acc << 1), m);
    x = (((x + (x >> 31)) >> ~shift) + 1) >> 1; /* ~shift = e - 1 */
  }
  x += output_offset;
  x = x < act_min ? act_min : x;
  return (int8_t)(x > act_max ? act_max : x);
}

/* Small copies and fills inline: the library's memcpy costs more to call than a kernel row to copy. */
static inline void tm_copy(int8_t *dst, const int8_t *src, int32_t n) {
  for (; n >= 4; n -= 4, dst += 4, src += 4) memcpy(dst, src, 4);
  for (; n > 0; --n) *dst++ = *src++;
}

static inline void tm_fill(int8_t *dst, int8_t value, int32_t n) {
  for (; n > 0; --n) *dst++ = value;
}

/* One output pixel's column: the kernel window in (fy, fx, c) order, padded taps and the tail up to
 * depth4 set to the input's zero point (the folded bias makes those contribute nothing). */
static void tm_gather(const tm_conv_fast_params *p, const int8_t *in, int32_t b, int32_t pixel, int8_t *col) {
  const int32_t in_c = p->in.c, row_bytes = p->kw * in_c;
  const int32_t oy = pixel / p->out.w, ox = pixel - oy * p->out.w;
  const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
  const int8_t zp = (int8_t)p->input_zero_point;
  int32_t fy, fx;
  int8_t *dst = col;
  for (fy = 0; fy < p->kh; ++fy, dst += row_bytes) {
    const int32_t iy = y0 + fy;
    const int8_t *row = in + ((b * p->in.h + (iy < 0 ? 0 : iy)) * p->in.w) * in_c; /* used only when inside */
    if (iy < 0 || iy >= p->in.h) {
      tm_fill(dst, zp, row_bytes);
    } else if (x0 >= 0 && x0 + p->kw <= p->in.w) {
      tm_copy(dst, row + x0 * in_c, row_bytes);
    } else {
      for (fx = 0; fx < p->kw; ++fx) {
        const int32_t ix = x0 + fx;
        if (ix < 0 || ix >= p->in.w) {
          tm_fill(dst + fx * in_c, zp, in_c);
        } else {
          tm_copy(dst + fx * in_c, row + ix * in_c, in_c);
        }
      }
    }
  }
  tm_fill(col + p->depth, zp, p->depth4 - p->depth);
}

/* depth4 int8 -> int16 as SXTB16 pairs, (x0, x2) and (x1, x3) for each group of four, into every
 * other pair of words: the two columns of a block interleave (a_even, a_odd, b_even, b_odd). */
static void tm_widen(const int8_t *src, uint32_t *dst, int32_t depth4) {
  int32_t i;
  for (i = 0; i < depth4; i += 4, dst += 4) {
    const uint32_t v = tm_load32(src + i);
    dst[0] = tm_sxtb16(v);
    dst[1] = tm_sxtb16_ror8(v);
  }
}

/* The 2 x 2 block: columns a and b (interleaved as tm_widen writes them) against two output channels
 * whose filter rows interleave in 4-byte groups (channel 0's group g, then channel 1's). */
#if defined(TM_ASM)
#define TM_BLOCK_GROUP                          \
  "ldrd %[ae], %[ao], [%[c]], #8\n\t"           \
  "ldrd %[be], %[bo], [%[c]], #8\n\t"           \
  "ldr %[wv], [%[w]], #4\n\t"                   \
  "sxtb16 %[we], %[wv]\n\t"                     \
  "sxtb16 %[wv], %[wv], ror #8\n\t"             \
  "smlad %[aa], %[ae], %[we], %[aa]\n\t"        \
  "smlad %[aa], %[ao], %[wv], %[aa]\n\t"        \
  "smlad %[ba], %[be], %[we], %[ba]\n\t"        \
  "smlad %[ba], %[bo], %[wv], %[ba]\n\t"        \
  "ldr %[wv], [%[w]], #4\n\t"                   \
  "sxtb16 %[we], %[wv]\n\t"                     \
  "sxtb16 %[wv], %[wv], ror #8\n\t"             \
  "smlad %[ab], %[ae], %[we], %[ab]\n\t"        \
  "smlad %[ab], %[ao], %[wv], %[ab]\n\t"        \
  "smlad %[bb], %[be], %[we], %[bb]\n\t"        \
  "smlad %[bb], %[bo], %[wv], %[bb]\n\t"

/* groups >= 1: an odd one first, then two per pass. */
static inline void tm_block_2x2(const uint32_t *col, const int8_t *w, int32_t groups, int32_t acc[4]) {
  int32_t aa = acc[0], ab = acc[1], ba = acc[2], bb = acc[3];
  uint32_t ae, ao, be, bo, wv, we;
  __asm__ volatile(
      "tst %[n], #1\n\t"
      "beq 2f\n\t" TM_BLOCK_GROUP
      "2:\n\t"
      "lsrs %[n], %[n], #1\n\t"
      "beq 3f\n\t"
      "1:\n\t" TM_BLOCK_GROUP TM_BLOCK_GROUP
      "subs %[n], %[n], #1\n\t"
      "bne 1b\n\t"
      "3:\n\t"
      : [aa] "+r"(aa), [ab] "+r"(ab), [ba] "+r"(ba), [bb] "+r"(bb), [c] "+r"(col), [w] "+r"(w), [n] "+r"(groups),
        [ae] "=&r"(ae), [ao] "=&r"(ao), [be] "=&r"(be), [bo] "=&r"(bo), [wv] "=&r"(wv), [we] "=&r"(we)
      :
      : "cc", "memory");
  acc[0] = aa;
  acc[1] = ab;
  acc[2] = ba;
  acc[3] = bb;
}
#undef TM_BLOCK_GROUP
#else
static inline void tm_block_2x2(const uint32_t *col, const int8_t *w, int32_t groups, int32_t acc[4]) {
  int32_t aa = acc[0], ab = acc[1], ba = acc[2], bb = acc[3], g;
  for (g = 0; g < groups; ++g, col += 4, w += 8) {
    uint32_t v = tm_load32(w);
    uint32_t even = tm_sxtb16(v), odd = tm_sxtb16_ror8(v);
    aa = tm_smlad(col[1], odd, tm_smlad(col[0], even, aa));
    ba = tm_smlad(col[3], odd, tm_smlad(col[2], even, ba));
    v = tm_load32(w + 4);
    even = tm_sxtb16(v);
    odd = tm_sxtb16_ror8(v);
    ab = tm_smlad(col[1], odd, tm_smlad(col[0], even, ab));
    bb = tm_smlad(col[3], odd, tm_smlad(col[2], even, bb));
  }
  acc[0] = aa;
  acc[1] = ab;
  acc[2] = ba;
  acc[3] = bb;
}
#endif

void tm_conv2d_s8_fast(const tm_conv_fast_params *p, const int8_t *in, int8_t *out, void *scratch,
                       void *scratch_late, int32_t split) {
  const int32_t d4 = p->depth4, groups = p->depth4 / 4, out_c = p->out.c, pixels = p->out.h * p->out.w;
  const int32_t lo = p->act_min, hi = p->act_max, zo = p->output_offset;
  int32_t b, pixel, oc, g;
  for (b = 0; b < p->out.n; ++b) {
    for (pixel = 0; pixel < pixels; pixel += 2) {
      const int two = pixel + 1 < pixels;
      /* 2 columns of depth4 int16, interleaved, then the int8 staging column */
      uint32_t *col = (uint32_t *)(pixel < split ? scratch : scratch_late);
      int8_t *stage = (int8_t *)(col + d4);
      int8_t *out_a = out + (b * pixels + pixel) * out_c;
      int8_t *out_b = out_a + out_c;
      const int8_t *w = p->filter;
      if (p->pointwise) {
        const int8_t *src = in + (b * pixels + pixel) * d4;
        tm_widen(src, col, d4);
        tm_widen(two ? src + d4 : src, col + 2, d4);
      } else {
        tm_gather(p, in, b, pixel, stage);
        tm_widen(stage, col, d4);
        if (two) tm_gather(p, in, b, pixel + 1, stage);
        tm_widen(stage, col + 2, d4);
      }
      for (oc = 0; oc + 2 <= out_c; oc += 2, w += 2 * d4) {
        int32_t acc[4];
        acc[0] = acc[2] = p->bias_eff[oc];
        acc[1] = acc[3] = p->bias_eff[oc + 1];
        tm_block_2x2(col, w, groups, acc);
        out_a[oc] = tm_requantize_fast(acc[0], p->mult[oc], p->shift[oc], zo, lo, hi);
        out_a[oc + 1] = tm_requantize_fast(acc[1], p->mult[oc + 1], p->shift[oc + 1], zo, lo, hi);
        if (two) {
          out_b[oc] = tm_requantize_fast(acc[2], p->mult[oc], p->shift[oc], zo, lo, hi);
          out_b[oc + 1] = tm_requantize_fast(acc[3], p->mult[oc + 1], p->shift[oc + 1], zo, lo, hi);
        }
      }
      if (oc < out_c) { /* an odd channel count: the last channel's row alone */
        int32_t aa = p->bias_eff[oc], ba = aa;
        const uint32_t *c = col;
        for (g = 0; g < groups; ++g, c += 4, w += 4) {
          const uint32_t v = tm_load32(w);
          const uint32_t even = tm_sxtb16(v), odd = tm_sxtb16_ror8(v);
          aa = tm_smlad(c[1], odd, tm_smlad(c[0], even, aa));
          ba = tm_smlad(c[3], odd, tm_smlad(c[2], even, ba));
        }
        out_a[oc] = tm_requantize_fast(aa, p->mult[oc], p->shift[oc], zo, lo, hi);
        if (two) out_b[oc] = tm_requantize_fast(ba, p->mult[oc], p->shift[oc], zo, lo, hi);
      }
    }
  }
}

/* A whole 3 x 3 window of a 4-channel group: the rows `row_stride` bytes apart, the taps of a row
 * `step` bytes apart (the third through a shifted register), the nine weights consecutive. */
#if defined(TM_ASM)
#define TM_DW_TAP(load)                         \
  load                                          \
  "ldr %[wv], [%[w]], #4\n\t"                   \
  "sxtb16 %[xe], %[xv]\n\t"                     \
  "sxtb16 %[xv], %[xv], ror #8\n\t"             \
  "sxtb16 %[we], %[wv]\n\t"                     \
  "sxtb16 %[wv], %[wv], ror #8\n\t"             \
  "smlabb %[a0], %[xe], %[we], %[a0]\n\t"       \
  "smlatt %[a2], %[xe], %[we], %[a2]\n\t"       \
  "smlabb %[a1], %[xv], %[wv], %[a1]\n\t"       \
  "smlatt %[a3], %[xv], %[wv], %[a3]\n\t"
#define TM_DW_ROW                                        \
  TM_DW_TAP("ldr %[xv], [%[x]]\n\t")                     \
  TM_DW_TAP("ldr %[xv], [%[x], %[step]]\n\t")            \
  TM_DW_TAP("ldr %[xv], [%[x], %[step], lsl #1]\n\t")

static inline void tm_dw_3x3(const int8_t *x, int32_t step, int32_t row_stride, const int8_t *w, int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  uint32_t xv, xe, wv, we;
  __asm__ volatile(
      TM_DW_ROW "add %[x], %[x], %[rs]\n\t" TM_DW_ROW "add %[x], %[x], %[rs]\n\t" TM_DW_ROW
      : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w] "+r"(w),
        [xv] "=&r"(xv), [xe] "=&r"(xe), [wv] "=&r"(wv), [we] "=&r"(we)
      : [step] "r"(step), [rs] "r"(row_stride)
      : "memory");
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}
#undef TM_DW_ROW
#undef TM_DW_TAP
#else
static inline void tm_dw_3x3(const int8_t *x, int32_t step, int32_t row_stride, const int8_t *w, int32_t acc[4]) {
  int32_t fy, fx;
  for (fy = 0; fy < 3; ++fy, x += row_stride) {
    for (fx = 0; fx < 3; ++fx, w += 4) {
      const uint32_t xv = tm_load32(x + fx * step), wv = tm_load32(w);
      const uint32_t xe = tm_sxtb16(xv), xo = tm_sxtb16_ror8(xv), we = tm_sxtb16(wv), wo = tm_sxtb16_ror8(wv);
      acc[0] = tm_smlabb(xe, we, acc[0]);
      acc[2] = tm_smlatt(xe, we, acc[2]);
      acc[1] = tm_smlabb(xo, wo, acc[1]);
      acc[3] = tm_smlatt(xo, wo, acc[3]);
    }
  }
}
#endif

/* The accumulators of one 4-channel group of a window that is not a whole 3 x 3 inside the input:
 * a border window or another kernel size. Padded taps read the input's zero point. Out of line: its
 * frame is only on the stack while it runs. */
static TM_NOINLINE void tm_dw_window(const tm_dw_fast_params *p, const int8_t *image, int32_t origin, int32_t y0,
                                     int32_t x0, int32_t c, const int8_t *f, int32_t acc[4]) {
  const int32_t C = p->in.c, H = p->in.h, W = p->in.w;
  const uint32_t zp_bytes = (uint32_t)(uint8_t)(int8_t)p->input_zero_point * 0x01010101u;
  int32_t fy, fx;
  if (p->kh == 3 && p->kw == 3) { /* the taps copied into a padded window, then the 3 x 3 path */
    uint32_t padded[9];
    for (fy = 0; fy < 3; ++fy) {
      const int32_t iy = y0 + fy;
      for (fx = 0; fx < 3; ++fx) {
        const int32_t ix = x0 + fx;
        padded[3 * fy + fx] =
            (iy >= 0 && iy < H && ix >= 0 && ix < W) ? tm_load32(image + origin + (fy * W + fx) * C + c) : zp_bytes;
      }
    }
    tm_dw_3x3((const int8_t *)padded, 4, 12, f, acc);
    return;
  }
  for (fy = 0; fy < p->kh; ++fy) {
    const int32_t iy = y0 + fy;
    for (fx = 0; fx < p->kw; ++fx, f += 4) {
      const int32_t ix = x0 + fx;
      const uint32_t xv = (iy >= 0 && iy < H && ix >= 0 && ix < W)
                              ? tm_load32(image + origin + (fy * W + fx) * C + c) : zp_bytes;
      const uint32_t wv = tm_load32(f);
      const uint32_t xe = tm_sxtb16(xv), xo = tm_sxtb16_ror8(xv), we = tm_sxtb16(wv), wo = tm_sxtb16_ror8(wv);
      acc[0] = tm_smlabb(xe, we, acc[0]);
      acc[2] = tm_smlatt(xe, we, acc[2]);
      acc[1] = tm_smlabb(xo, wo, acc[1]);
      acc[3] = tm_smlatt(xo, wo, acc[3]);
    }
  }
}

/* One output channel of a depthwise window: its input channel `ch` at every tap (the zero point where
 * the tap is outside), times the tap's weight, `w_step` bytes after the previous tap's. */
static inline int32_t tm_dw_channel(const tm_dw_fast_params *p, const int8_t *image, int32_t origin, int32_t y0,
                                    int32_t x0, int32_t ch, const int8_t *w, int32_t w_step, int32_t acc) {
  const int32_t C = p->in.c, H = p->in.h, W = p->in.w;
  int32_t fy, fx;
  for (fy = 0; fy < p->kh; ++fy) {
    const int32_t iy = y0 + fy;
    const int row = iy >= 0 && iy < H;
    for (fx = 0; fx < p->kw; ++fx, w += w_step) {
      const int32_t ix = x0 + fx;
      acc += (row && ix >= 0 && ix < W ? image[origin + (fy * W + fx) * C + ch] : p->input_zero_point) * *w;
    }
  }
  return acc;
}

/* The channels past the last group of four, one at a time (their filter: [kh][kw][C % 4]). */
static TM_NOINLINE void tm_dw_rest(const tm_dw_fast_params *p, const int8_t *image, int32_t origin, int32_t y0,
                                   int32_t x0, int8_t *o) {
  const int32_t C = p->in.c, C4 = C & ~3, rest = C - C4;
  const int8_t *tail_filter = p->filter + C4 * p->kh * p->kw;
  int32_t c;
  for (c = 0; c < rest; ++c) {
    const int32_t ch = C4 + c;
    const int32_t acc = tm_dw_channel(p, image, origin, y0, x0, ch, tail_filter + c, rest, p->bias_eff[ch]);
    o[ch] = tm_requantize_fast(acc, p->mult[ch], p->shift[ch], p->output_offset, p->act_min, p->act_max);
  }
}

/* Filter layout (codegen reorders it): for each group of four channels its taps in (fy, fx) order, four
 * bytes each; then the channels past the last group, [kh][kw][C % 4]. */
void tm_depthwise_conv2d_s8_fast(const tm_dw_fast_params *p, const int8_t *in, int8_t *out) {
  const int32_t C = p->in.c, H = p->in.h, W = p->in.w, C4 = C & ~3, taps = p->kh * p->kw;
  const int three = p->kh == 3 && p->kw == 3;
  int32_t b, oy, ox, c;
  for (b = 0; b < p->out.n; ++b) {
    for (oy = 0; oy < p->out.h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out.w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int fast = three && y0 >= 0 && y0 + 3 <= H && x0 >= 0 && x0 + 3 <= W;
        const int8_t *image = in + b * H * W * C;
        const int32_t origin = (y0 * W + x0) * C; /* the window's first tap, negative when it starts outside */
        int8_t *o = out + ((b * p->out.h + oy) * p->out.w + ox) * C;
        const int8_t *f = p->filter;
        for (c = 0; c < C4; c += 4, f += 4 * taps) {
          const int32_t *m = p->mult + c, *sh = p->shift + c;
          const int32_t zo = p->output_offset, lo = p->act_min, hi = p->act_max;
          int32_t acc[4];
          acc[0] = p->bias_eff[c];
          acc[1] = p->bias_eff[c + 1];
          acc[2] = p->bias_eff[c + 2];
          acc[3] = p->bias_eff[c + 3];
          if (fast) {
            tm_dw_3x3(image + origin + c, C, W * C, f, acc);
          } else {
            tm_dw_window(p, image, origin, y0, x0, c, f, acc);
          }
          o[c] = tm_requantize_fast(acc[0], m[0], sh[0], zo, lo, hi);
          o[c + 1] = tm_requantize_fast(acc[1], m[1], sh[1], zo, lo, hi);
          o[c + 2] = tm_requantize_fast(acc[2], m[2], sh[2], zo, lo, hi);
          o[c + 3] = tm_requantize_fast(acc[3], m[3], sh[3], zo, lo, hi);
        }
        if (C4 < C) tm_dw_rest(p, image, origin, y0, x0, o);
      }
    }
  }
}

void tm_depthwise_conv2d_mult_s8_fast(const tm_dw_fast_params *p, const int8_t *in, int8_t *out) {
  const int32_t C = p->in.c, M = p->depth_multiplier, OC = C * M, H = p->in.h, W = p->in.w;
  int32_t b, oy, ox, ic, m;
  for (b = 0; b < p->out.n; ++b) {
    for (oy = 0; oy < p->out.h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out.w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int8_t *image = in + b * H * W * C;
        const int32_t origin = (y0 * W + x0) * C; /* the window's first tap, negative when it starts outside */
        int8_t *o = out + ((b * p->out.h + oy) * p->out.w + ox) * OC;
        for (ic = 0; ic < C; ++ic) {
          for (m = 0; m < M; ++m) {
            const int32_t oc = ic * M + m;
            const int32_t acc = tm_dw_channel(p, image, origin, y0, x0, ic, p->filter + oc, OC, p->bias_eff[oc]);
            o[oc] = tm_requantize_fast(acc, p->mult[oc], p->shift[oc], p->output_offset, p->act_min, p->act_max);
          }
        }
      }
    }
  }
}

/* Four output units against the input: their weights interleave in 4-byte groups (unit 0's group g,
 * unit 1's, unit 2's, unit 3's), `groups` whole groups of the input. */
#if defined(TM_ASM)
static inline void tm_fc_block(const int8_t *x, const int8_t *w, int32_t groups, int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  uint32_t xv, xe, wv, we;
  __asm__ volatile(
      "1:\n\t"
      "ldr %[xv], [%[x]], #4\n\t"
      "sxtb16 %[xe], %[xv]\n\t"
      "sxtb16 %[xv], %[xv], ror #8\n\t"
      "ldr %[wv], [%[w]], #4\n\t"
      "sxtb16 %[we], %[wv]\n\t"
      "sxtb16 %[wv], %[wv], ror #8\n\t"
      "smlad %[a0], %[xe], %[we], %[a0]\n\t"
      "smlad %[a0], %[xv], %[wv], %[a0]\n\t"
      "ldr %[wv], [%[w]], #4\n\t"
      "sxtb16 %[we], %[wv]\n\t"
      "sxtb16 %[wv], %[wv], ror #8\n\t"
      "smlad %[a1], %[xe], %[we], %[a1]\n\t"
      "smlad %[a1], %[xv], %[wv], %[a1]\n\t"
      "ldr %[wv], [%[w]], #4\n\t"
      "sxtb16 %[we], %[wv]\n\t"
      "sxtb16 %[wv], %[wv], ror #8\n\t"
      "smlad %[a2], %[xe], %[we], %[a2]\n\t"
      "smlad %[a2], %[xv], %[wv], %[a2]\n\t"
      "ldr %[wv], [%[w]], #4\n\t"
      "sxtb16 %[we], %[wv]\n\t"
      "sxtb16 %[wv], %[wv], ror #8\n\t"
      "smlad %[a3], %[xe], %[we], %[a3]\n\t"
      "smlad %[a3], %[xv], %[wv], %[a3]\n\t"
      "subs %[n], %[n], #1\n\t"
      "bne 1b\n\t"
      : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w] "+r"(w), [n] "+r"(groups),
        [xv] "=&r"(xv), [xe] "=&r"(xe), [wv] "=&r"(wv), [we] "=&r"(we)
      :
      : "cc", "memory");
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}
#else
static inline void tm_fc_block(const int8_t *x, const int8_t *w, int32_t groups, int32_t acc[4]) {
  int32_t g, r;
  for (g = 0; g < groups; ++g, x += 4) {
    const uint32_t xv = tm_load32(x);
    const uint32_t xe = tm_sxtb16(xv), xo = tm_sxtb16_ror8(xv);
    for (r = 0; r < 4; ++r, w += 4) {
      const uint32_t wv = tm_load32(w);
      acc[r] = tm_smlad(xo, tm_sxtb16_ror8(wv), tm_smlad(xe, tm_sxtb16(wv), acc[r]));
    }
  }
}
#endif

/* Filter layout (codegen reorders it, rows zero-padded to a multiple of four): blocks of four units
 * interleaved group by group, then the units past the last block, one padded row each. */
void tm_fully_connected_s8_fast(const tm_fc_fast_params *p, const int8_t *in, int8_t *out) {
  const int32_t D = p->in_depth, U = p->out_depth, full = D / 4, rest = D % 4, D4 = (D + 3) & ~3;
  const int32_t lo = p->act_min, hi = p->act_max, zo = p->output_offset;
  int32_t b, u, r, d;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *x = in + b * D;
    int8_t *o = out + b * U;
    const int8_t *w = p->filter;
    for (u = 0; u + 4 <= U; u += 4, w += 4 * D4) {
      int32_t acc[4];
      for (r = 0; r < 4; ++r) acc[r] = p->bias_eff[u + r];
      if (full) tm_fc_block(x, w, full, acc);
      for (d = 0; d < rest; ++d) { /* the last, partial group */
        const int32_t xd = x[4 * full + d];
        for (r = 0; r < 4; ++r) acc[r] += xd * w[16 * full + 4 * r + d];
      }
      for (r = 0; r < 4; ++r) {
        const int32_t q = p->per_channel ? u + r : 0;
        o[u + r] = tm_requantize_fast(acc[r], p->mult[q], p->shift[q], zo, lo, hi);
      }
    }
    for (; u < U; ++u, w += D4) {
      const int32_t q = p->per_channel ? u : 0;
      int32_t a = p->bias_eff[u];
      for (d = 0; d < 4 * full; d += 4) {
        const uint32_t xv = tm_load32(x + d), wv = tm_load32(w + d);
        a = tm_smlad(tm_sxtb16_ror8(xv), tm_sxtb16_ror8(wv), tm_smlad(tm_sxtb16(xv), tm_sxtb16(wv), a));
      }
      for (; d < D; ++d) a += (int32_t)x[d] * w[d];
      o[u] = tm_requantize_fast(a, p->mult[q], p->shift[q], zo, lo, hi);
    }
  }
}

/* ---- pooling ----------------------------------------------------------------------------------
 * Channels innermost, four per 32-bit word: MAX_POOL_2D keeps the running maximum in the output
 * bytes (SSUB8 sets a flag per byte, SEL picks); AVERAGE_POOL_2D sums 16-bit pairs (SXTB16, SADD16),
 * moved into 32-bit sums every 256 taps so no pair can overflow, then TFLM's rounding division. */

#if defined(TM_DSP)
static inline uint32_t tm_max4(uint32_t a, uint32_t b) {
  (void)__ssub8(a, b);
  return __sel(a, b);
}
#define tm_sadd16(a, b) __sadd16((a), (b))
#else
static inline uint32_t tm_max4(uint32_t a, uint32_t b) {
  uint32_t r = 0;
  int i;
  for (i = 0; i < 32; i += 8) {
    const int8_t x = (int8_t)(a >> i), y = (int8_t)(b >> i);
    r |= (uint32_t)(uint8_t)(x > y ? x : y) << i;
  }
  return r;
}
static inline uint32_t tm_sadd16(uint32_t a, uint32_t b) {
  return ((a + b) & 0xffffu) | (((a >> 16) + (b >> 16)) << 16);
}
#endif

static inline void tm_store32(void *p, uint32_t v) { memcpy(p, &v, 4); }

/* The window of output (oy, ox) clipped to the input: rows [*fy0, *fy1), columns [*fx0, *fx1). */
static inline void tm_pool_window(const tm_pool_params *p, int32_t oy, int32_t ox, int32_t *y0, int32_t *x0,
                                  int32_t *fy0, int32_t *fy1, int32_t *fx0, int32_t *fx1) {
  *y0 = oy * p->stride_h - p->pad_h;
  *x0 = ox * p->stride_w - p->pad_w;
  *fy0 = *y0 < 0 ? -*y0 : 0;
  *fy1 = p->kh < p->in.h - *y0 ? p->kh : p->in.h - *y0;
  *fx0 = *x0 < 0 ? -*x0 : 0;
  *fx1 = p->kw < p->in.w - *x0 ? p->kw : p->in.w - *x0;
}

void tm_max_pool_s8(const tm_pool_params *p, const int8_t *in, int8_t *out) {
  const int32_t C = p->in.c, C4 = C & ~3, H = p->in.h, W = p->in.w;
  const int clamp = p->act_min > -128 || p->act_max < 127;
  int32_t b, oy, ox, fy, fx, c, y0, x0, fy0, fy1, fx0, fx1;
  for (b = 0; b < p->out.n; ++b) {
    for (oy = 0; oy < p->out.h; ++oy) {
      for (ox = 0; ox < p->out.w; ++ox) {
        int8_t *o = out + ((b * p->out.h + oy) * p->out.w + ox) * C;
        tm_pool_window(p, oy, ox, &y0, &x0, &fy0, &fy1, &fx0, &fx1);
        tm_fill(o, -128, C);
        for (fy = fy0; fy < fy1; ++fy) {
          for (fx = fx0; fx < fx1; ++fx) {
            const int8_t *x = in + ((b * H + y0 + fy) * W + x0 + fx) * C;
            for (c = 0; c < C4; c += 4) tm_store32(o + c, tm_max4(tm_load32(o + c), tm_load32(x + c)));
            for (; c < C; ++c) o[c] = x[c] > o[c] ? x[c] : o[c];
          }
        }
        if (clamp) {
          for (c = 0; c < C; ++c) o[c] = (int8_t)tm_clamp(o[c], p->act_min, p->act_max);
        }
      }
    }
  }
}

/* TFLM's average: the sum divided by the taps inside the input, rounded half away from zero. */
static inline int8_t tm_average(int32_t sum, int32_t count, int32_t act_min, int32_t act_max) {
  const int32_t avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
  return (int8_t)tm_clamp(avg, act_min, act_max);
}

void tm_avg_pool_s8(const tm_pool_params *p, const int8_t *in, int8_t *out) {
  const int32_t C = p->in.c, C4 = C & ~3, H = p->in.h, W = p->in.w;
  int32_t b, oy, ox, fy, fx, c, y0, x0, fy0, fy1, fx0, fx1;
  for (b = 0; b < p->out.n; ++b) {
    for (oy = 0; oy < p->out.h; ++oy) {
      for (ox = 0; ox < p->out.w; ++ox) {
        int8_t *o = out + ((b * p->out.h + oy) * p->out.w + ox) * C;
        int32_t count;
        tm_pool_window(p, oy, ox, &y0, &x0, &fy0, &fy1, &fx0, &fx1);
        count = (fy1 > fy0 && fx1 > fx0) ? (fy1 - fy0) * (fx1 - fx0) : 0;
        for (c = 0; c < C4; c += 4) {
          int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, taps = 0;
          uint32_t even = 0, odd = 0; /* (c, c + 2) and (c + 1, c + 3) as 16-bit sums */
          for (fy = fy0; fy < fy1; ++fy) {
            const int8_t *x = in + ((b * H + y0 + fy) * W + x0 + fx0) * C + c;
            for (fx = fx0; fx < fx1; ++fx, x += C) {
              const uint32_t v = tm_load32(x);
              even = tm_sadd16(even, tm_sxtb16(v));
              odd = tm_sadd16(odd, tm_sxtb16_ror8(v));
              if (++taps == 256) { /* 256 * 128 still fits a 16-bit lane */
                s0 += (int16_t)(even & 0xffff);
                s2 += (int16_t)(even >> 16);
                s1 += (int16_t)(odd & 0xffff);
                s3 += (int16_t)(odd >> 16);
                even = odd = 0;
                taps = 0;
              }
            }
          }
          s0 += (int16_t)(even & 0xffff);
          s2 += (int16_t)(even >> 16);
          s1 += (int16_t)(odd & 0xffff);
          s3 += (int16_t)(odd >> 16);
          if (count > 0) {
            o[c] = tm_average(s0, count, p->act_min, p->act_max);
            o[c + 1] = tm_average(s1, count, p->act_min, p->act_max);
            o[c + 2] = tm_average(s2, count, p->act_min, p->act_max);
            o[c + 3] = tm_average(s3, count, p->act_min, p->act_max);
          } else {
            o[c] = o[c + 1] = o[c + 2] = o[c + 3] = (int8_t)tm_clamp(0, p->act_min, p->act_max);
          }
        }
        for (; c < C; ++c) {
          int32_t sum = 0;
          for (fy = fy0; fy < fy1; ++fy) {
            for (fx = fx0; fx < fx1; ++fx) sum += in[((b * H + y0 + fy) * W + x0 + fx) * C + c];
          }
          o[c] = count > 0 ? tm_average(sum, count, p->act_min, p->act_max)
                           : (int8_t)tm_clamp(0, p->act_min, p->act_max);
        }
      }
    }
  }
}
