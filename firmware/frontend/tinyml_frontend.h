/*
 * tinyml's log-mel audio front end: the `logmel` features of train/frontend.py
 * (librosa's mel power spectrogram, log(max(mel, floor))), computed on the device.
 *
 * Every constant and table comes from tinyml_frontend_config.h and
 * tinyml_frontend_tables.c, which `tinyml codegen` writes per model from
 * librosa's own window and mel filterbank.
 *
 * Portable C99, float32 only, no heap. One frame at a time: the functions use
 * static scratch buffers and are not reentrant.
 */
#ifndef TINYML_FRONTEND_H_
#define TINYML_FRONTEND_H_

#include <stdint.h>

#include "tinyml_frontend_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One feature frame from the TM_FE_FFT_SIZE most recent samples (oldest first): log-mel, TM_FE_MEL_BANDS floats. */
void tm_frontend_frame(const int16_t *samples, float *out);

/* The model's int8 input for one frame: rint(x / TM_FE_INPUT_SCALE) + TM_FE_INPUT_ZERO_POINT, clamped to int8. */
void tm_frontend_quantize(const float *features, int8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_FRONTEND_H_ */
