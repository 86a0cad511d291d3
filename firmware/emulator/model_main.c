/*
 * tinyml's model firmware for the emulator: the AOT-compiled model behind the
 * firmware protocol (tinyml_runtime.h), on QEMU mps2-an386 (mps2.c).
 */
#include <stdint.h>
#include <string.h>

#include "mps2.h"
#include "tinyml_model.h"
#include "tinyml_runtime.h"

#ifndef TINYML_MODEL_NAME
#define TINYML_MODEL_NAME "model"
#endif

/* Markers for tinyml's QEMU plugin, which counts the instructions between them exactly. */
__attribute__((noinline, used)) void tinyml_mark_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline, used)) void tinyml_mark_end(void) { __asm__ volatile("" ::: "memory"); }

#if defined(TINYML_PROFILE)
/* A profiling build's markers around each op's kernel call (tinyml_model.c), one span per op. */
__attribute__((noinline, used)) void tinyml_mark_op_begin(int op) { __asm__ volatile("" ::"r"(op) : "memory"); }
__attribute__((noinline, used)) void tinyml_mark_op_end(int op) { __asm__ volatile("" ::"r"(op) : "memory"); }
#endif

static int invoke_marked(void) {
  int status;
  tinyml_mark_begin();
  status = tinyml_invoke();
  tinyml_mark_end();
  return status;
}

static const tm_runtime *g_runtime;

static void report_fault(uint32_t pc, uint32_t cfsr) {
  tm_event_fault(g_runtime->write, pc, cfsr);
}

int main(void) {
  tm_runtime rt;
  memset(&rt, 0, sizeof rt);
  rt.read_char = mps2_uart_read;
  rt.write = mps2_uart_write;
  rt.clock = mps2_instructions;
  rt.clock_unit = "instructions";
  rt.num_inputs = TINYML_NUM_INPUTS;
  rt.num_outputs = TINYML_NUM_OUTPUTS;
  rt.input = tinyml_input;
  rt.input_bytes = tinyml_input_bytes;
  rt.output = tinyml_output;
  rt.output_bytes = tinyml_output_bytes;
  rt.invoke = invoke_marked;
  rt.model = TINYML_MODEL_NAME;
  rt.board = "qemu-mps2-an386";
  rt.arena_bytes = TINYML_ARENA_BYTES;
  rt.flash_bytes = mps2_flash_bytes;
  rt.ram_bytes = mps2_ram_bytes;
  rt.stack_bytes = mps2_stack_bytes;
  g_runtime = &rt;
  mps2_fault_hook = report_fault;
  mps2_init();
#if defined(TINYML_TEST_HANG)
  for (;;) {
  }
#elif defined(TINYML_TEST_FAULT)
  __asm__ volatile("udf #0");
#endif
  tm_runtime_serve(&rt);
  return 0;
}
