/* tinyml's device protocol, device side: see tinyml_protocol.h. No printf, no heap. */
#include "tinyml_protocol.h"

#include <string.h>

static const char kHex[] = "0123456789abcdef";

void tm_put(tm_out_fn out, const char *s) { out(s, strlen(s)); }

void tm_put_u64(tm_out_fn out, uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = '\0';
  do {
    buf[--i] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v);
  out(buf + i, (size_t)(20 - i));
}

void tm_put_i64(tm_out_fn out, int64_t v) {
  if (v < 0) {
    tm_put(out, "-");
    tm_put_u64(out, (uint64_t)0 - (uint64_t)v);
  } else {
    tm_put_u64(out, (uint64_t)v);
  }
}

void tm_put_hex32(tm_out_fn out, uint32_t v) {
  char buf[10];
  int i;
  buf[0] = '0';
  buf[1] = 'x';
  for (i = 0; i < 8; ++i) buf[2 + i] = kHex[(v >> (28 - 4 * i)) & 0xfu];
  out(buf, sizeof buf);
}

void tm_event_begin(tm_out_fn out, const char *name) {
  tm_put(out, TINYML_EVENT_START);
  tm_put(out, name);
  tm_put(out, "\"");
}

static void key(tm_out_fn out, const char *name) {
  tm_put(out, ",\"");
  tm_put(out, name);
  tm_put(out, "\":");
}

void tm_field_u64(tm_out_fn out, const char *name, uint64_t v) {
  key(out, name);
  tm_put_u64(out, v);
}

void tm_field_str(tm_out_fn out, const char *name, const char *v) {
  key(out, name);
  tm_put(out, "\"");
  tm_put(out, v);
  tm_put(out, "\"");
}

void tm_field_hex32(tm_out_fn out, const char *name, uint32_t v) {
  key(out, name);
  tm_put(out, "\"");
  tm_put_hex32(out, v);
  tm_put(out, "\"");
}

void tm_event_end(tm_out_fn out) { tm_put(out, "}\n"); }

void tm_event_error(tm_out_fn out, const char *message) {
  tm_event_begin(out, "error");
  tm_field_str(out, "message", message);
  tm_event_end(out);
}

void tm_event_fault(tm_out_fn out, uint32_t pc, uint32_t cfsr) {
  tm_event_begin(out, "fault");
  tm_field_hex32(out, "pc", pc);
  tm_field_hex32(out, "cfsr", cfsr);
  tm_event_end(out);
}

int tm_hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int tm_skip_line(int (*read_char)(void), int c) {
  while (c != '\n') {
    if (c < 0) return -1;
    c = read_char();
  }
  return 0;
}
