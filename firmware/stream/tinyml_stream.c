/* tinyml's sensor streaming protocol: see tinyml_stream.h. */
#include "tinyml_stream.h"

#include <string.h>

uint32_t tm_crc32(uint32_t crc, const uint8_t *data, size_t n) {
  size_t i;
  int k;
  crc = ~crc;
  for (i = 0; i < n; ++i) {
    crc ^= data[i];
    for (k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* COBS, streamed: bytes go out in blocks of up to 254 non-zero bytes, each led by its length + 1. */
typedef struct {
  tm_write_fn write;
  uint8_t block[255];
  size_t n;
} cobs_writer;

static void cobs_flush(cobs_writer *w) {
  w->block[0] = (uint8_t)(w->n + 1);
  w->write(w->block, w->n + 1);
  w->n = 0;
}

static void cobs_put(cobs_writer *w, const uint8_t *data, size_t len) {
  size_t i;
  for (i = 0; i < len; ++i) {
    if (data[i] == 0) {
      cobs_flush(w);
    } else {
      w->block[1 + w->n++] = data[i];
      if (w->n == 254) {
        w->block[0] = 255;
        w->write(w->block, 255);
        w->n = 0;
        /* a full block carries no implicit zero; the next block starts fresh */
        w->block[0] = 0;
      }
    }
  }
}

void tm_send_frame(tm_write_fn write, const tm_frame_header *h, const uint8_t *payload, size_t payload_bytes) {
  static const uint8_t kDelimiter = 0;
  uint8_t header[TM_HEADER_BYTES], crc_bytes[4];
  cobs_writer w;
  uint32_t crc;
  header[0] = TM_STREAM_VERSION;
  header[1] = h->type;
  header[2] = h->stream;
  header[3] = h->format;
  put32(header + 4, h->sequence);
  put32(header + 8, h->timestamp_us);
  header[12] = (uint8_t)h->samples;
  header[13] = (uint8_t)(h->samples >> 8);
  header[14] = h->channels;
  header[15] = 0;
  crc = tm_crc32(0, header, sizeof header);
  crc = tm_crc32(crc, payload, payload_bytes);
  put32(crc_bytes, crc);
  w.write = write;
  w.n = 0;
  cobs_put(&w, header, sizeof header);
  cobs_put(&w, payload, payload_bytes);
  cobs_put(&w, crc_bytes, sizeof crc_bytes);
  cobs_flush(&w);
  write(&kDelimiter, 1);
}

static int refuse(tm_frame_reader *r) {
  ++r->refused;
  return -1;
}

int tm_read_frame(tm_frame_reader *r, uint8_t byte, tm_frame_header *h, uint8_t *payload, size_t capacity,
                  size_t *payload_bytes) {
  uint8_t decoded[sizeof r->raw];
  size_t i = 0, n = 0, len;
  if (byte != 0) {
    if (r->used < sizeof r->raw) {
      r->raw[r->used++] = byte;
    } else {
      r->overflow = 1;
    }
    return 0;
  }
  len = r->used;
  r->used = 0;
  if (r->overflow || len == 0) {
    r->overflow = 0;
    return len == 0 ? 0 : refuse(r);
  }
  while (i < len) { /* COBS decode */
    const uint8_t code = r->raw[i++];
    uint8_t k;
    if (code == 0 || i + code - 1 > len) return refuse(r);
    for (k = 1; k < code; ++k) decoded[n++] = r->raw[i++];
    if (code < 255 && i < len) decoded[n++] = 0;
  }
  if (n < TM_HEADER_BYTES + 4 || decoded[0] != TM_STREAM_VERSION) return refuse(r);
  if (tm_crc32(0, decoded, n - 4) != get32(decoded + n - 4)) return refuse(r);
  if (n - 4 - TM_HEADER_BYTES > capacity) return refuse(r); /* a valid frame, but too long for the caller */
  h->type = decoded[1];
  h->stream = decoded[2];
  h->format = decoded[3];
  h->sequence = get32(decoded + 4);
  h->timestamp_us = get32(decoded + 8);
  h->samples = (uint16_t)(decoded[12] | decoded[13] << 8);
  h->channels = decoded[14];
  *payload_bytes = n - 4 - TM_HEADER_BYTES;
  if (*payload_bytes) memcpy(payload, decoded + TM_HEADER_BYTES, *payload_bytes);
  return 1;
}

size_t tm_format_float(char *out, size_t n, float value) {
  char text[TM_FLOAT_CHARS], digits[20];
  size_t len = 0, k = 0;
  uint32_t bits, biased;
  uint64_t mant, whole, frac, mask;
  int shift; /* value = +-mant / 2^shift */
  memcpy(&bits, &value, sizeof bits);
  biased = (bits >> 23) & 0xFFu;
  if (biased == 0xFFu) return 0; /* inf, nan */
  mant = bits & 0x7FFFFFu;
  shift = 149; /* subnormal: mant * 2^-149 */
  if (biased) {
    mant |= 0x800000u;
    shift = 150 - (int)biased;
  }
  while (mant != 0 && shift > 0 && (mant & 1u) == 0) {
    mant >>= 1;
    --shift;
  }
  if (mant != 0 && (shift < -40 || shift > 60)) return 0; /* beyond 64-bit arithmetic */
  if (shift <= 0) {
    whole = mant << -shift;
    frac = mask = 0;
  } else {
    mask = ((uint64_t)1 << shift) - 1u;
    whole = mant >> shift;
    frac = mant & mask;
  }
  if (bits >> 31) text[len++] = '-';
  do {
    digits[k++] = (char)('0' + whole % 10u);
    whole /= 10u;
  } while (whole);
  while (k) text[len++] = digits[--k];
  if (frac || bits == 0x80000000u) text[len++] = '.'; /* "-0.0": JSON readers take "-0" as the integer 0 */
  if (bits == 0x80000000u) text[len++] = '0';
  while (frac) { /* frac < 2^60, so frac * 10 fits; each step is one exact decimal digit */
    frac *= 10u;
    text[len++] = (char)('0' + (frac >> shift));
    frac &= mask;
  }
  if (len + 1 > n) return 0;
  memcpy(out, text, len);
  out[len] = '\0';
  return len;
}
