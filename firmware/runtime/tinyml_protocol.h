/* tinyml's device protocol: its version and the start of every event line, for every firmware app.
 *
 * An event is one line, TINYML {"v":<version>,"event":"<name>",<fields>}, read on the host by
 * evaluate/protocol.py (parse_line), which accepts this version only (docs/protocol.md).
 */
#ifndef TINYML_PROTOCOL_H_
#define TINYML_PROTOCOL_H_

#define TINYML_PROTOCOL_VERSION 1

#define TINYML_STRINGIFY_(x) #x
#define TINYML_STRINGIFY(x) TINYML_STRINGIFY_(x)

/* "TINYML {\"v\":1,\"event\":\"": the event's name and closing quote follow */
#define TINYML_EVENT_START "TINYML {\"v\":" TINYML_STRINGIFY(TINYML_PROTOCOL_VERSION) ",\"event\":\""
/* TINYML_EVENT("hello") is the literal "TINYML {\"v\":1,\"event\":\"hello\"" */
#define TINYML_EVENT(name) TINYML_EVENT_START name "\""

#endif /* TINYML_PROTOCOL_H_ */
