/*
 * tinyml's sensor streamer for the Arduino Nano 33 BLE Sense (Rev1 and Rev2).
 *
 * Streams the IMU (accelerometer + gyroscope at the sensor's native rate, the
 * magnetometer on its own stream) and the PDM microphone (16 kHz, 16-bit)
 * through tinyml's framed protocol (tinyml_stream.h) over USB serial. The IMU
 * is detected on the internal I2C bus: LSM9DS1 (Rev1) answers at 0x6B, BMI270
 * (Rev2) at 0x68. Both report in one board frame, the LSM9DS1's: on this board
 * Arduino_BMI270_BMM150 (1.2.x, pinned in platformio.ini) maps the BMI270's
 * axes onto it itself (x = -y, y = -x, z = z; docs/importing.md). The
 * magnetometers are not mapped. Audio arrives from the PDM interrupt into a ring buffer; a
 * full ring drops samples and the gap shows as lost frames on the host (the
 * sequence numbers keep counting), never as silently shifted audio.
 */
#include <Arduino.h>
#include <PDM.h>
#include <Wire.h>

#include <Arduino_BMI270_BMM150.h>
#undef IMU
#include <Arduino_LSM9DS1.h>

#include "tinyml_stream.h"

namespace {

enum Chip { kNone, kLsm9ds1, kBmi270 };
Chip g_chip = kNone;

constexpr uint16_t kImuFrame = 8, kMicFrame = 256, kMagFrame = 4;
// Full scales of the int16 encoding (value = raw * full scale / 32768), also sent as scales in hello.
constexpr float kAccelFullScale = 4.0f, kGyroFullScale = 2000.0f, kMagFullScale = 4.0f;
constexpr size_t kRingSamples = 4096;  // 256 ms of audio
volatile int16_t g_ring[kRingSamples];
volatile uint32_t g_ring_write = 0;  // total samples written by the PDM interrupt
uint32_t g_ring_read = 0;

struct Stream {
  uint8_t id, channels;
  uint16_t frame_samples;
  uint32_t rate_hz;
  bool active;
  uint32_t sequence, next_sample, frame_start_us;
  int16_t buffer[kMicFrame * 6];
  uint16_t filled;
};
Stream g_imu{TM_STREAM_IMU, 6, kImuFrame, 119, false, 0, 0, 0, {}, 0};
Stream g_mic{TM_STREAM_MIC, 1, kMicFrame, 16000, false, 0, 0, 0, {}, 0};
Stream g_mag{TM_STREAM_MAG, 3, kMagFrame, 20, false, 0, 0, 0, {}, 0};
tm_frame_reader g_reader;

void write_bytes(const uint8_t *data, size_t n) { Serial.write(data, n); }

bool probe(uint8_t address) {
  Wire1.beginTransmission(address);
  return Wire1.endTransmission() == 0;
}

void on_pdm() {
  int16_t chunk[256];
  int bytes = PDM.available();
  if (bytes > static_cast<int>(sizeof chunk)) bytes = sizeof chunk;
  PDM.read(chunk, bytes);
  for (int i = 0; i < bytes / 2; ++i) {
    if (g_ring_write - g_ring_read < kRingSamples) g_ring[g_ring_write % kRingSamples] = chunk[i];
    ++g_ring_write;  // counts dropped samples too, so the host sees the gap
  }
}

void send_text(uint8_t type, const char *text) {
  tm_frame_header h{};
  h.type = type;
  h.format = TM_FORMAT_TEXT;
  tm_send_frame(write_bytes, &h, reinterpret_cast<const uint8_t *>(text), strlen(text));
}

// The JSON numbers come from tm_format_float, never from printf's %f: PlatformIO links newlib-nano
// without -u _printf_float, where %f prints nothing and the hello would not parse.
void hello() {
  char text[900], accel[TM_FLOAT_CHARS], gyro[TM_FLOAT_CHARS], mag[TM_FLOAT_CHARS], pcm[TM_FLOAT_CHARS];
  const char *imu = g_chip == kLsm9ds1 ? "LSM9DS1" : (g_chip == kBmi270 ? "BMI270" : "none");
  tm_format_float(accel, sizeof accel, kAccelFullScale / 32768.0f);
  tm_format_float(gyro, sizeof gyro, kGyroFullScale / 32768.0f);
  tm_format_float(mag, sizeof mag, kMagFullScale / 32768.0f);
  tm_format_float(pcm, sizeof pcm, 1.0f / 32768.0f);
  const int len = snprintf(text, sizeof text,
           "{\"firmware\":\"tinyml-streamer 1\",\"board\":\"nano33ble\",\"imu\":\"%s\",\"streams\":["
           "{\"id\":1,\"name\":\"imu\",\"rate_hz\":%lu,\"channels\":6,\"frame_samples\":%u,"
           "\"axes\":[\"ax\",\"ay\",\"az\",\"gx\",\"gy\",\"gz\"],\"units\":[\"g\",\"g\",\"g\",\"dps\",\"dps\",\"dps\"],"
           "\"scale\":[%s,%s,%s,%s,%s,%s]},"
           "{\"id\":2,\"name\":\"mic\",\"rate_hz\":16000,\"channels\":1,\"frame_samples\":%u,"
           "\"axes\":[\"pcm\"],\"units\":[\"fs\"],\"scale\":[%s]},"
           "{\"id\":3,\"name\":\"mag\",\"rate_hz\":%lu,\"channels\":3,\"frame_samples\":%u,"
           "\"axes\":[\"mx\",\"my\",\"mz\"],\"units\":[\"gauss\",\"gauss\",\"gauss\"],\"scale\":[%s,%s,%s]}]}",
           imu, static_cast<unsigned long>(g_imu.rate_hz), kImuFrame, accel, accel, accel, gyro, gyro, gyro,
           kMicFrame, pcm, static_cast<unsigned long>(g_mag.rate_hz), kMagFrame, mag, mag, mag);
  if (len < 0 || len >= static_cast<int>(sizeof text)) {  // never with these values: about 650 bytes
    send_text(TM_ERROR, "{\"message\":\"hello does not fit its buffer\"}");
    return;
  }
  send_text(TM_HELLO, text);
}

void flush(Stream &s) {
  tm_frame_header h{};
  h.type = TM_DATA;
  h.stream = s.id;
  h.format = TM_FORMAT_INT16;
  h.channels = s.channels;
  h.samples = s.filled;
  h.sequence = s.sequence++;
  h.timestamp_us = s.frame_start_us;
  tm_send_frame(write_bytes, &h, reinterpret_cast<const uint8_t *>(s.buffer), s.filled * s.channels * 2u);
  s.next_sample += s.filled;
  s.filled = 0;
}

void push(Stream &s, const int16_t *values) {
  if (s.filled == 0) s.frame_start_us = micros();
  memcpy(&s.buffer[s.filled * s.channels], values, s.channels * sizeof(int16_t));
  if (++s.filled == s.frame_samples) flush(s);
}

int16_t to_raw(float value, float full_scale) {
  const float raw = value / full_scale * 32768.0f;
  return static_cast<int16_t>(raw > 32767.0f ? 32767 : (raw < -32768.0f ? -32768 : raw));
}

void poll_imu() {
  float ax, ay, az, gx, gy, gz, mx, my, mz;
  bool got = false, got_mag = false;
  if (g_chip == kLsm9ds1) {
    if (IMU_LSM9DS1.accelerationAvailable() && IMU_LSM9DS1.gyroscopeAvailable()) {
      IMU_LSM9DS1.readAcceleration(ax, ay, az);
      IMU_LSM9DS1.readGyroscope(gx, gy, gz);
      got = true;
    }
    if (g_mag.active && IMU_LSM9DS1.magneticFieldAvailable()) {
      IMU_LSM9DS1.readMagneticField(mx, my, mz);  // microtesla
      got_mag = true;
    }
  } else if (g_chip == kBmi270) {
    if (IMU_BMI270_BMM150.accelerationAvailable() && IMU_BMI270_BMM150.gyroscopeAvailable()) {
      IMU_BMI270_BMM150.readAcceleration(ax, ay, az);
      IMU_BMI270_BMM150.readGyroscope(gx, gy, gz);
      got = true;
    }
    if (g_mag.active && IMU_BMI270_BMM150.magneticFieldAvailable()) {
      IMU_BMI270_BMM150.readMagneticField(mx, my, mz);
      got_mag = true;
    }
  }
  if (got && g_imu.active) {
    const int16_t v[6] = {to_raw(ax, kAccelFullScale), to_raw(ay, kAccelFullScale), to_raw(az, kAccelFullScale),
                          to_raw(gx, kGyroFullScale), to_raw(gy, kGyroFullScale), to_raw(gz, kGyroFullScale)};
    push(g_imu, v);
  }
  if (got_mag) {  // microtesla -> gauss
    const int16_t v[3] = {to_raw(mx / 100.0f, kMagFullScale), to_raw(my / 100.0f, kMagFullScale),
                          to_raw(mz / 100.0f, kMagFullScale)};
    push(g_mag, v);
  }
}

void poll_mic() {
  while (g_mic.active && g_ring_read != g_ring_write) {
    if (g_ring_write - g_ring_read > kRingSamples) {  // overrun: skip what was dropped, keep counting
      const uint32_t dropped = g_ring_write - g_ring_read - kRingSamples;
      g_ring_read += dropped;
      g_mic.sequence += (dropped + g_mic.filled) / kMicFrame;
      g_mic.filled = 0;
    }
    const int16_t v = g_ring[g_ring_read % kRingSamples];
    ++g_ring_read;
    push(g_mic, &v);
  }
}

Stream *find(uint8_t id) {
  return id == TM_STREAM_IMU ? &g_imu : (id == TM_STREAM_MIC ? &g_mic : (id == TM_STREAM_MAG ? &g_mag : nullptr));
}

void command(const tm_frame_header &h, const uint8_t *payload, size_t n) {
  Stream *s = n >= 1 ? find(payload[0]) : nullptr;
  if (h.type == TM_CMD_HELLO) {
    hello();
  } else if ((h.type == TM_CMD_START || h.type == TM_CMD_STOP) && !s) {
    send_text(TM_ERROR, "{\"message\":\"unknown stream\"}");
  } else if (h.type == TM_CMD_START) {
    s->active = true;
    s->sequence = s->next_sample = s->filled = 0;
    if (s == &g_mic) {
      g_ring_read = g_ring_write;
      PDM.onReceive(on_pdm);
      PDM.begin(1, 16000);
    }
  } else if (h.type == TM_CMD_STOP) {
    if (s->filled) flush(*s);
    s->active = false;
    if (s == &g_mic) PDM.end();
    tm_frame_header done{};
    done.type = TM_STOPPED;
    done.stream = s->id;
    done.sequence = s->sequence;
    const uint8_t total[4] = {static_cast<uint8_t>(s->next_sample), static_cast<uint8_t>(s->next_sample >> 8),
                              static_cast<uint8_t>(s->next_sample >> 16),
                              static_cast<uint8_t>(s->next_sample >> 24)};
    tm_send_frame(write_bytes, &done, total, sizeof total);
  }
}

}  // namespace

void setup() {
  Serial.begin(115200);  // USB CDC: the baud rate is nominal
  while (!Serial) {
  }
  Wire1.begin();
  if (probe(0x6B) && IMU_LSM9DS1.begin()) {
    g_chip = kLsm9ds1;
    g_imu.rate_hz = static_cast<uint32_t>(IMU_LSM9DS1.accelerationSampleRate());
    g_mag.rate_hz = static_cast<uint32_t>(IMU_LSM9DS1.magneticFieldSampleRate());
  } else if (probe(0x68) && IMU_BMI270_BMM150.begin()) {
    g_chip = kBmi270;
    g_imu.rate_hz = static_cast<uint32_t>(IMU_BMI270_BMM150.accelerationSampleRate());
    g_mag.rate_hz = static_cast<uint32_t>(IMU_BMI270_BMM150.magneticFieldSampleRate());
  }
  hello();
}

void loop() {
  static uint8_t payload[64];
  while (Serial.available()) {
    tm_frame_header h;
    size_t n;
    if (tm_read_frame(&g_reader, static_cast<uint8_t>(Serial.read()), &h, payload, sizeof payload, &n) == 1)
      command(h, payload, n);
  }
  if (g_imu.active || g_mag.active) poll_imu();
  poll_mic();
}
