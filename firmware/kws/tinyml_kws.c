/* tinyml's keyword-spotting app core: see tinyml_kws.h. No heap, no printf. */
#include "tinyml_kws.h"

#include <string.h>

#include "tinyml_frontend.h"

#define ROW TM_FE_MEL_BANDS

const char *const tm_kws_labels[TM_KWS_NUM_LABELS] = {TM_KWS_LABEL_NAMES};
const uint8_t tm_kws_is_keyword[TM_KWS_NUM_LABELS] = {TM_KWS_IS_KEYWORD};

tm_kws_params tm_kws_default_params(void) {
  tm_kws_params p;
  p.infer_every = TM_KWS_INFER_EVERY;
  p.average = TM_KWS_AVERAGE;
  p.threshold = TM_KWS_THRESHOLD;
  p.suppression_ms = TM_KWS_SUPPRESSION_MS;
  return p;
}

static void stage(const tm_kws *app, tm_kws_stage which, int begin) {
  if (app->hooks.stage) app->hooks.stage(app->hooks.user, which, begin);
}

int tm_kws_init(tm_kws *app, const tm_kws_params *params, const tm_kws_model *model, const tm_kws_hooks *hooks) {
  uint32_t row;
  memset(app, 0, sizeof *app);
  app->params = params ? *params : tm_kws_default_params();
  app->model = *model;
  if (hooks) app->hooks = *hooks;
  if (app->params.infer_every < 1 || app->params.average < 1 || app->params.average > TM_KWS_MAX_AVERAGE ||
      app->params.threshold > 255u) {
    return -1;
  }
  /* Before the stream starts the app has heard silence: every row is the all-zero frame. */
  tm_frontend_frame(app->history, app->window);
  for (row = 1; row < TM_FE_FRAMES; ++row) memcpy(&app->window[row * ROW], app->window, ROW * sizeof app->window[0]);
  return 0;
}

static uint32_t stream_ms(uint32_t hops) {
  return (uint32_t)((uint64_t)hops * TM_FE_HOP * 1000u / TM_FE_SAMPLE_RATE);
}

static void decide(tm_kws *app, uint32_t index, uint32_t now_ms) {
  uint32_t best = 0, i;
  for (i = 1; i < TM_KWS_NUM_LABELS; ++i) {
    if (app->smoothed[i] > app->smoothed[best]) best = i; /* strict: the lowest index wins a tie */
  }
  if (!tm_kws_is_keyword[best] || app->smoothed[best] < app->params.threshold) return;
  if (app->detected && now_ms - app->last_detection_ms < app->params.suppression_ms) return;
  app->detected = 1;
  app->last_detection_ms = now_ms;
  ++app->detections;
  if (app->hooks.detection) {
    tm_kws_detection d;
    d.label = (int)best;
    d.score = app->smoothed[best];
    d.time_ms = now_ms;
    d.index = index;
    d.hop = app->hops;
    app->hooks.detection(app->hooks.user, &d);
  }
}

/* The model's int8 input from the window, oldest frame first: each frame normalized (with
 * TM_FE_NORMALIZE_MEAN, less each band's mean over the window: a sum of the frames oldest first in
 * float32, divided by their number) and quantized. evaluate/kws_stream.py does the same arithmetic. */
static void model_input(tm_kws *app) {
  uint32_t t, b;
#if TM_FE_NORMALIZE_MEAN
  for (b = 0; b < ROW; ++b) app->mean[b] = 0.0f;
  for (t = 0; t < TM_FE_FRAMES; ++t) {
    const float *frame = &app->window[((app->oldest + t) % TM_FE_FRAMES) * ROW];
    for (b = 0; b < ROW; ++b) app->mean[b] += frame[b];
  }
  for (b = 0; b < ROW; ++b) app->mean[b] /= (float)TM_FE_FRAMES;
#endif
  for (t = 0; t < TM_FE_FRAMES; ++t) {
    const float *frame = &app->window[((app->oldest + t) % TM_FE_FRAMES) * ROW];
    for (b = 0; b < ROW; ++b) app->row[b] = frame[b] - app->mean[b]; /* mean stays 0 without normalization */
    tm_frontend_quantize(app->row, &app->model.input[t * ROW]);
  }
}

static void infer(tm_kws *app) {
  const uint32_t now_ms = stream_ms(app->hops);
  const uint32_t index = app->inferences++;
  tm_kws_inference event;
  int status;
  uint32_t i;
  stage(app, TM_KWS_STAGE_NETWORK, 1); /* the network's stage includes building its input from the window */
  model_input(app);
  status = app->model.invoke();
  stage(app, TM_KWS_STAGE_NETWORK, 0);
  if (status == 0) {
    /* The history is a ring of `average` slots; `held` of them are filled. */
    const uint32_t held = app->scored < app->params.average ? app->scored + 1 : app->params.average;
    uint8_t *slot = app->scores[app->scored % app->params.average];
    ++app->scored;
    for (i = 0; i < TM_KWS_NUM_LABELS; ++i) slot[i] = (uint8_t)(app->model.output[i] + 128);
    for (i = 0; i < TM_KWS_NUM_LABELS; ++i) {
      uint32_t sum = 0, j;
      for (j = 0; j < held; ++j) sum += app->scores[j][i];
      app->smoothed[i] = (uint8_t)(sum / held);
    }
  }
  event.index = index;
  event.hop = app->hops;
  event.time_ms = now_ms;
  event.status = status;
  event.scores = app->model.output;
  event.smoothed = app->smoothed;
  if (app->hooks.inference) app->hooks.inference(app->hooks.user, &event);
  if (status == 0) decide(app, index, now_ms);
}

static void hop(tm_kws *app) {
  stage(app, TM_KWS_STAGE_FRONTEND, 1);
#if TM_FE_HOP < TM_FE_FFT_SIZE
  memmove(app->history, &app->history[TM_FE_HOP], (TM_FE_FFT_SIZE - TM_FE_HOP) * sizeof app->history[0]);
  memcpy(&app->history[TM_FE_FFT_SIZE - TM_FE_HOP], app->fresh, TM_FE_HOP * sizeof app->history[0]);
#else
  memcpy(app->history, &app->fresh[TM_FE_HOP - TM_FE_FFT_SIZE], TM_FE_FFT_SIZE * sizeof app->history[0]);
#endif
  tm_frontend_frame(app->history, &app->window[app->oldest * ROW]); /* the newest frame replaces the oldest */
  app->oldest = (app->oldest + 1u) % TM_FE_FRAMES;
  ++app->hops;
  stage(app, TM_KWS_STAGE_FRONTEND, 0);
  if (app->hops % app->params.infer_every == 0u) infer(app);
}

uint32_t tm_kws_push(tm_kws *app, const int16_t *samples, size_t n) {
  uint32_t frames = 0;
  while (n > 0) {
    size_t take = TM_FE_HOP - app->fresh_count;
    if (take > n) take = n;
    memcpy(&app->fresh[app->fresh_count], samples, take * sizeof samples[0]);
    app->fresh_count += (uint32_t)take;
    samples += take;
    n -= take;
    if (app->fresh_count == TM_FE_HOP) {
      app->fresh_count = 0;
      hop(app);
      ++frames;
    }
  }
  return frames;
}
