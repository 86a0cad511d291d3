/*
 * The model firmware's line protocol (firmware/runtime/tinyml_runtime.c, tm_runtime_serve) with
 * an identity model: two inputs of 3 and 5 bytes, each copied to the output of its size, so a
 * result's output is the input line's hex. The tensors are exactly sized heap buffers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tinyml_runtime.h"

static const size_t kBytes[2] = {3, 5};
static uint8_t *g_in[2], *g_out[2];
static uint64_t g_clock;

static int read_stdin(void) {
  const int c = getchar();
  return c == EOF ? -1 : c;
}

static void write_stdout(const char *data, size_t n) { fwrite(data, 1, n, stdout); }
static uint64_t tick(void) { return g_clock += 7; }
static void *input(int i) { return g_in[i]; }
static void *output(int i) { return g_out[i]; }
static size_t tensor_bytes(int i) { return kBytes[i]; }
static uint32_t zero(void) { return 0; }

static int invoke(void) {
  int i;
  for (i = 0; i < 2; ++i) memcpy(g_out[i], g_in[i], kBytes[i]);
  return 0;
}

int fuzz_session(void) {
  tm_runtime rt;
  int i;
  for (i = 0; i < 2; ++i) {
    if (!(g_in[i] = malloc(kBytes[i])) || !(g_out[i] = calloc(1, kBytes[i]))) return 1;
  }
  memset(&rt, 0, sizeof rt);
  rt.read_char = read_stdin;
  rt.write = write_stdout;
  rt.clock = tick;
  rt.clock_unit = "instructions";
  rt.num_inputs = rt.num_outputs = 2;
  rt.input = input;
  rt.output = output;
  rt.input_bytes = rt.output_bytes = tensor_bytes;
  rt.invoke = invoke;
  rt.model = "identity";
  rt.board = "host-fuzz";
  rt.flash_bytes = rt.ram_bytes = rt.stack_bytes = zero;
  tm_runtime_serve(&rt);
  for (i = 0; i < 2; ++i) {
    free(g_in[i]);
    free(g_out[i]);
  }
  return 0;
}
