/*
 * Runs a generated AOT model on the host: for each inference, reads every
 * input's bytes from stdin (inputs in order, back to back), invokes, and writes
 * every output's bytes to stdout. Used to check generated code against the
 * TFLM interpreter and for host benchmarks.
 */
#include <stdio.h>

#include "tinyml_model.h"

int main(void) {
  for (;;) {
    int i;
    for (i = 0; i < TINYML_NUM_INPUTS; ++i) {
      const size_t n = tinyml_input_bytes(i);
      const size_t got = fread(tinyml_input(i), 1, n, stdin);
      if (got != n) return (i == 0 && got == 0 && feof(stdin)) ? 0 : 2;
    }
    if (tinyml_invoke() != 0) return 3;
    for (i = 0; i < TINYML_NUM_OUTPUTS; ++i) {
      if (fwrite(tinyml_output(i), 1, tinyml_output_bytes(i), stdout) != tinyml_output_bytes(i)) return 4;
    }
  }
}
