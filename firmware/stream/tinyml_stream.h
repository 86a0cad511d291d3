/*
 * tinyml's sensor streaming protocol, version 1: the frame encoder and command
 * decoder shared by the board streamer and the emulated streamer. Portable C99.
 *
 * A frame is a 16-byte header, a payload and a CRC-32 (IEEE, as zlib's crc32)
 * of header and payload, all little-endian, then COBS-encoded and ended by a
 * 0x00 byte, so a reader resynchronises at the next 0x00 after any garbage.
 *
 *   offset size  field
 *   0      1     version (1)
 *   1      1     type: 1 hello, 2 data, 3 stopped, 4 error; host commands: 16 hello, 17 start, 18 stop
 *   2      1     stream: 0 control, 1 imu (ax ay az gx gy gz), 2 mic, 3 mag (mx my mz)
 *   3      1     sample format: 0 none, 1 int16, 2 text (UTF-8 JSON)
 *   4      4     sequence number (per stream, from 0 at start)
 *   8      4     device timestamp of the first sample, microseconds
 *   12     2     samples in the frame (per channel)
 *   14     1     channels
 *   15     1     reserved (0)
 *
 * docs/stream-protocol.md describes the messages; collect/frames.py is the host side.
 */
#ifndef TINYML_STREAM_H_
#define TINYML_STREAM_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TM_STREAM_VERSION 1
#define TM_HEADER_BYTES 16
#define TM_MAX_PAYLOAD 1024

enum { TM_HELLO = 1, TM_DATA = 2, TM_STOPPED = 3, TM_ERROR = 4, TM_CMD_HELLO = 16, TM_CMD_START = 17, TM_CMD_STOP = 18 };
enum { TM_STREAM_CONTROL = 0, TM_STREAM_IMU = 1, TM_STREAM_MIC = 2, TM_STREAM_MAG = 3 };
enum { TM_FORMAT_NONE = 0, TM_FORMAT_INT16 = 1, TM_FORMAT_TEXT = 2 };

typedef struct {
  uint8_t type, stream, format, channels;
  uint32_t sequence, timestamp_us;
  uint16_t samples;
} tm_frame_header;

typedef void (*tm_write_fn)(const uint8_t *data, size_t n);

uint32_t tm_crc32(uint32_t crc, const uint8_t *data, size_t n);

/* Encodes header + payload + CRC with COBS and writes it, then the 0x00 delimiter. */
void tm_send_frame(tm_write_fn write, const tm_frame_header *h, const uint8_t *payload, size_t payload_bytes);

/* Collects bytes of one incoming frame (a host command: its payload is at most
 * TM_COMMAND_PAYLOAD bytes); returns 1 when `byte` completes a valid frame (header in *h,
 * payload in `payload`, length in *payload_bytes), 0 while incomplete, -1 for a frame that
 * failed COBS, length or CRC checks or whose payload is longer than `capacity`, the bytes
 * `payload` holds (it is dropped, nothing is written to `payload`, and `refused` counts it). */
#define TM_COMMAND_PAYLOAD 64
typedef struct {
  uint8_t raw[TM_HEADER_BYTES + TM_COMMAND_PAYLOAD + 4 + 8]; /* COBS bytes of one frame, and slack */
  size_t used;
  int overflow;
  uint32_t refused;
} tm_frame_reader;

int tm_read_frame(tm_frame_reader *r, uint8_t byte, tm_frame_header *h, uint8_t *payload, size_t capacity,
                  size_t *payload_bytes);

/* Writes `value` as a JSON number, exactly: a float32 is m * 2^e, so its decimal expansion ends,
 * and the host reads back the very same float32. No printf: newlib-nano (PlatformIO's mbed link)
 * prints nothing for %f unless linked with -u _printf_float. NUL-terminated; returns the length,
 * or 0 (nothing written) for inf/nan, for |value| >= 2^64, for a binary fraction longer than 60
 * bits (only values under 2^-37 have one) or when `n` is too small; TM_FLOAT_CHARS always fits. */
#define TM_FLOAT_CHARS 84
size_t tm_format_float(char *out, size_t n, float value);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_STREAM_H_ */
