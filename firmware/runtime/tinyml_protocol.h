/* tinyml's device protocol, device side: its version and the one event writer every firmware app uses.
 *
 * An event is one line, TINYML {"v":<version>,"event":"<name>",<fields>}, read on the host by
 * tinyml/protocol.py (parse_line), which accepts this version only (docs/protocol.md). The writer
 * needs no printf and no heap: it writes through the link's own write function.
 */
#ifndef TINYML_PROTOCOL_H_
#define TINYML_PROTOCOL_H_

#include <stddef.h>
#include <stdint.h>

#define TINYML_PROTOCOL_VERSION 1

#define TINYML_STRINGIFY_(x) #x
#define TINYML_STRINGIFY(x) TINYML_STRINGIFY_(x)

/* "TINYML {\"v\":1,\"event\":\"": the event's name and closing quote follow */
#define TINYML_EVENT_START "TINYML {\"v\":" TINYML_STRINGIFY(TINYML_PROTOCOL_VERSION) ",\"event\":\""
/* TINYML_EVENT("hello") is the literal "TINYML {\"v\":1,\"event\":\"hello\"", for apps that print
 * literals (the board's KWS app, through Arduino's Serial) */
#define TINYML_EVENT(name) TINYML_EVENT_START name "\""

#ifdef __cplusplus
extern "C" {
#endif

/* The link: writes n bytes (blocking). */
typedef void (*tm_out_fn)(const char *data, size_t n);

void tm_put(tm_out_fn out, const char *s);
void tm_put_u64(tm_out_fn out, uint64_t v);
void tm_put_i64(tm_out_fn out, int64_t v);
void tm_put_hex32(tm_out_fn out, uint32_t v); /* 0x and 8 lower-case digits */

/* An event: tm_event_begin, any fields, tm_event_end. String values are written as they are (the
 * callers' strings need no JSON escaping: codegen escapes model names and labels). */
void tm_event_begin(tm_out_fn out, const char *name);
void tm_field_u64(tm_out_fn out, const char *name, uint64_t v);
void tm_field_str(tm_out_fn out, const char *name, const char *v);
void tm_field_hex32(tm_out_fn out, const char *name, uint32_t v); /* as a string: "0x0000abcd" */
void tm_event_end(tm_out_fn out);

/* Whole events every app writes alike. */
void tm_event_error(tm_out_fn out, const char *message);
void tm_event_fault(tm_out_fn out, uint32_t pc, uint32_t cfsr);

/* Reading commands: a hex digit's value, or -1 for any other character. */
int tm_hex_value(int c);
/* Skips the rest of a line, `c` being its next character (nothing more is read when it is the
 * newline); 0, or -1 once the link is gone (read_char returned -1). */
int tm_skip_line(int (*read_char)(void), int c);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_PROTOCOL_H_ */
