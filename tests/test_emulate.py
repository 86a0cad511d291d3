"""The firmware on QEMU's Cortex-M4: built offline with PlatformIO, read back over its UART."""

import json
import os
import subprocess
import sys
import time

import pytest

from tinyml.cli import main
from tinyml.codegen.emulator import write_project
from tinyml.errors import BadInput
from tinyml.evaluate.emulate import emulate
from tinyml.host.platformio import build
from tinyml.host.qemu import running
from tinyml.protocol import DeviceError

import models
from conftest import one_error_line, tool

KEYS = ("instructions_per_inference", "flash_bytes", "ram_bytes", "arena_bytes", "stack_bytes",
        "outputs_match_host", "inputs_checked")


@pytest.fixture(autouse=True)
def _tools():
    tool("qemu-system-arm")
    tool("arm-none-eabi-gcc")


def test_demo_model_on_qemu(demo_project, tmp_path, capsys):
    model = demo_project / "build" / "model_int8.tflite"
    assert main(["emulate", str(model), "-o", str(tmp_path / "emu"), "--inputs", "6", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    for key in KEYS:
        assert key in r
    assert r["outputs_match_host"] is True and r["inputs_checked"] == 6
    assert r["arena_bytes"] == 2848 or r["arena_bytes"] > 0
    assert 0 < r["stack_bytes"] < 4096
    assert r["flash_bytes"] == r["elf_text"] + r["elf_data"] and r["ram_bytes"] == r["elf_data"] + r["elf_bss"]
    # Deterministic under -icount: the same build and inputs give the same count.
    again = emulate(model, tmp_path / "emu", inputs=6)
    assert again["instructions_per_inference"] == r["instructions_per_inference"]
    assert r["instruction_counter"] == "QEMU plugin, exact"
    assert abs(r["instructions_systick"] - r["instructions_per_inference"]) <= 80  # two ways, one count
    assert r["instructions_per_inference"] > r["macs"]  # at least one instruction per multiply-accumulate


def test_micro_speech_on_qemu(reference, tmp_path):
    r = emulate(reference / "micro_speech" / "micro_speech_quantized.tflite", tmp_path / "emu", inputs=4)
    assert r["outputs_match_host"] and r["inputs_checked"] == 4
    assert r["arena_bytes"] == 5968
    assert r["ram_bytes"] + r["stack_bytes"] < r["ram_budget"]


def test_generated_project_builds_offline_with_plain_pio(demo_project, tmp_path):
    """`pio run -e emulator` in the project `tinyml codegen` wrote, with PlatformIO's own defaults."""
    from tinyml.host.offline import prepare

    prepare()  # what `make setup` runs
    project = demo_project / "build" / "firmware"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLATFORMIO")}
    proc = subprocess.run([sys.executable, "-m", "platformio", "run", "-e", "emulator", "-d", str(project)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (project / ".pio" / "build" / "emulator" / "firmware.elf").is_file()


def test_hung_firmware_is_reported_within_the_timeout(demo_project, tmp_path):
    start = time.monotonic()
    with pytest.raises(DeviceError, match="within 2 s"):
        emulate(demo_project / "build" / "model_int8.tflite", tmp_path / "emu", inputs=1, timeout_s=2,
                extra_flags=("-DTINYML_TEST_HANG",))
    assert time.monotonic() - start < 30


def test_crashing_firmware_is_reported(demo_project, tmp_path):
    with pytest.raises(DeviceError, match="fault at pc"):
        emulate(demo_project / "build" / "model_int8.tflite", tmp_path / "emu", inputs=1, timeout_s=10,
                extra_flags=("-DTINYML_TEST_FAULT",))


def test_too_large_for_the_nrf52840_is_refused_with_numbers(tmp_path, capsys):
    model = models.too_large(tmp_path / "big.tflite")
    write_project(model, tmp_path / "emu")
    with pytest.raises(BadInput, match=r"flash 1,\d\d\d,\d\d\d B > 983,040 B.*nothing was flashed"):
        build(tmp_path / "emu", "emulator", quiet=True)
    capsys.readouterr()
    assert main(["flash", str(tmp_path / "emu"), "-e", "emulator", "--port", "/dev/null"]) == 2
    err = capsys.readouterr().err
    assert "983,040 B" in err.strip().splitlines()[-1]


def test_evaluate_reads_any_serial_url(demo_project, tmp_path, capsys):
    model = demo_project / "build" / "model_int8.tflite"
    write_project(model, tmp_path / "emu")
    elf = build(tmp_path / "emu", "emulator", quiet=True)["elf"]
    with running(elf) as (url, proc):
        assert url.startswith("socket://")
        assert main(["evaluate", str(model), "--port", url, "--inputs", "3", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["outputs_match_host"] and r["inputs_checked"] == 3 and r["clock"] == "instructions"


def test_a_port_that_does_not_open_is_one_line(demo_project, capsys):
    assert main(["evaluate", str(demo_project / "build" / "model_int8.tflite"), "--port", "socket://127.0.0.1:9"]) == 2
    assert "Expected a serial port" in one_error_line(capsys.readouterr().err)
