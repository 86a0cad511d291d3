/*
 * The emulator's sensor streamer (firmware/emulator/streamer_main.c: its frame reader, command
 * dispatch and data frames) on the host, over a fake QEMU platform: mps2_uart_* read stdin and
 * write stdout; the file is included with its main renamed streamer_main. The fake UART pauses
 * (mps2_uart_poll says nothing is waiting) once after each 0x00, as a host between its commands,
 * so running streams send data frames between them; at the end of the input the session ends.
 */
#define main streamer_main
#include "streamer_main.c"
#undef main

#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

static int g_paused;

static int next_byte(void) {
  const int c = getchar();
  if (c == EOF) {
    fflush(stdout);
    exit(0);
  }
  g_paused = c == 0;
  return c;
}

void mps2_init(void) {}

void mps2_uart_write(const char *data, size_t n) { fwrite(data, 1, n, stdout); }

int mps2_uart_read(void) { return next_byte(); }

int mps2_uart_poll(void) {
  if (g_paused) {
    g_paused = 0;
    return -1;
  }
  return next_byte();
}

int fuzz_session(void) { return streamer_main(); }
