/*
 * tinyml's keyword-spotting app on the emulator (QEMU mps2-an386, mps2.c): the
 * app core (tinyml_kws.h) fed with audio the host sends over UART0, its events
 * written back as protocol lines ("TINYML {json}", docs/protocol.md) by the event
 * writer of tinyml_protocol.h.
 * tinyml/protocol.py (KwsDevice) is the host side.
 *
 * Host to device, one command per line:
 *   A <hex>            audio over the UART: int16 samples, each as the 4 hex digits of
 *                      its little-endian bytes (QEMU moves about 20 KB/s this way); on
 *                      a bad digit the samples before it were heard, the rest is skipped
 *   F <chunk> <path>   audio from a host file of raw int16 little-endian samples, read
 *                      through semihosting (fast) and pushed <chunk> samples at a time
 *                      (1..CHUNK); a "file" event {"samples"} says when it is done
 *   R                  end the stream: a "reset" event with its counts, then a fresh app
 *   H                  say hello again
 *   Q                  write the summary and stop (exit code 0 through semihosting)
 * Device to host ("TINYML " + JSON with "v", TINYML_PROTOCOL_VERSION):
 *   hello      {"app":"kws","model","board","clock","labels":[..],"sample_rate","fft_size","hop",
 *               "frames","mel_bands","normalize","infer_every","average","threshold","suppression_ms",
 *               "arena_bytes","app_bytes"}
 *   inference  {"index","hop","time_ms","status","instructions","scores":[int8..],"smoothed":[0..255]}
 *   detection  {"label","label_index","score","time_ms","index","hop"}
 *   file       {"samples"}
 *   reset      {"stream","hops","inferences","detections"}   (of the stream that ended)
 *   summary    {"streams","frames","inferences","detections","frontend_instructions",
 *               "frontend_max_instructions","network_instructions","network_max_instructions",
 *               "flash_bytes","ram_bytes","arena_bytes","stack_bytes"}
 *   error      {"message"}, fault {"pc","cfsr"}
 *
 * Time: SysTick under -icount shift=0 counts instructions (40 per tick) around
 * each stage; tinyml's QEMU plugin counts the same spans exactly between
 * tinyml_mark_fe_begin/end (front end, per frame) and tinyml_mark_begin/end
 * (network, per inference).
 *
 * The file has two parts: the line protocol (kws_serve), portable C99 that reaches
 * the UART, the app and semihosting only through a kws_io, and the emulator around
 * it. -DTINYML_KWS_PROTOCOL_ONLY leaves the emulator out, so a host build can test
 * the parser alone (tests/fuzz/fuzz_kws.c, under AddressSanitizer).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tinyml_protocol.h"
#ifndef TINYML_KWS_PROTOCOL_ONLY
#include "mps2.h"
#include "tinyml_kws.h"
#include "tinyml_model.h"
#endif

#define CHUNK 1024 /* samples handed to the app at most at once */
#define MAX_PATH 255

/* ---- the line protocol ---- */

typedef struct {
  int (*read_char)(void);                          /* the next byte from the host, blocking; -1: link gone */
  void (*audio)(const int16_t *samples, size_t n); /* samples heard, 1 <= n <= CHUNK */
  /* a raw int16 file on the host (semihosting): a handle or -1; bytes read (0 at its end) or -1 */
  int (*file_open)(const char *path, uint32_t len);
  int32_t (*file_read)(int fd, int16_t *samples, uint32_t bytes);
  void (*file_close)(int fd);
  void (*reset)(void);   /* R: a "reset" event, then a fresh app */
  void (*hello)(void);   /* H */
  void (*summary)(void); /* Q: the "summary" event; kws_serve returns next */
} kws_io;

/* Events go out through the protocol's writer (tinyml_protocol.h) to the link: the UART (main), or
 * a host harness's stdout. */
static tm_out_fn g_out;
static void out(const char *s) { tm_put(g_out, s); }
static void event(const char *name) { tm_event_begin(g_out, name); }
static void field(const char *name, uint64_t v) { tm_field_u64(g_out, name, v); }
static void end(void) { tm_event_end(g_out); }
static void error(const char *message) { tm_event_error(g_out, message); }
static int skip_line(const kws_io *io, int c) { return tm_skip_line(io->read_char, c); }

/* "A <hex>\n" after the A: samples go to the app CHUNK at a time, as they arrive. 0, or -1: link gone. */
static int read_audio(const kws_io *io) {
  static int16_t chunk[CHUNK];
  size_t n = 0;
  int c = io->read_char();
  while (c == ' ') c = io->read_char();
  for (;;) {
    int digits[4], k;
    if (c == '\r') c = io->read_char();
    if (c == '\n') break;
    for (k = 0; k < 4; ++k) {
      if ((digits[k] = tm_hex_value(c)) < 0) break;
      if (k < 3) c = io->read_char();
    }
    if (k < 4) {
      if (n) io->audio(chunk, n); /* what came before the bad digit is audio already heard */
      if (skip_line(io, c) < 0) return -1;
      error("malformed audio line: expected A followed by 4 hex digits per int16 sample (little-endian)");
      return 0;
    }
    chunk[n++] = (int16_t)(uint16_t)((digits[0] << 4 | digits[1]) | (digits[2] << 4 | digits[3]) << 8);
    if (n == CHUNK) {
      io->audio(chunk, n);
      n = 0;
    }
    c = io->read_char();
  }
  if (n) io->audio(chunk, n);
  return 0;
}

/* "F <chunk> <path>\n" after the F. 0, or -1: link gone. */
static int read_file(const kws_io *io) {
  static int16_t chunk[CHUNK];
  char path[MAX_PATH + 1];
  uint32_t size = 0, len = 0, samples = 0;
  int c = io->read_char(), fd;
  while (c == ' ') c = io->read_char();
  while (c >= '0' && c <= '9' && size <= CHUNK) {
    size = size * 10u + (uint32_t)(c - '0');
    c = io->read_char();
  }
  while (c == ' ') c = io->read_char();
  while (c >= 0 && c != '\n' && c != '\r' && len < MAX_PATH) {
    path[len++] = (char)c;
    c = io->read_char();
  }
  path[len] = '\0';
  if (skip_line(io, c) < 0) return -1;
  if (size < 1 || size > CHUNK || len == 0 || (c != '\n' && c != '\r')) {
    error("malformed file line: expected F <samples per push, 1..1024> <path>");
    return 0;
  }
  if ((fd = io->file_open(path, len)) < 0) {
    error("cannot open the audio file on the host (semihosting SYS_OPEN)");
    return 0;
  }
  for (;;) {
    const uint32_t want = size * sizeof chunk[0];
    const int32_t got = io->file_read(fd, chunk, want);
    uint32_t heard;
    if (got <= 0 || (uint32_t)got > want) break; /* the end, or a failed read: what came before was heard */
    heard = (uint32_t)got / sizeof chunk[0];     /* an odd last byte is not a sample */
    if (heard) io->audio(chunk, heard);
    samples += heard;
    if ((uint32_t)got < want) break;
  }
  io->file_close(fd);
  event("file");
  field("samples", samples);
  end();
  return 0;
}

/* Serves commands until Q (returns 0, after the summary) or until the link is gone (returns -1). */
static int kws_serve(const kws_io *io) {
  for (;;) {
    int c = io->read_char(), done = 0;
    if (c < 0) return -1;
    if (c == '\n' || c == '\r' || c == ' ') continue;
    if (c == 'A') {
      done = read_audio(io);
    } else if (c == 'F') {
      done = read_file(io);
    } else if (c == 'R' || c == 'H' || c == 'Q') {
      /* Q reads the rest of its line too: bytes left unread when the firmware exits make QEMU
         reset the connection, which can discard the summary before the host reads it. */
      if ((done = skip_line(io, io->read_char())) == 0) {
        if (c == 'R') io->reset();
        if (c == 'H') io->hello();
        if (c == 'Q') {
          io->summary();
          return 0;
        }
      }
    } else {
      if ((done = skip_line(io, c)) == 0) error("unknown command: expected A, F, R, H or Q");
    }
    if (done < 0) return -1;
  }
}

#ifndef TINYML_KWS_PROTOCOL_ONLY
/* ---- the emulator: QEMU mps2-an386 ---- */

#ifndef TINYML_MODEL_NAME
#define TINYML_MODEL_NAME "model"
#endif

/* Markers for tinyml's QEMU plugin, which counts the instructions between them exactly. */
__attribute__((noinline, used)) void tinyml_mark_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline, used)) void tinyml_mark_end(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline, used)) void tinyml_mark_fe_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline, used)) void tinyml_mark_fe_end(void) { __asm__ volatile("" ::: "memory"); }

typedef struct {
  uint64_t started, total, max;
} stage_clock;

/* UART0's receive interrupt (CMSDK UART on mps2-an386: IRQ 0), used only to wake from WFI. */
#define REG32(addr) (*(volatile uint32_t *)(addr))
#define UART0_CTRL REG32(0x40004008u)
#define UART0_INTCLEAR REG32(0x4000400Cu)
#define NVIC_ISER0 REG32(0xE000E100u)
#define NVIC_ICER0 REG32(0xE000E180u)
#define NVIC_ICPR0 REG32(0xE000E280u)

/* A byte from the host. Sleeps in WFI until one arrives instead of polling: QEMU then serves its
 * UART about twice as fast (and idles). The interrupt is enabled in the NVIC only while asleep,
 * with PRIMASK set, so it wakes the core without being taken (the vector table has no entry for
 * it); SysTick runs as soon as PRIMASK clears. */
static int uart_read(void) {
  for (;;) {
    int c;
    __asm__ volatile("cpsid i" ::: "memory");
    if ((c = mps2_uart_poll()) >= 0) {
      __asm__ volatile("cpsie i" ::: "memory");
      return c;
    }
    NVIC_ISER0 = 1u;
    __asm__ volatile("dsb\n wfi" ::: "memory");
    UART0_INTCLEAR = 2u; /* RX */
    NVIC_ICER0 = 1u;
    NVIC_ICPR0 = 1u;
    __asm__ volatile("cpsie i" ::: "memory");
  }
}

static tm_kws g_app;
static stage_clock g_clock[2]; /* TM_KWS_STAGE_FRONTEND, TM_KWS_STAGE_NETWORK */
static uint64_t g_last_network;
static uint32_t g_streams, g_frames, g_inferences, g_detections;

static void out_i32(int32_t v) { tm_put_i64(g_out, v); }

static void on_stage(void *user, tm_kws_stage stage, int begin) {
  stage_clock *c = &g_clock[stage];
  (void)user;
  if (begin) {
    c->started = mps2_instructions();
    if (stage == TM_KWS_STAGE_FRONTEND) tinyml_mark_fe_begin(); else tinyml_mark_begin();
  } else {
    uint64_t spent;
    if (stage == TM_KWS_STAGE_FRONTEND) tinyml_mark_fe_end(); else tinyml_mark_end();
    spent = mps2_instructions() - c->started;
    c->total += spent;
    if (spent > c->max) c->max = spent;
    if (stage == TM_KWS_STAGE_NETWORK) g_last_network = spent;
  }
}

static void on_inference(void *user, const tm_kws_inference *e) {
  int i;
  (void)user;
  event("inference");
  field("index", e->index);
  field("hop", e->hop);
  field("time_ms", e->time_ms);
  field("status", (uint64_t)(e->status < 0 ? -e->status : e->status));
  field("instructions", g_last_network);
  out(",\"scores\":[");
  for (i = 0; i < TM_KWS_NUM_LABELS; ++i) {
    if (i) out(",");
    out_i32(e->scores[i]);
  }
  out("],\"smoothed\":[");
  for (i = 0; i < TM_KWS_NUM_LABELS; ++i) {
    if (i) out(",");
    tm_put_u64(g_out, e->smoothed[i]);
  }
  out("]");
  end();
}

static void on_detection(void *user, const tm_kws_detection *d) {
  (void)user;
  event("detection");
  out(",\"label\":\"");
  out(tm_kws_labels[d->label]);
  out("\"");
  field("label_index", (uint64_t)d->label);
  field("score", d->score);
  field("time_ms", d->time_ms);
  field("index", d->index);
  field("hop", d->hop);
  end();
}

static void hello(const tm_kws_params *p) {
  int i;
  event("hello");
  out(",\"app\":\"kws\",\"model\":\"" TINYML_MODEL_NAME "\",\"board\":\"qemu-mps2-an386\",\"clock\":\"instructions\"");
  out(",\"labels\":[");
  for (i = 0; i < TM_KWS_NUM_LABELS; ++i) {
    out(i ? ",\"" : "\"");
    out(tm_kws_labels[i]);
    out("\"");
  }
  out("]");
  field("sample_rate", TM_FE_SAMPLE_RATE);
  field("fft_size", TM_FE_FFT_SIZE);
  field("hop", TM_FE_HOP);
  field("frames", TM_FE_FRAMES);
  field("mel_bands", TM_FE_MEL_BANDS);
  out(TM_FE_NORMALIZE_MEAN ? ",\"normalize\":\"mean\"" : ",\"normalize\":\"none\"");
  field("infer_every", p->infer_every);
  field("average", p->average);
  field("threshold", p->threshold);
  field("suppression_ms", p->suppression_ms);
  field("arena_bytes", TINYML_ARENA_BYTES);
  field("app_bytes", sizeof g_app);
  end();
}

static void stream_end(void) {
  event("reset");
  field("stream", g_streams);
  field("hops", g_app.hops);
  field("inferences", g_app.inferences);
  field("detections", g_app.detections);
  end();
}

static void summary(void) {
  event("summary");
  field("streams", g_streams);
  field("frames", g_frames);
  field("inferences", g_inferences);
  field("detections", g_detections);
  field("frontend_instructions", g_clock[TM_KWS_STAGE_FRONTEND].total);
  field("frontend_max_instructions", g_clock[TM_KWS_STAGE_FRONTEND].max);
  field("network_instructions", g_clock[TM_KWS_STAGE_NETWORK].total);
  field("network_max_instructions", g_clock[TM_KWS_STAGE_NETWORK].max);
  field("flash_bytes", mps2_flash_bytes());
  field("ram_bytes", mps2_ram_bytes());
  field("arena_bytes", TINYML_ARENA_BYTES);
  field("stack_bytes", mps2_stack_bytes());
  end();
}

static void report_fault(uint32_t pc, uint32_t cfsr) {
  tm_event_fault(g_out, pc, cfsr);
}

static int semihost(int op, const void *args) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = args;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static int semihost_open(const char *path, uint32_t len) {
  uint32_t args[3];
  args[0] = (uint32_t)(uintptr_t)path;
  args[1] = 1u; /* "rb" */
  args[2] = len;
  return semihost(0x01, args); /* SYS_OPEN */
}

static int32_t semihost_read(int fd, int16_t *samples, uint32_t bytes) {
  uint32_t args[3];
  int left;
  args[0] = (uint32_t)fd;
  args[1] = (uint32_t)(uintptr_t)samples;
  args[2] = bytes;
  left = semihost(0x06, args); /* SYS_READ returns the bytes not read */
  return left < 0 || (uint32_t)left > bytes ? -1 : (int32_t)(bytes - (uint32_t)left);
}

static void semihost_close(int fd) {
  uint32_t args[1];
  args[0] = (uint32_t)fd;
  semihost(0x02, args); /* SYS_CLOSE */
}

static tm_kws_model g_model;
static tm_kws_hooks g_hooks;
static tm_kws_params g_params;

static void push(const int16_t *samples, size_t n) { g_frames += tm_kws_push(&g_app, samples, n); }

static void reset(void) {
  g_inferences += g_app.inferences;
  g_detections += g_app.detections;
  stream_end();
  ++g_streams;
  tm_kws_init(&g_app, &g_params, &g_model, &g_hooks);
}

static void say_hello(void) { hello(&g_params); }

static void quit(void) {
  g_inferences += g_app.inferences;
  g_detections += g_app.detections;
  if (g_app.hops) ++g_streams;
  summary();
}

int main(void) {
  static const kws_io io = {uart_read, push, semihost_open, semihost_read, semihost_close, reset, say_hello, quit};
  g_out = mps2_uart_write;
  g_params = tm_kws_default_params();
  mps2_fault_hook = report_fault;
  mps2_init();
  UART0_CTRL |= 1u << 3; /* RX interrupt on: it wakes uart_read from WFI */
  g_model.input = (int8_t *)tinyml_input(0);
  g_model.output = (const int8_t *)tinyml_output(0);
  g_model.invoke = tinyml_invoke;
  g_hooks.user = NULL;
  g_hooks.stage = on_stage;
  g_hooks.inference = on_inference;
  g_hooks.detection = on_detection;
  if (tm_kws_init(&g_app, &g_params, &g_model, &g_hooks) != 0) {
    error("the generated stream params are out of range");
    return 2;
  }
  hello(&g_params);
  return kws_serve(&io) == 0 ? 0 : 1; /* uart_read never reports a lost link: kws_serve ends with Q */
}
#endif /* TINYML_KWS_PROTOCOL_ONLY */
