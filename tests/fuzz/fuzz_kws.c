/*
 * The KWS emulator app's line protocol (firmware/emulator/kws_main.c, kws_serve) on the host:
 * the file is included with -DTINYML_KWS_PROTOCOL_ONLY, which leaves QEMU's part out. The app
 * is a tally of what was heard: per stream (R ends one) the samples and an FNV-1a hash of them,
 * in this harness's own "reset" and "summary" events. Host files are fake: a path starting with
 * "/no/" does not open; any other holds (length * 37) % 1500 samples, sample i = i * 7 + length,
 * plus one stray byte when the length is odd; a path containing "broken" fails its second read.
 * tests/fuzz/campaign.py computes the same.
 */
#define TINYML_KWS_PROTOCOL_ONLY
#include "kws_main.c"

#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

static uint32_t g_stream, g_samples, g_hash, g_total;
static int g_open, g_reads;
static uint32_t g_file_len, g_file_pos, g_file_bytes;
static int g_file_broken;

static int read_stdin(void) {
  const int c = getchar();
  return c == EOF ? -1 : c;
}

static void write_stdout(const char *data, size_t n) { fwrite(data, 1, n, stdout); }

static void heard(const int16_t *samples, size_t n) {
  size_t i;
  if (n < 1 || n > CHUNK) abort();
  for (i = 0; i < n; ++i) g_hash = (g_hash ^ (uint16_t)samples[i]) * 16777619u;
  g_samples += (uint32_t)n;
  g_total += (uint32_t)n;
}

static int contains(const char *s, uint32_t len, const char *word) {
  const uint32_t n = (uint32_t)strlen(word);
  uint32_t i;
  for (i = 0; i + n <= len; ++i)
    if (memcmp(s + i, word, n) == 0) return 1;
  return 0;
}

static int fake_open(const char *path, uint32_t len) {
  if (g_open || len < 1 || len > MAX_PATH || path[len] != '\0') abort(); /* one file at a time, terminated */
  if (len >= 4 && memcmp(path, "/no/", 4) == 0) return -1;
  g_open = 1;
  g_reads = 0;
  g_file_len = len;
  g_file_pos = 0;
  g_file_bytes = (len * 37u) % 1500u * 2u + (len & 1u);
  g_file_broken = contains(path, len, "broken");
  return 3;
}

static int32_t fake_read(int fd, int16_t *samples, uint32_t bytes) {
  uint8_t *out = (uint8_t *)samples;
  uint32_t k;
  if (fd != 3 || !g_open) abort();
  if (g_file_broken && ++g_reads == 2) return -1;
  for (k = 0; k < bytes && g_file_pos < g_file_bytes; ++k, ++g_file_pos) {
    const uint16_t v = (uint16_t)(g_file_pos / 2u * 7u + g_file_len);
    out[k] = (uint8_t)(g_file_pos & 1u ? v >> 8 : v); /* writes `bytes` at most: the parser's buffer */
  }
  return (int32_t)k;
}

static void fake_close(int fd) {
  if (fd != 3 || !g_open) abort();
  g_open = 0;
}

static void tally(const char *name) {
  event(name);
  field("stream", g_stream);
  field("samples", g_samples);
  field("hash", g_hash);
  field("total", g_total);
  out("}\n");
}

static void reset(void) {
  tally("reset");
  ++g_stream;
  g_samples = 0;
  g_hash = 2166136261u;
}

static void hello(void) { out(TINYML_EVENT("hello") ",\"app\":\"kws-fuzz\"}\n"); }
static void summary(void) { tally("summary"); }

int fuzz_session(void) {
  static const kws_io io = {read_stdin, heard, fake_open, fake_read, fake_close, reset, hello, summary};
  g_out = write_stdout;
  g_hash = 2166136261u;
  hello();
  kws_serve(&io);
  if (g_open) abort(); /* a host file left open */
  return 0;
}
