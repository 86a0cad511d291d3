/* tinyml's firmware core: see tinyml_runtime.h. No printf, no heap. */
#include "tinyml_runtime.h"

#include <string.h>

static const char kHex[] = "0123456789abcdef";

void tm_write_str(const tm_runtime *rt, const char *s) { rt->write(s, strlen(s)); }

void tm_write_u64(const tm_runtime *rt, uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = '\0';
  do {
    buf[--i] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v);
  rt->write(buf + i, (size_t)(20 - i));
}

void tm_write_hex32(const tm_runtime *rt, uint32_t v) {
  char buf[10];
  int i;
  buf[0] = '0';
  buf[1] = 'x';
  for (i = 0; i < 8; ++i) buf[2 + i] = kHex[(v >> (28 - 4 * i)) & 0xfu];
  rt->write(buf, sizeof buf);
}

static void write_sizes(const tm_runtime *rt, size_t (*bytes)(int), int count) {
  int i;
  tm_write_str(rt, "[");
  for (i = 0; i < count; ++i) {
    if (i) tm_write_str(rt, ",");
    tm_write_u64(rt, bytes(i));
  }
  tm_write_str(rt, "]");
}

static void event(const tm_runtime *rt, const char *name) {
  tm_write_str(rt, TINYML_EVENT_START);
  tm_write_str(rt, name);
  tm_write_str(rt, "\"");
}

static void field_u64(const tm_runtime *rt, const char *name, uint64_t v) {
  tm_write_str(rt, ",\"");
  tm_write_str(rt, name);
  tm_write_str(rt, "\":");
  tm_write_u64(rt, v);
}

static void field_str(const tm_runtime *rt, const char *name, const char *v) {
  tm_write_str(rt, ",\"");
  tm_write_str(rt, name);
  tm_write_str(rt, "\":\"");
  tm_write_str(rt, v);
  tm_write_str(rt, "\"");
}

static void hello(const tm_runtime *rt) {
  event(rt, "hello");
  field_str(rt, "model", rt->model);
  field_str(rt, "board", rt->board);
  field_str(rt, "clock", rt->clock_unit);
  tm_write_str(rt, ",\"inputs\":");
  write_sizes(rt, rt->input_bytes, rt->num_inputs);
  tm_write_str(rt, ",\"outputs\":");
  write_sizes(rt, rt->output_bytes, rt->num_outputs);
  field_u64(rt, "arena_bytes", rt->arena_bytes);
  tm_write_str(rt, "}\n");
}

static void error(const tm_runtime *rt, const char *message) {
  event(rt, "error");
  field_str(rt, "message", message);
  tm_write_str(rt, "}\n");
}

static int hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Skips the rest of a line, `c` being its next character; returns 0, or -1 when the link dropped. */
static int skip_line(const tm_runtime *rt, int c) {
  while (c != '\n') {
    if (c < 0) return -1;
    c = rt->read_char();
  }
  return 0;
}

/* Reads "<hex>\n" straight into the input buffers. 0 ok, 1 malformed (line consumed), -1 link gone.
 * A character that is not a hex digit ends the line's reading at once: if it is the newline, nothing
 * more is read, so the error goes out now and the next line is the next command. */
static int read_inputs(const tm_runtime *rt) {
  int i, c = rt->read_char();
  while (c == ' ') c = rt->read_char();
  for (i = 0; i < rt->num_inputs; ++i) {
    uint8_t *dst = (uint8_t *)rt->input(i);
    size_t k, n = rt->input_bytes(i);
    for (k = 0; k < n; ++k) {
      int hi, lo;
      if ((hi = hex_value(c)) < 0) return skip_line(rt, c) < 0 ? -1 : 1;
      if ((lo = hex_value(c = rt->read_char())) < 0) return skip_line(rt, c) < 0 ? -1 : 1;
      dst[k] = (uint8_t)(hi << 4 | lo);
      c = rt->read_char();
    }
  }
  if (c == '\r') c = rt->read_char();
  if (c != '\n') return skip_line(rt, c) < 0 ? -1 : 1;
  return 0;
}

static void result(const tm_runtime *rt, uint32_t index, int status, uint64_t elapsed) {
  int i;
  event(rt, "result");
  field_u64(rt, "index", index);
  field_u64(rt, "status", (uint64_t)(status < 0 ? -status : status));
  field_u64(rt, rt->clock_unit, elapsed);
  tm_write_str(rt, ",\"output\":\"");
  for (i = 0; i < rt->num_outputs; ++i) {
    const uint8_t *p = (const uint8_t *)rt->output(i);
    size_t k, n = rt->output_bytes(i);
    for (k = 0; k < n; ++k) {
      char pair[2];
      pair[0] = kHex[p[k] >> 4];
      pair[1] = kHex[p[k] & 0xf];
      rt->write(pair, 2);
    }
  }
  tm_write_str(rt, "\"}\n");
}

static void summary(const tm_runtime *rt, uint32_t inferences) {
  event(rt, "summary");
  field_u64(rt, "inferences", inferences);
  field_u64(rt, "flash_bytes", rt->flash_bytes());
  field_u64(rt, "ram_bytes", rt->ram_bytes());
  field_u64(rt, "arena_bytes", rt->arena_bytes);
  field_u64(rt, "stack_bytes", rt->stack_bytes());
  tm_write_str(rt, "}\n");
}

uint32_t tm_runtime_serve(const tm_runtime *rt) {
  uint32_t count = 0;
  hello(rt);
  for (;;) {
    int c = rt->read_char();
    if (c < 0) return count;
    if (c == '\n' || c == '\r' || c == ' ') continue;
    if (c == 'I') {
      const int got = read_inputs(rt);
      uint64_t start;
      int status;
      if (got < 0) return count;
      if (got > 0) {
        error(rt, "malformed input line: expected I followed by the hex of every input byte");
        continue;
      }
      start = rt->clock();
      status = rt->invoke();
      result(rt, count++, status, rt->clock() - start);
    } else if (c == 'H') {
      if (skip_line(rt, rt->read_char()) < 0) return count;
      hello(rt);
    } else if (c == 'Q') {
      /* Read the rest of the line before exiting: unread bytes make QEMU reset the connection
         when the firmware exits, which can discard the summary before the host reads it. */
      if (skip_line(rt, rt->read_char()) < 0) return count;
      summary(rt, count);
      return count;
    } else {
      if (skip_line(rt, c) < 0) return count;
      error(rt, "unknown command: expected I, H or Q");
    }
  }
}
