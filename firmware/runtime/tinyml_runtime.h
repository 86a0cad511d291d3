/*
 * tinyml's firmware core: the line protocol between a host and a model running
 * on a device (the Nano 33 BLE, or QEMU's Cortex-M4), independent of the board.
 *
 * The device writes one line per event, "TINYML " followed by a JSON object
 * with the protocol's version ("v", TINYML_PROTOCOL_VERSION of tinyml_protocol.h)
 * and "event":
 *   hello    {"model","board","clock","inputs":[bytes],"outputs":[bytes],"arena_bytes"}
 *   result   {"index","status","<clock>","output":"<hex of all outputs>"}
 *   summary  {"inferences","flash_bytes","ram_bytes","arena_bytes","stack_bytes"}
 *   error    {"message"}
 *   fault    {"pc","cfsr"}   (written by the board layer)
 * where <clock> is "instructions" (emulator) or "us" (board). Any other line is
 * a log line. The host sends one line per command:
 *   I <hex of every input's bytes, in order>   run one inference
 *   H                                          say hello again
 *   Q                                          write the summary and stop
 * docs/protocol.md describes it for people; tinyml/protocol.py parses it.
 */
#ifndef TINYML_RUNTIME_H_
#define TINYML_RUNTIME_H_

#include <stddef.h>
#include <stdint.h>

#include "tinyml_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  /* transport */
  int (*read_char)(void); /* blocking; -1 once the link is gone */
  tm_out_fn write; /* board layers write their own events through it (tinyml_protocol.h) */
  /* the clock read around each inference, and its unit: "instructions" or "us" */
  uint64_t (*clock)(void);
  const char *clock_unit;
  /* the model (the AOT API, or an adapter around the TFLM interpreter) */
  int num_inputs, num_outputs;
  void *(*input)(int index);
  size_t (*input_bytes)(int index);
  void *(*output)(int index);
  size_t (*output_bytes)(int index);
  int (*invoke)(void);
  /* facts for the report */
  const char *model;
  const char *board;
  uint32_t arena_bytes;
  uint32_t (*flash_bytes)(void);
  uint32_t (*ram_bytes)(void);
  uint32_t (*stack_bytes)(void); /* high-water mark, measured by painting */
} tm_runtime;

/* Says hello, then serves commands until Q or until the link drops. Returns the
 * number of inferences run. */
uint32_t tm_runtime_serve(const tm_runtime *rt);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_RUNTIME_H_ */
