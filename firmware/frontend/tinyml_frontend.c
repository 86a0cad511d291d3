/*
 * tinyml's log-mel front end (see tinyml_frontend.h), per frame:
 *
 *   1. window: x[n] = sample[n] * window[n], samples as their int16 values;
 *   2. a real FFT of N = TM_FE_FFT_SIZE points, as an N/2-point complex
 *      radix-2 FFT of z[n] = x[2n] + i x[2n+1] followed by the real-split step;
 *   3. power |X[k]|^2 for k = 0..N/2;
 *   4. the mel filterbank, each band a run of consecutive bins;
 *   5. log(max(mel, TM_FE_LOG_FLOOR)).
 *
 * librosa scales samples by 1/32768 and the split step halves X; both are
 * powers of two, so the generator folds them into the mel weights
 * (librosa's weights times 2^-32), which changes no rounding.
 * Twiddles and the bit-reversal permutation are tables: no sin/cos here.
 * Build with -ffp-contract=off so the host and the device round alike.
 */
#include "tinyml_frontend.h"

#include <math.h>
#include <stdint.h>

#if TM_FE_FFT_SIZE < 16 || (TM_FE_FFT_SIZE & (TM_FE_FFT_SIZE - 1)) != 0
#error "TM_FE_FFT_SIZE must be a power of two, at least 16"
#endif

#define TM_FE_HALF (TM_FE_FFT_SIZE / 2) /* points of the complex FFT */

static float g_z[TM_FE_FFT_SIZE];       /* TM_FE_HALF complex values as (re, im) pairs */
static float g_power[TM_FE_HALF + 1];   /* |2 X[k]|^2, X from int16-valued samples */

/* In-place radix-2 decimation-in-time FFT of TM_FE_HALF points, input in bit-reversed order. */
static void fft_half(float *z) {
  int half, j, k;
  for (half = 1; half < TM_FE_HALF; half *= 2) {
    const int group = 2 * half;
    const int step = TM_FE_HALF / half; /* W_{group}^j = W_N^{j * step} */
    for (k = 0; k < TM_FE_HALF; k += group) { /* j = 0: the twiddle is 1 */
      float *a = &z[2 * k];
      float *b = &z[2 * (k + half)];
      const float br = b[0], bi = b[1];
      b[0] = a[0] - br;
      b[1] = a[1] - bi;
      a[0] += br;
      a[1] += bi;
    }
    for (j = 1; j < half; ++j) {
      const float wr = tm_fe_twiddle[2 * j * step];
      const float wi = tm_fe_twiddle[2 * j * step + 1];
      for (k = j; k < TM_FE_HALF; k += group) {
        float *a = &z[2 * k];
        float *b = &z[2 * (k + half)];
        const float tr = b[0] * wr - b[1] * wi;
        const float ti = b[0] * wi + b[1] * wr;
        b[0] = a[0] - tr;
        b[1] = a[1] - ti;
        a[0] += tr;
        a[1] += ti;
      }
    }
  }
}

/* From Z = FFT(z) to the power of the real FFT: with E, O the spectra of the even and odd
 * samples, 2E[k] = Z[k] + conj(Z[M-k]), 2O[k] = -i (Z[k] - conj(Z[M-k])) (M = N/2),
 * X[k] = E[k] + W_N^k O[k] and X[M-k] = conj(E[k] - W_N^k O[k]). */
static void split_power(const float *z, float *power) {
  int k;
  {
    const float even = 2.0f * (z[0] + z[1]);
    const float odd = 2.0f * (z[0] - z[1]);
    power[0] = even * even;
    power[TM_FE_HALF] = odd * odd;
  }
  for (k = 1; k < TM_FE_HALF / 2; ++k) {
    const float *a = &z[2 * k];
    const float *b = &z[2 * (TM_FE_HALF - k)];
    const float er = a[0] + b[0], ei = a[1] - b[1]; /* 2E[k] */
    const float dr = a[0] - b[0], di = a[1] + b[1]; /* Z[k] - conj(Z[M-k]); 2O[k] = di - i dr */
    const float wr = tm_fe_twiddle[2 * k], wi = tm_fe_twiddle[2 * k + 1];
    const float tr = di * wr + dr * wi; /* 2 W O */
    const float ti = di * wi - dr * wr;
    const float pr = er + tr, pi = ei + ti;
    const float mr = er - tr, mi = ei - ti;
    power[k] = pr * pr + pi * pi;
    power[TM_FE_HALF - k] = mr * mr + mi * mi;
  }
  {
    /* k = M/2: X = conj(Z[M/2]) */
    const float r = 2.0f * z[TM_FE_HALF], i = 2.0f * z[TM_FE_HALF + 1];
    power[TM_FE_HALF / 2] = r * r + i * i;
  }
}

void tm_frontend_frame(const int16_t *samples, float *out) {
  const float *weights = tm_fe_mel_weights;
  int n, band;
  for (n = 0; n < TM_FE_HALF; ++n) {
    float *z = &g_z[2 * tm_fe_bitrev[n]];
    z[0] = (float)samples[2 * n] * tm_fe_window[2 * n];
    z[1] = (float)samples[2 * n + 1] * tm_fe_window[2 * n + 1];
  }
  fft_half(g_z);
  split_power(g_z, g_power);
  for (band = 0; band < TM_FE_MEL_BANDS; ++band) {
    const float *power = &g_power[tm_fe_mel_start[band]];
    const int count = tm_fe_mel_count[band];
    float mel = 0.0f;
    for (n = 0; n < count; ++n) mel += weights[n] * power[n];
    weights += count;
    out[band] = logf(mel > TM_FE_LOG_FLOOR ? mel : TM_FE_LOG_FLOOR);
  }
}

void tm_frontend_quantize(const float *features, int8_t *out) {
  /* 1.5 * 2^23: adding and subtracting it rounds |v| <= 2^22 to an integer, half to even
   * (the default rounding mode, as rintf). */
  const float round_magic = 12582912.0f;
  int band;
  for (band = 0; band < TM_FE_MEL_BANDS; ++band) {
    float v = features[band] / TM_FE_INPUT_SCALE;
    float r;
    int q;
    /* Beyond +-384 every zero point saturates; clamping first keeps the rounding exact. */
    if (!(v <= 384.0f)) v = 384.0f;
    if (v < -384.0f) v = -384.0f;
    r = v + round_magic;
    r -= round_magic;
    q = (int)r + TM_FE_INPUT_ZERO_POINT;
    out[band] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
  }
}
