/*
 * tinyml's keyword-spotting app core: int16 audio in chunks of any size ->
 * feature frames (tinyml_frontend.h) -> a sliding window -> the model ->
 * smoothed scores -> detections. Portable C99, no heap, no printf; the board
 * layer (firmware/board/kws_nano33ble.cpp, firmware/emulator/kws_main.c)
 * feeds audio and prints the events it is called back with.
 *
 * Streaming semantics (tinyml/detector.py states them; evaluate/kws_stream.py is the host reference):
 * - the app keeps the last TM_FE_FFT_SIZE samples, zeros before the stream starts;
 * - after every TM_FE_HOP new samples (hop k = 1, 2, ...) it computes one
 *   feature frame (float log-mel) from them and appends it to a window of the
 *   last TM_FE_FRAMES frames; at start every row of the window holds the
 *   features of an all-zero frame;
 * - every `infer_every` hops it runs the model on the window, normalized (with
 *   TM_FE_NORMALIZE_MEAN each band's mean over the window is taken away) and
 *   quantized to the model's int8 input; the int8 softmax
 *   output (scale 1/256, zero point -128) becomes scores q + 128 in 0..255;
 * - the smoothed score of a label is the integer mean of its scores over the
 *   last `average` inferences (fewer at the start: those there are);
 * - the label with the highest smoothed score (lowest index on a tie) is
 *   detected when it is a keyword, its smoothed score >= `threshold`, and at
 *   least `suppression_ms` of stream time passed since the previous detection.
 *   Stream time at hop k is k * TM_FE_HOP * 1000 / TM_FE_SAMPLE_RATE ms (floor).
 *
 * The generated headers give the sizes: tinyml_frontend_config.h (TM_FE_*) and
 * tinyml_kws_config.h (TM_KWS_NUM_LABELS, TM_KWS_IS_KEYWORD, the default params).
 */
#ifndef TINYML_KWS_H_
#define TINYML_KWS_H_

#include <stddef.h>
#include <stdint.h>

#include "tinyml_frontend_config.h"
#include "tinyml_kws_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef TM_KWS_MAX_AVERAGE
#error "tinyml_kws_config.h must define TM_KWS_MAX_AVERAGE (the longest score history `average` may ask for)"
#endif

/* What to smooth over and when to detect; see the top of this file. */
typedef struct {
  uint32_t infer_every;    /* hops between inferences, >= 1 */
  uint32_t average;        /* inferences averaged, 1..TM_KWS_MAX_AVERAGE */
  uint32_t threshold;      /* smoothed score a keyword needs, 0..255 */
  uint32_t suppression_ms; /* stream time after a detection with no other */
} tm_kws_params;

/* The params tinyml_kws_config.h was generated with. */
tm_kws_params tm_kws_default_params(void);

/* The model: where its int8 input and output live, and how to run it (tinyml_model.h's API). */
typedef struct {
  int8_t *input;        /* TM_FE_FRAMES * TM_FE_MEL_BANDS bytes, frames oldest first */
  const int8_t *output; /* TM_KWS_NUM_LABELS scores */
  int (*invoke)(void);  /* 0 on success */
} tm_kws_model;

typedef enum { TM_KWS_STAGE_FRONTEND = 0, TM_KWS_STAGE_NETWORK = 1 } tm_kws_stage;

typedef struct {
  uint32_t index;          /* inferences before this one since tm_kws_init */
  uint32_t hop;            /* hop index k of the window's newest frame */
  uint32_t time_ms;        /* stream time at that hop */
  int status;              /* what invoke returned; scores are meaningless unless 0 */
  const int8_t *scores;    /* the model's output, TM_KWS_NUM_LABELS */
  const uint8_t *smoothed; /* TM_KWS_NUM_LABELS, 0..255 */
} tm_kws_inference;

typedef struct {
  int label;         /* index into the labels */
  uint32_t score;    /* its smoothed score, 0..255 */
  uint32_t time_ms;  /* stream time of the deciding inference */
  uint32_t index;    /* that inference's index */
  uint32_t hop;      /* and its hop */
} tm_kws_detection;

/* Called back from tm_kws_push; any may be NULL. `stage` brackets each stage (begin = 1, then 0)
 * so a board can time the front end per frame and the network per inference. */
typedef struct {
  void *user;
  void (*stage)(void *user, tm_kws_stage stage, int begin);
  void (*inference)(void *user, const tm_kws_inference *event);
  void (*detection)(void *user, const tm_kws_detection *event);
} tm_kws_hooks;

typedef struct {
  tm_kws_params params;
  tm_kws_model model;
  tm_kws_hooks hooks;
  int16_t history[TM_FE_FFT_SIZE]; /* the last TM_FE_FFT_SIZE samples as of the last hop */
  int16_t fresh[TM_FE_HOP];        /* samples since the last hop */
  uint32_t fresh_count;
  float window[TM_FE_FRAMES * TM_FE_MEL_BANDS]; /* a ring of log-mel frames; `oldest` is its first */
  uint32_t oldest;
  float mean[TM_FE_MEL_BANDS];  /* with TM_FE_NORMALIZE_MEAN: each band's mean over the window */
  float row[TM_FE_MEL_BANDS];   /* one frame of the model's input before quantization */
  uint8_t scores[TM_KWS_MAX_AVERAGE][TM_KWS_NUM_LABELS]; /* a ring of the last `average` inferences */
  uint8_t smoothed[TM_KWS_NUM_LABELS];
  uint32_t hops, inferences, detections;
  uint32_t scored; /* successful inferences, whose scores entered the ring */
  int detected; /* whether last_detection_ms is set */
  uint32_t last_detection_ms;
} tm_kws;

/* Starts a stream: zero history, the window filled with the all-zero frame's features.
 * 0 on success, -1 if the params are out of range (the app is then unusable). */
int tm_kws_init(tm_kws *app, const tm_kws_params *params, const tm_kws_model *model, const tm_kws_hooks *hooks);

/* Feeds `n` samples; computes a frame at every hop boundary crossed and runs the model
 * when one is due, calling the hooks. Returns the number of frames computed. */
uint32_t tm_kws_push(tm_kws *app, const int16_t *samples, size_t n);

/* The labels and which of them are keywords (tinyml_kws_config.h). */
extern const char *const tm_kws_labels[TM_KWS_NUM_LABELS];
extern const uint8_t tm_kws_is_keyword[TM_KWS_NUM_LABELS];

#ifdef __cplusplus
}
#endif

#endif /* TINYML_KWS_H_ */
