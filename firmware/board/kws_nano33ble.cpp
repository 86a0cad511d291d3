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

// One value per label as a JSON array of integers.
template <typename T>
void print_labels_array(const T *values) {
  Serial.print("[");
  for (int i = 0; i < TM_KWS_NUM_LABELS; ++i) {
    if (i) Serial.print(",");
    Serial.print(static_cast<int>(values[i]));
  }
  Serial.print("]");
}

void on_inference(void *, const tm_kws_inference *e) {
  Serial.print(TINYML_EVENT("inference") ",\"index\":");
  Serial.print(e->index);
  Serial.print(",\"hop\":");
  Serial.print(e->hop);
  Serial.print(",\"time_ms\":");
  Serial.print(e->time_ms);
  Serial.print(",\"status\":");
  Serial.print(e->status < 0 ? -e->status : e->status);
  Serial.print(",\"us\":");
  Serial.print(g_last_network_us);
  Serial.print(",\"scores\":");
  print_labels_array(e->scores);
  Serial.print(",\"smoothed\":");
  print_labels_array(e->smoothed);
  Serial.println("}");
}

void on_detection(void *, const tm_kws_detection *d) {
  Serial.print(TINYML_EVENT("detection") ",\"label\":\"");
  Serial.print(tm_kws_labels[d->label]);
  Serial.print("\",\"label_index\":");
  Serial.print(d->label);
  Serial.print(",\"score\":");
  Serial.print(d->score);
  Serial.print(",\"time_ms\":");
  Serial.print(d->time_ms);
  Serial.print(",\"index\":");
  Serial.print(d->index);
  Serial.print(",\"hop\":");
  Serial.print(d->hop);
  Serial.println("}");
}

void hello(const tm_kws_params &p) {
  Serial.print(TINYML_EVENT("hello") ",\"app\":\"kws\",\"model\":\"" TINYML_MODEL_NAME
               "\",\"board\":\"nano33ble\",\"clock\":\"us\",\"labels\":[");
  for (int i = 0; i < TM_KWS_NUM_LABELS; ++i) {
    Serial.print(i ? ",\"" : "\"");
    Serial.print(tm_kws_labels[i]);
    Serial.print("\"");
  }
  Serial.print("],\"sample_rate\":");
  Serial.print(TM_FE_SAMPLE_RATE);
  Serial.print(",\"hop\":");
  Serial.print(TM_FE_HOP);
  Serial.print(",\"frames\":");
  Serial.print(TM_FE_FRAMES);
  Serial.print(TM_FE_NORMALIZE_MEAN ? ",\"normalize\":\"mean\"" : ",\"normalize\":\"none\"");
  Serial.print(",\"infer_every\":");
  Serial.print(p.infer_every);
  Serial.print(",\"average\":");
  Serial.print(p.average);
  Serial.print(",\"threshold\":");
  Serial.print(p.threshold);
  Serial.print(",\"suppression_ms\":");
  Serial.print(p.suppression_ms);
  Serial.print(",\"arena_bytes\":");
  Serial.print(TINYML_ARENA_BYTES);
  Serial.println("}");
}

void error(const char *message) {
  Serial.print(TINYML_EVENT("error") ",\"message\":\"");
  Serial.print(message);
  Serial.println("\"}");
}

// Samples the interrupt dropped since the last report, as one event; the app then hears the
// audio on both sides of the gap as if it were continuous.
void report_overrun() {
  noInterrupts();
  const uint32_t dropped = g_dropped;
  interrupts();
  if (dropped == g_dropped_reported) return;
  Serial.print(TINYML_EVENT("overrun") ",\"dropped\":");
  Serial.print(dropped - g_dropped_reported);
  Serial.print(",\"dropped_total\":");
  Serial.print(dropped);
  Serial.print(",\"hop\":");
  Serial.print(g_app.hops);
  Serial.println("}");
  g_dropped_reported = dropped;
}

void report_stages() {
  Serial.print(TINYML_EVENT("stages") ",\"frames\":");
  Serial.print(g_app.hops);
  Serial.print(",\"inferences\":");
  Serial.print(g_app.inferences);
  Serial.print(",\"frontend_us\":");
  Serial.print((unsigned long long)g_stage_us[TM_KWS_STAGE_FRONTEND]);
  Serial.print(",\"frontend_max_us\":");
  Serial.print(g_stage_max_us[TM_KWS_STAGE_FRONTEND]);
  Serial.print(",\"network_us\":");
  Serial.print((unsigned long long)g_stage_us[TM_KWS_STAGE_NETWORK]);
  Serial.print(",\"network_max_us\":");
  Serial.print(g_stage_max_us[TM_KWS_STAGE_NETWORK]);
  Serial.println("}");
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
