/*
 * tinyml's keyword-spotting app on the Arduino Nano 33 BLE Sense: the PDM
 * microphone at 16 kHz -> the app core (tinyml_kws.h: front end, model,
 * smoothing, detection) -> protocol lines over USB serial: the events of
 * firmware/emulator/kws_main.c, plus "overrun" and "stages" (every 10 s), with
 * the clock in microseconds.
 *
 * The PDM interrupt copies samples into a ring buffer; loop() hands them to the
 * app, which computes one feature frame per hop and runs the model every
 * `infer_every` hops. When loop() falls behind and the ring is full, the
 * interrupt drops the new samples and counts them; loop() reports each gap as
 * an "overrun" event before it goes on, so lost audio is never silent.
 *
 * This file cannot be built on tinyml's development machines: PlatformIO's
 * nordicnrf52 platform (the mbed core with PDM.h) is not downloadable there.
 * `pio run -e nano33ble` builds it where the platform installs.
 */
#include <Arduino.h>
#include <PDM.h>

#include "tinyml_kws.h"
#include "tinyml_protocol.h"
#include "tinyml_model.h"

#ifndef TINYML_MODEL_NAME
#define TINYML_MODEL_NAME "model"
#endif

namespace {

constexpr uint32_t kRingSamples = 8192;  // 512 ms of audio at 16 kHz; a power of two
static_assert((kRingSamples & (kRingSamples - 1)) == 0, "the ring indices wrap by masking");
constexpr size_t kChunk = 256;  // samples handed to the app at once

volatile int16_t g_ring[kRingSamples];
volatile uint32_t g_written = 0;  // samples stored by the interrupt (only it writes this)
volatile uint32_t g_dropped = 0;  // samples the interrupt had no room for (only it writes this)
volatile uint32_t g_read = 0;     // samples taken by loop() (only it writes this)
uint32_t g_dropped_reported = 0;

tm_kws g_app;
uint32_t g_stage_start[2], g_stage_max_us[2], g_last_network_us;
uint64_t g_stage_us[2];  // totals: 32 bits of microseconds would wrap after 71 minutes

// PDM interrupt: whatever the microphone delivered, into the ring, or counted as dropped.
void on_pdm() {
  int16_t buffer[256];
  int bytes = PDM.available();
  if (bytes > static_cast<int>(sizeof buffer)) bytes = sizeof buffer;
  const int n = PDM.read(buffer, bytes) / 2;
  uint32_t written = g_written;
  for (int i = 0; i < n; ++i) {
    if (written - g_read >= kRingSamples) {
      ++g_dropped;
      continue;
    }
    g_ring[written & (kRingSamples - 1)] = buffer[i];
    ++written;
  }
  g_written = written;
}

void on_stage(void *, tm_kws_stage stage, int begin) {
  const uint32_t now = micros();
  if (begin) {
    g_stage_start[stage] = now;
    return;
  }
  const uint32_t spent = now - g_stage_start[stage];
  g_stage_us[stage] += spent;
  if (spent > g_stage_max_us[stage]) g_stage_max_us[stage] = spent;
  if (stage == TM_KWS_STAGE_NETWORK) g_last_network_us = spent;
}

// Events go out over USB serial through the protocol's writer (tinyml_protocol.h).
void out(const char *data, size_t n) { Serial.write(reinterpret_cast<const uint8_t *>(data), n); }

// One value per label as a JSON array of integers, after `,"name":`.
template <typename T>
void labels_array(const char *name, const T *values) {
  tm_put(out, ",\"");
  tm_put(out, name);
  tm_put(out, "\":[");
  for (int i = 0; i < TM_KWS_NUM_LABELS; ++i) {
    if (i) tm_put(out, ",");
    tm_put_i64(out, values[i]);
  }
  tm_put(out, "]");
}

void on_inference(void *, const tm_kws_inference *e) {
  tm_event_begin(out, "inference");
  tm_field_u64(out, "index", e->index);
  tm_field_u64(out, "hop", e->hop);
  tm_field_u64(out, "time_ms", e->time_ms);
  tm_field_u64(out, "status", e->status < 0 ? -e->status : e->status);
  tm_field_u64(out, "us", g_last_network_us);
  labels_array("scores", e->scores);
  labels_array("smoothed", e->smoothed);
  tm_event_end(out);
}

void on_detection(void *, const tm_kws_detection *d) {
  tm_event_begin(out, "detection");
  tm_field_str(out, "label", tm_kws_labels[d->label]);
  tm_field_u64(out, "label_index", d->label);
  tm_field_u64(out, "score", d->score);
  tm_field_u64(out, "time_ms", d->time_ms);
  tm_field_u64(out, "index", d->index);
  tm_field_u64(out, "hop", d->hop);
  tm_event_end(out);
}

void hello(const tm_kws_params &p) {
  tm_event_begin(out, "hello");
  tm_field_str(out, "app", "kws");
  tm_field_str(out, "model", TINYML_MODEL_NAME);
  tm_field_str(out, "board", "nano33ble");
  tm_field_str(out, "clock", "us");
  tm_put(out, ",\"labels\":[");
  for (int i = 0; i < TM_KWS_NUM_LABELS; ++i) {
    tm_put(out, i ? ",\"" : "\"");
    tm_put(out, tm_kws_labels[i]);
    tm_put(out, "\"");
  }
  tm_put(out, "]");
  tm_field_u64(out, "sample_rate", TM_FE_SAMPLE_RATE);
  tm_field_u64(out, "hop", TM_FE_HOP);
  tm_field_u64(out, "frames", TM_FE_FRAMES);
  tm_field_str(out, "normalize", TM_FE_NORMALIZE_MEAN ? "mean" : "none");
  tm_field_u64(out, "infer_every", p.infer_every);
  tm_field_u64(out, "average", p.average);
  tm_field_u64(out, "threshold", p.threshold);
  tm_field_u64(out, "suppression_ms", p.suppression_ms);
  tm_field_u64(out, "arena_bytes", TINYML_ARENA_BYTES);
  tm_event_end(out);
}

void error(const char *message) { tm_event_error(out, message); }

// Samples the interrupt dropped since the last report, as one event; the app then hears the
// audio on both sides of the gap as if it were continuous.
void report_overrun() {
  noInterrupts();
  const uint32_t dropped = g_dropped;
  interrupts();
  if (dropped == g_dropped_reported) return;
  tm_event_begin(out, "overrun");
  tm_field_u64(out, "dropped", dropped - g_dropped_reported);
  tm_field_u64(out, "dropped_total", dropped);
  tm_field_u64(out, "hop", g_app.hops);
  tm_event_end(out);
  g_dropped_reported = dropped;
}

void report_stages() {
  tm_event_begin(out, "stages");
  tm_field_u64(out, "frames", g_app.hops);
  tm_field_u64(out, "inferences", g_app.inferences);
  tm_field_u64(out, "frontend_us", g_stage_us[TM_KWS_STAGE_FRONTEND]);
  tm_field_u64(out, "frontend_max_us", g_stage_max_us[TM_KWS_STAGE_FRONTEND]);
  tm_field_u64(out, "network_us", g_stage_us[TM_KWS_STAGE_NETWORK]);
  tm_field_u64(out, "network_max_us", g_stage_max_us[TM_KWS_STAGE_NETWORK]);
  tm_event_end(out);
}

}  // namespace

void setup() {
  Serial.begin(115200);  // USB CDC: the baud rate is nominal
  const uint32_t start = millis();
  while (!Serial && millis() - start < 3000) {
  }
  tm_kws_model model;
  model.input = static_cast<int8_t *>(tinyml_input(0));
  model.output = static_cast<const int8_t *>(tinyml_output(0));
  model.invoke = tinyml_invoke;
  tm_kws_hooks hooks = {nullptr, on_stage, on_inference, on_detection};
  const tm_kws_params params = tm_kws_default_params();
  if (tm_kws_init(&g_app, &params, &model, &hooks) != 0) {
    error("the generated stream params are out of range");
    for (;;) {
    }
  }
  hello(params);
  PDM.onReceive(on_pdm);
  if (!PDM.begin(1, TM_FE_SAMPLE_RATE)) {
    error("PDM.begin failed: no microphone at this sample rate");
    for (;;) {
    }
  }
}

void loop() {
  static int16_t chunk[kChunk];
  static uint32_t last_stages_ms = 0;
  report_overrun();
  const uint32_t read = g_read;
  const uint32_t available = g_written - read;  // one aligned 32-bit read: atomic on the Cortex-M4
  const uint32_t n = available < kChunk ? available : kChunk;
  for (uint32_t i = 0; i < n; ++i) chunk[i] = g_ring[(read + i) & (kRingSamples - 1)];
  g_read = read + n;  // frees the slots only after they were copied
  if (n) tm_kws_push(&g_app, chunk, n);
  if (millis() - last_stages_ms >= 10000) {  // every 10 s: what the front end and the network cost
    last_stages_ms = millis();
    report_stages();
  }
}
