"""The host side of the firmware protocol, on canned bytes and over pyserial's loop://."""

import pytest
import serial

from tinyml.protocol import Device, DeviceError, parse_line


def test_log_lines_are_not_events():
    assert parse_line(b"tinyml self-check: output matches the host's TFLM\n") is None
    assert parse_line(b"\n") is None


def test_an_event_parses():
    event = parse_line(b'TINYML {"v":1,"event":"result","index":3,"status":0,"us":812,"output":"80ff"}\r\n')
    assert event["event"] == "result" and event["us"] == 812 and bytes.fromhex(event["output"]) == b"\x80\xff"


@pytest.mark.parametrize("line, fragment", [
    (b'TINYML {"v":1,"event":"hello"\n', "JSON"),
    (b'TINYML {"v":2,"event":"hello"}\n', "version 1"),
    (b'TINYML ["hello"]\n', "'event'"),
    (b'TINYML {"v":1,"event":"hel\xff"}\n', "JSON"),
])
def test_broken_events_are_refused(line, fragment):
    with pytest.raises(DeviceError, match=fragment):
        parse_line(line)


def _port(canned: bytes):
    port = serial.serial_for_url("loop://", timeout=0.05)
    port.write(canned)
    return port


def test_device_skips_logs_and_reads_a_torn_line():
    port = _port(b"booting\nTINYML {\"v\":1,\"event\":\"hel")
    device = Device(port, timeout_s=2)
    port.write(b'lo","model":"m","inputs":[4]}\n')
    assert device.hello()["model"] == "m"
    assert device.log == ["booting"]


def test_a_fault_is_reported():
    device = Device(_port(b'TINYML {"v":1,"event":"fault","pc":"0x000001a4","cfsr":"0x00010000"}\n'), timeout_s=2)
    with pytest.raises(DeviceError, match="fault at pc 0x000001a4"):
        device.hello()


def test_silence_times_out_instead_of_hanging():
    device = Device(_port(b"only logs\n"), timeout_s=0.3)
    with pytest.raises(DeviceError, match="within 0.3 s"):
        device.hello()


def test_the_firmware_writes_the_version_the_host_reads():
    import re

    from tinyml.paths import FIRMWARE_DIR
    from tinyml.protocol import VERSION

    header = (FIRMWARE_DIR / "runtime" / "tinyml_protocol.h").read_text()
    assert re.search(r"#define TINYML_PROTOCOL_VERSION (\d+)\n", header).group(1) == str(VERSION)
    # every event line of every app starts from the header's macro: no version written by hand
    for path in FIRMWARE_DIR.rglob("*"):
        if path.suffix in (".c", ".cpp", ".h", ".j2") and path.name != "tinyml_protocol.h":
            assert '\\"v\\":' not in path.read_text(), path


PROTOCOL_PROGRAM = r"""
#include <stdio.h>
#include "tinyml_protocol.h"
static void out(const char *data, size_t n) { fwrite(data, 1, n, stdout); }
int main(void) {
  tm_event_begin(out, "hello");
  tm_field_str(out, "model", "m");
  tm_field_u64(out, "arena_bytes", 18446744073709551615ull);
  tm_event_end(out);
  tm_event_error(out, "unknown command");
  tm_event_fault(out, 0x0800abcdu, 0x100u);
  fputs(TINYML_EVENT("detection") ",\"label\":\"yes\"}\n", stdout);
  return 0;
}
"""


def test_the_firmware_event_writer_writes_what_the_host_parses(tmp_path):
    """tinyml_protocol.c, the one event writer of every firmware app, compiled for the host and read back
    by parse_line, the host's only reader."""
    import shutil
    import subprocess

    from conftest import need
    from tinyml.paths import FIRMWARE_DIR

    need(shutil.which("gcc") is not None, "gcc (host C compiler) is not installed")
    runtime = FIRMWARE_DIR / "runtime"
    (tmp_path / "main.c").write_text(PROTOCOL_PROGRAM)
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(runtime), str(tmp_path / "main.c"),
                    str(runtime / "tinyml_protocol.c"), "-o", str(tmp_path / "events")], check=True)
    lines = subprocess.run([str(tmp_path / "events")], capture_output=True, check=True).stdout.splitlines(keepends=True)
    assert [parse_line(line) for line in lines] == [
        {"v": 1, "event": "hello", "model": "m", "arena_bytes": 2 ** 64 - 1},
        {"v": 1, "event": "error", "message": "unknown command"},
        {"v": 1, "event": "fault", "pc": "0x0800abcd", "cfsr": "0x00000100"},
        {"v": 1, "event": "detection", "label": "yes"},
    ]
