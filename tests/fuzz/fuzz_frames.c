/*
 * The stream protocol's frame reader (firmware/stream/tinyml_stream.c, tm_read_frame) on
 * arbitrary bytes. The payload buffer is exactly TM_COMMAND_PAYLOAD bytes of heap, as the
 * firmware's callers hold it, so a write past it is AddressSanitizer's. Every frame the
 * reader accepts is sent back with tm_send_frame; at the end of the input, one more
 * frame tells the reader's tally: type TM_STOPPED, stream 0xFF, sequence = frames refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tinyml_stream.h"

static void write_stdout(const uint8_t *data, size_t n) { fwrite(data, 1, n, stdout); }

int fuzz_session(void) {
  tm_frame_reader *reader = calloc(1, sizeof *reader);
  uint8_t *payload = malloc(TM_COMMAND_PAYLOAD);
  tm_frame_header tally;
  int c;
  if (!reader || !payload) return 1;
  while ((c = getchar()) != EOF) {
    tm_frame_header h;
    size_t n = (size_t)-1;
    const int got = tm_read_frame(reader, (uint8_t)c, &h, payload, TM_COMMAND_PAYLOAD, &n);
    if (got == 1) {
      if (n > TM_COMMAND_PAYLOAD) abort(); /* a length it could not have written */
      tm_send_frame(write_stdout, &h, payload, n);
    } else if (got != 0 && got != -1) {
      abort();
    }
  }
  memset(&tally, 0, sizeof tally);
  tally.type = TM_STOPPED;
  tally.stream = 0xFF;
  tally.sequence = reader->refused;
  tm_send_frame(write_stdout, &tally, NULL, 0);
  free(payload);
  free(reader);
  return 0;
}
