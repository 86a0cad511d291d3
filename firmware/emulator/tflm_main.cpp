/*
 * tinyml's TFLM firmware for the emulator: the generated sketch's core (tinyml_tflm.cpp:
 * the resolver, the arena and the self-check the board runs) behind the firmware protocol,
 * on QEMU mps2-an386 (mps2.c), linked with the board's TFLM library built for this core.
 */
#include <stdint.h>
#include <string.h>

#include "mps2.h"
#include "tinyml_runtime.h"
#include "tinyml_tflm.h"

#if defined(TINYML_PROFILE)
#include "tensorflow/lite/micro/compatibility.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#endif

/* Markers for tinyml's QEMU plugin, which counts the instructions between them exactly. */
extern "C" __attribute__((noinline, used)) void tinyml_mark_begin(void) { __asm__ volatile("" ::: "memory"); }
extern "C" __attribute__((noinline, used)) void tinyml_mark_end(void) { __asm__ volatile("" ::: "memory"); }

#if defined(TINYML_PROFILE)
/* A profiling build's markers around each op's invoke, one span per op. */
extern "C" __attribute__((noinline, used)) void tinyml_mark_op_begin(int op) {
  __asm__ volatile("" ::"r"(op) : "memory");
}
extern "C" __attribute__((noinline, used)) void tinyml_mark_op_end(int op) {
  __asm__ volatile("" ::"r"(op) : "memory");
}

namespace {

/* TFLM (2023-01) calls BeginEvent / EndEvent around each op's invoke in MicroGraph::InvokeSubgraph, and
 * nowhere else: not in Init or Prepare. EndEvent runs when the op's scope closes, after the allocator's
 * ResetTempAllocations, so that is inside the span. Only the outermost events are marked (an op that
 * invokes a subgraph, such as IF or WHILE, counts with the ops it runs), and only once `on` is set:
 * after the start-up self-check, so the spans are those of the host's inferences. */
class OpMarkers : public tflite::MicroProfilerInterface {
 public:
  bool on = false;

  uint32_t BeginEvent(const char *tag) override {
    (void)tag;
    if (depth_++ == 0 && on) tinyml_mark_op_begin(op_);
    return 0;
  }

  void EndEvent(uint32_t event_handle) override {
    (void)event_handle;
    if (--depth_ == 0 && on) tinyml_mark_op_end(op_++);
  }

  void NextInference() { op_ = 0; }

 private:
  int depth_ = 0;
  int op_ = 0;

  TF_LITE_REMOVE_VIRTUAL_DELETE
};

OpMarkers g_op_markers;

}  // namespace
#endif

/* TFLM's clock hooks (micro_time.cpp is Arduino-only): no timer, as its README allows. */
namespace tflite {
uint32_t ticks_per_second() { return 0; }
uint32_t GetCurrentTimeTicks() { return 0; }
}  // namespace tflite

namespace {

tm_runtime g_runtime;
int (*g_invoke)(void) = nullptr;

int invoke_marked(void) {
#if defined(TINYML_PROFILE)
  g_op_markers.NextInference();
#endif
  tinyml_mark_begin();
  const int status = g_invoke();
  tinyml_mark_end();
  return status;
}

void log_line(const char *text) {
  mps2_uart_write(text, strlen(text));
  mps2_uart_write("\n", 1);
}

void report_fault(uint32_t pc, uint32_t cfsr) {
  tm_event_fault(g_runtime.write, pc, cfsr);
}

}  // namespace

int main(void) {
  memset(&g_runtime, 0, sizeof g_runtime);
  g_runtime.read_char = mps2_uart_read;
  g_runtime.write = mps2_uart_write;
  g_runtime.clock = mps2_instructions;
  g_runtime.clock_unit = "instructions";
  g_runtime.board = "qemu-mps2-an386";
  mps2_fault_hook = report_fault;
  mps2_init();
  /* Start once the host has sent its first line (it asks for the hello): everything from here on
   * reaches it, TFLM's messages about a model it cannot run included. A measuring build
   * (TINYML_ARENA_PROBE) takes "A <bytes>": the arena to try, one size per boot, since a kernel
   * may write through the null pointer a too-small arena gives it. */
  size_t arena_bytes = TINYML_ARENA_BYTES;
  int c = mps2_uart_read();
#ifdef TINYML_ARENA_PROBE
  if (c == 'A') {
    arena_bytes = 0;
    for (c = mps2_uart_read(); c == ' ' || (c >= '0' && c <= '9'); c = mps2_uart_read()) {
      if (c != ' ') arena_bytes = arena_bytes * 10 + static_cast<size_t>(c - '0');
    }
  }
#endif
  while (c != '\n' && c >= 0) c = mps2_uart_read();
  tinyml_tflm_set_log(mps2_uart_write);
#if defined(TINYML_PROFILE)
  tinyml_tflm_set_profiler(&g_op_markers);
#endif
  bool matched = false;
  const char *error = tinyml_tflm_start(&g_runtime, &matched, arena_bytes);
  if (error != nullptr) {
    /* Answer every command with the error, so the host reads it whatever it asks. */
    for (;;) {
      tm_event_error(g_runtime.write, error);
      c = mps2_uart_read();
      while (c != '\n' && c >= 0) c = mps2_uart_read();
      if (c < 0) return 4;
    }
  }
  log_line(matched ? "tinyml self-check: output matches the host's TFLM"
                   : "tinyml self-check: output DIFFERS from the host's TFLM");
#if defined(TINYML_PROFILE)
  g_op_markers.on = true;
#endif
  g_invoke = g_runtime.invoke;
  g_runtime.invoke = invoke_marked;
  g_runtime.flash_bytes = mps2_flash_bytes;
  g_runtime.ram_bytes = mps2_ram_bytes;
  g_runtime.stack_bytes = mps2_stack_bytes;
  tm_runtime_serve(&g_runtime);
  return 0;
}
