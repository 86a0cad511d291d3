/* tinyml's firmware core: see tinyml_runtime.h. No printf, no heap. */
#include "tinyml_runtime.h"

static const char kHex[] = "0123456789abcdef";

static void write_sizes(const tm_runtime *rt, size_t (*bytes)(int), int count) {
  int i;
  tm_put(rt->write, "[");
  for (i = 0; i < count; ++i) {
    if (i) tm_put(rt->write, ",");
    tm_put_u64(rt->write, bytes(i));
  }
  tm_put(rt->write, "]");
}

static void hello(const tm_runtime *rt) {
  tm_event_begin(rt->write, "hello");
  tm_field_str(rt->write, "model", rt->model);
  tm_field_str(rt->write, "board", rt->board);
  tm_field_str(rt->write, "clock", rt->clock_unit);
  tm_put(rt->write, ",\"inputs\":");
  write_sizes(rt, rt->input_bytes, rt->num_inputs);
  tm_put(rt->write, ",\"outputs\":");
  write_sizes(rt, rt->output_bytes, rt->num_outputs);
  tm_field_u64(rt->write, "arena_bytes", rt->arena_bytes);
  tm_event_end(rt->write);
}

static int skip_line(const tm_runtime *rt, int c) { return tm_skip_line(rt->read_char, c); }

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
      if ((hi = tm_hex_value(c)) < 0) return skip_line(rt, c) < 0 ? -1 : 1;
      if ((lo = tm_hex_value(c = rt->read_char())) < 0) return skip_line(rt, c) < 0 ? -1 : 1;
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
  tm_event_begin(rt->write, "result");
  tm_field_u64(rt->write, "index", index);
  tm_field_u64(rt->write, "status", (uint64_t)(status < 0 ? -status : status));
  tm_field_u64(rt->write, rt->clock_unit, elapsed);
  tm_put(rt->write, ",\"output\":\"");
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
  tm_put(rt->write, "\"");
  tm_event_end(rt->write);
}

static void summary(const tm_runtime *rt, uint32_t inferences) {
  tm_event_begin(rt->write, "summary");
  tm_field_u64(rt->write, "inferences", inferences);
  tm_field_u64(rt->write, "flash_bytes", rt->flash_bytes());
  tm_field_u64(rt->write, "ram_bytes", rt->ram_bytes());
  tm_field_u64(rt->write, "arena_bytes", rt->arena_bytes);
  tm_field_u64(rt->write, "stack_bytes", rt->stack_bytes());
  tm_event_end(rt->write);
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
        tm_event_error(rt->write, "malformed input line: expected I followed by the hex of every input byte");
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
      tm_event_error(rt->write, "unknown command: expected I, H or Q");
    }
  }
}
