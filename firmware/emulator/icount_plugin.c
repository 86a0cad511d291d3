/*
 * tinyml's QEMU TCG plugin: counts guest instructions exactly between pairs of
 * marker functions that the emulator firmware calls around the code it times.
 * Each time the end marker of a span runs, one line is appended to the output
 * file: the number of instructions executed from the first instruction of the
 * span's begin marker to the first instruction of its end marker.
 *
 *   qemu-system-arm ... -plugin libtinyml_icount.so,begin=0x...,end=0x...,out=FILE
 *       one span (tinyml_mark_begin .. tinyml_mark_end around every inference),
 *       lines "COUNT";
 *   qemu-system-arm ... -plugin libtinyml_icount.so,span=net:0x...:0x...,span=fe:0x...:0x...,out=FILE
 *       up to 8 tagged spans (the keyword-spotting app times its front end per
 *       frame and its network per inference), lines "TAG COUNT".
 *
 * Spans are counted independently, so they may interleave or nest.
 *
 * QEMU's installed packages ship the plugin ABI (the binary exports it) but not
 * its header, so the few declarations used here are written out below, after
 * the public plugin API, version 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
struct qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op, void *ptr,
                                                uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define MAX_SPANS 8
#define MAX_TAG 15

typedef struct {
  uint64_t begin_addr, end_addr, at_begin;
  char tag[MAX_TAG + 1]; /* empty: the untagged span of begin=/end= */
} span;

static uint64_t g_executed; /* one vCPU: a plain counter */
static span g_spans[MAX_SPANS];
static int g_num_spans;
static FILE *g_out;

static void on_begin(unsigned int vcpu, void *userdata) {
  span *s = (span *)userdata;
  (void)vcpu;
  s->at_begin = g_executed;
}

static void on_end(unsigned int vcpu, void *userdata) {
  const span *s = (const span *)userdata;
  (void)vcpu;
  if (s->tag[0]) fprintf(g_out, "%s ", s->tag);
  fprintf(g_out, "%" PRIu64 "\n", g_executed - s->at_begin);
  fflush(g_out);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  size_t i, n = qemu_plugin_tb_n_insns(tb);
  int k;
  (void)id;
  for (i = 0; i < n; ++i) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    const uint64_t addr = qemu_plugin_insn_vaddr(insn);
    /* Markers first, so each sees the count of the instructions before it. */
    for (k = 0; k < g_num_spans; ++k) {
      if (addr == g_spans[k].begin_addr)
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, &g_spans[k]);
      if (addr == g_spans[k].end_addr)
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, &g_spans[k]);
    }
    qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &g_executed, 1);
  }
}

/* "TAG:BEGIN:END" -> a tagged span; 0 on success. */
static int parse_span(const char *text, span *s) {
  const char *colon = strchr(text, ':');
  char *rest;
  size_t len;
  if (!colon || colon == text || (len = (size_t)(colon - text)) > MAX_TAG) return -1;
  memcpy(s->tag, text, len);
  s->tag[len] = '\0';
  s->begin_addr = strtoull(colon + 1, &rest, 0);
  if (*rest != ':') return -1;
  s->end_addr = strtoull(rest + 1, &rest, 0);
  return (*rest || !s->begin_addr || !s->end_addr) ? -1 : 0;
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info_t *info,
                                                               int argc, char **argv) {
  const char *out = NULL;
  uint64_t begin = 0, end = 0;
  int i;
  (void)info;
  for (i = 0; i < argc; ++i) {
    if (strncmp(argv[i], "begin=", 6) == 0) begin = strtoull(argv[i] + 6, NULL, 0);
    if (strncmp(argv[i], "end=", 4) == 0) end = strtoull(argv[i] + 4, NULL, 0);
    if (strncmp(argv[i], "out=", 4) == 0) out = argv[i] + 4;
    if (strncmp(argv[i], "span=", 5) == 0) {
      if (g_num_spans == MAX_SPANS || parse_span(argv[i] + 5, &g_spans[g_num_spans]) != 0) {
        fprintf(stderr, "tinyml icount plugin: bad or too many spans at '%s' (span=TAG:BEGIN:END, at most %d)\n",
                argv[i], MAX_SPANS);
        return -1;
      }
      ++g_num_spans;
    }
  }
  if (begin || end) {
    if (!begin || !end || g_num_spans == MAX_SPANS) {
      fprintf(stderr, "tinyml icount plugin: begin= and end= go together\n");
      return -1;
    }
    g_spans[g_num_spans].begin_addr = begin;
    g_spans[g_num_spans].end_addr = end;
    g_spans[g_num_spans].tag[0] = '\0';
    ++g_num_spans;
  }
  if (!g_num_spans || !out) {
    fprintf(stderr, "tinyml icount plugin: needs begin=ADDR,end=ADDR or span=TAG:BEGIN:END, and out=FILE\n");
    return -1;
  }
  g_out = fopen(out, "w");
  if (!g_out) {
    perror(out);
    return -1;
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  return 0;
}
