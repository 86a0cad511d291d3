/*
 * tinyml's sensor streamer for the emulator: the same protocol and encoder as
 * the board streamer (tinyml_stream.h), fed by deterministic synthetic signals
 * so the host can check every sample it receives. The signals are integer-only
 * (a triangle wave plus hashed noise per channel); collect/synthetic_stream.py
 * computes the very same values.
 */
#include <stdint.h>
#include <string.h>

#include "mps2.h"
#include "tinyml_stream.h"

typedef struct {
  uint8_t id, channels;
  uint32_t rate_hz;
  uint16_t frame_samples;
  int32_t offset[6], amplitude[6], period[6];
  int active;
  uint32_t sequence, next_sample;
} stream_state;

static stream_state g_streams[3] = {
    {TM_STREAM_IMU, 6, 119, 8, {120, -340, 8197, 15, -40, 7}, {900, 700, 400, 2500, 1800, 3000},
     {119, 83, 238, 60, 97, 151}, 0, 0, 0},
    {TM_STREAM_MIC, 1, 16000, 256, {0}, {9000}, {36}, 0, 0, 0},
    {TM_STREAM_MAG, 3, 20, 4, {1800, -900, 3100}, {300, 200, 150}, {40, 55, 70}, 0, 0, 0},
};

static const char kHello[] =
    "{\"firmware\":\"tinyml-streamer 1\",\"board\":\"qemu-mps2-an386\",\"imu\":\"synthetic\",\"streams\":["
    "{\"id\":1,\"name\":\"imu\",\"rate_hz\":119,\"channels\":6,\"frame_samples\":8,"
    "\"axes\":[\"ax\",\"ay\",\"az\",\"gx\",\"gy\",\"gz\"],\"units\":[\"g\",\"g\",\"g\",\"dps\",\"dps\",\"dps\"],"
    "\"scale\":[0.000122,0.000122,0.000122,0.07,0.07,0.07]},"
    "{\"id\":2,\"name\":\"mic\",\"rate_hz\":16000,\"channels\":1,\"frame_samples\":256,"
    "\"axes\":[\"pcm\"],\"units\":[\"fs\"],\"scale\":[0.000030517578125]},"
    "{\"id\":3,\"name\":\"mag\",\"rate_hz\":20,\"channels\":3,\"frame_samples\":4,"
    "\"axes\":[\"mx\",\"my\",\"mz\"],\"units\":[\"gauss\",\"gauss\",\"gauss\"],\"scale\":[0.00014,0.00014,0.00014]}]}";

static void write_bytes(const uint8_t *data, size_t n) { mps2_uart_write((const char *)data, n); }

static uint32_t hash(uint32_t n, uint32_t channel, uint32_t stream) {
  uint32_t h = (n * 73856093u) ^ ((channel + 1u) * 19349663u) ^ (stream * 83492791u);
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  return h;
}

static int16_t sample(const stream_state *s, uint32_t n, uint32_t c) {
  const int32_t p = s->period[c], a = s->amplitude[c];
  const int32_t t = (int32_t)(n % (uint32_t)p);
  const int32_t wave = 2 * t < p ? 4 * a * t / p - a : 3 * a - 4 * a * t / p;
  const int32_t noise = (int32_t)(hash(n, c, s->id) & 63u) - 32;
  return (int16_t)(s->offset[c] + wave + noise);
}

static uint32_t timestamp_us(const stream_state *s, uint32_t n) {
  return (uint32_t)((uint64_t)n * 1000000u / s->rate_hz);
}

static void send_control(uint8_t type, uint8_t stream, const uint8_t *payload, size_t n, uint32_t seq) {
  tm_frame_header h;
  memset(&h, 0, sizeof h);
  h.type = type;
  h.stream = stream;
  h.format = type == TM_HELLO || type == TM_ERROR ? TM_FORMAT_TEXT : TM_FORMAT_NONE;
  h.sequence = seq;
  tm_send_frame(write_bytes, &h, payload, n);
}

static void send_data(stream_state *s) {
  static uint8_t payload[TM_MAX_PAYLOAD];
  tm_frame_header h;
  uint32_t i, c, k = 0;
  for (i = 0; i < s->frame_samples; ++i) {
    for (c = 0; c < s->channels; ++c) {
      const uint16_t v = (uint16_t)sample(s, s->next_sample + i, c);
      payload[k++] = (uint8_t)v;
      payload[k++] = (uint8_t)(v >> 8);
    }
  }
  h.type = TM_DATA;
  h.stream = s->id;
  h.format = TM_FORMAT_INT16;
  h.channels = s->channels;
  h.samples = s->frame_samples;
  h.sequence = s->sequence++;
  h.timestamp_us = timestamp_us(s, s->next_sample);
  tm_send_frame(write_bytes, &h, payload, k);
  s->next_sample += s->frame_samples;
}

static stream_state *find(uint8_t id) {
  int i;
  for (i = 0; i < 3; ++i)
    if (g_streams[i].id == id) return &g_streams[i];
  return 0;
}

static void command(const tm_frame_header *h, const uint8_t *payload, size_t n) {
  static const char kUnknown[] = "{\"message\":\"unknown stream\"}";
  stream_state *s = n >= 1 ? find(payload[0]) : 0;
  if (h->type == TM_CMD_HELLO) {
    send_control(TM_HELLO, TM_STREAM_CONTROL, (const uint8_t *)kHello, sizeof kHello - 1, 0);
  } else if ((h->type == TM_CMD_START || h->type == TM_CMD_STOP) && !s) {
    send_control(TM_ERROR, TM_STREAM_CONTROL, (const uint8_t *)kUnknown, sizeof kUnknown - 1, 0);
  } else if (h->type == TM_CMD_START) {
    s->active = 1;
    s->sequence = 0;
    s->next_sample = 0;
  } else if (h->type == TM_CMD_STOP) {
    uint8_t total[4];
    s->active = 0;
    total[0] = (uint8_t)s->next_sample;
    total[1] = (uint8_t)(s->next_sample >> 8);
    total[2] = (uint8_t)(s->next_sample >> 16);
    total[3] = (uint8_t)(s->next_sample >> 24);
    send_control(TM_STOPPED, s->id, total, sizeof total, s->sequence);
  }
}

static void feed(tm_frame_reader *r, int byte) {
  static uint8_t payload[TM_COMMAND_PAYLOAD];
  tm_frame_header h;
  size_t n;
  if (tm_read_frame(r, (uint8_t)byte, &h, payload, sizeof payload, &n) == 1) command(&h, payload, n);
}

int main(void) {
  tm_frame_reader reader;
  memset(&reader, 0, sizeof reader);
  mps2_init();
  for (;;) {
    stream_state *next = 0;
    int i, c;
    while ((c = mps2_uart_poll()) >= 0) feed(&reader, c);
    for (i = 0; i < 3; ++i) {
      stream_state *s = &g_streams[i];
      if (s->active && (!next || (uint64_t)s->next_sample * next->rate_hz < (uint64_t)next->next_sample * s->rate_hz))
        next = s;
    }
    if (next) {
      send_data(next);
    } else {
      feed(&reader, mps2_uart_read()); /* idle: wait for a command */
    }
  }
}
