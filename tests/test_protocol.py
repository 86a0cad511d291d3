"""The host side of the firmware protocol, on canned bytes and over pyserial's loop://."""

import pytest
import serial

from tinyml.evaluate.protocol import Device, DeviceError, parse_line


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
    import ast
    import re
    import subprocess

    from tinyml.evaluate.protocol import VERSION
    from tinyml.firmware import FIRMWARE_DIR

    header = (FIRMWARE_DIR / "runtime" / "tinyml_protocol.h").read_text()
    assert re.search(r"#define TINYML_PROTOCOL_VERSION (\d+)\n", header).group(1) == str(VERSION)
    # every event line of every app starts from the header's macro: no version written by hand
    for path in FIRMWARE_DIR.rglob("*"):
        if path.suffix in (".c", ".cpp", ".h", ".j2") and path.name != "tinyml_protocol.h":
            assert '\\"v\\":' not in path.read_text(), path
    # and the macro expands to what parse_line reads
    done = subprocess.run(["cpp", "-P", "-I", str(FIRMWARE_DIR / "runtime"), "-"], capture_output=True, text=True,
                          input='#include "tinyml_protocol.h"\nTINYML_EVENT("hello") "}"\n', check=True)
    literal = ast.literal_eval(" ".join(done.stdout.split()))  # adjacent literals join, in C and in Python
    assert parse_line(literal.encode()) == {"v": VERSION, "event": "hello"}
