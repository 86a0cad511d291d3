"""Every generated board project compiles for the Nano 33 BLE against the real Arduino mbed core
(tinyml/host/board_check.py): each translation unit of each board env, PlatformIO's and arduino-cli's
flags, warnings on; and the check does fail on a warning, an error or a float printf.

Also the streamer's hello: its scales are JSON numbers written by tm_format_float (no printf %f,
which PlatformIO's newlib-nano leaves empty), exact, so the host reads back the device's float32.
"""

from __future__ import annotations

import ctypes
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REFERENCE, need, one_error_line, tool
from tinyml.cli import main as tinyml

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"
CORE = REFERENCE / "arduino_mbed"
LABELS = ["silence", "unknown", "yes", "no"]


@pytest.fixture(scope="module")
def board(reference):
    """The compile-only prerequisites: the mbed core and the cross compiler."""
    need((CORE / "variants" / "ARDUINO_NANO33BLE" / "includes.txt").is_file(),
         f"the Arduino mbed core is absent: {CORE}")
    tool("arm-none-eabi-g++")
    from tinyml.host import board_check

    return board_check


def _generate(argv: list[str]) -> None:
    assert tinyml(["--quiet", *argv]) == 0, argv


@pytest.fixture(scope="module")
def projects(board, reference, tmp_path_factory) -> dict[str, Path]:
    """One of each board project tinyml writes, with the real CLI (the KWS app: see `kws_project`)."""
    root = tmp_path_factory.mktemp("board")
    _generate(["codegen", str(reference / "micro_speech" / "micro_speech_quantized.tflite"), "-o", str(root / "tflm")])
    _generate(["collect", "--firmware", str(root / "streamer")])
    _generate(["codegen", str(reference / "models" / "hello_world_int8.tflite"), "--backend", "aot",
               "-o", str(root / "aot")])
    return {"tflm": root / "tflm", "streamer": root / "streamer", "aot": root / "aot"}


@pytest.fixture(scope="module")
def kws_project(board, tmp_path_factory) -> Path:
    """The KWS app for a small untrained KWS model (any int8 softmax of the front end's shape will do)."""
    from tinyml import tf as tfload
    from tinyml.quantize.ptq import convert_int8
    from tinyml.train.frontend import FrontendParams

    fe = FrontendParams()
    _, keras = tfload.load()
    tfload.set_seed(3)
    L = keras.layers
    inputs = keras.Input(shape=fe.input_shape, batch_size=1)
    x = L.Conv2D(4, (5, 5), strides=(4, 4), padding="same", activation="relu")(inputs)
    x = L.Flatten()(L.AveragePooling2D(pool_size=x.shape[1:3])(x))
    model = keras.Model(inputs, L.Dense(len(LABELS), activation="softmax")(x))
    root = tmp_path_factory.mktemp("kws")
    path = root / "kws_int8.tflite"
    calibration = np.random.default_rng(0).normal(size=(8, *fe.input_shape)).astype(np.float32)
    path.write_bytes(convert_int8(model, calibration))
    path.with_name(path.name + ".meta.json").write_text(json.dumps({"task": "kws", "labels": LABELS,
                                                                    "frontend": fe.to_json()}))
    _generate(["codegen", str(path), "-o", str(root / "app")])
    return root / "app"


def _assert_clean(board, project: Path, flavour: str, envs: list[str]) -> list[dict]:
    assert board.board_envs(project) == envs
    reports = [board.compile_project(project, env, flavour) for env in envs]
    for r in reports:
        lines = board._table([r])
        assert r["units"] > 0 and all(u["ok"] for u in r["results"]), lines
        assert (r["errors"], r["warnings"], r["float_printf"]) == (0, 0, 0), lines
        assert not any(u["source"].startswith("src/emulator/") for u in r["results"])  # QEMU's code only
        for u in r["results"]:
            for d in u["third_party_warnings"]:  # allowed, but explained: whose header, which project line
                assert not Path(d["file"]).is_relative_to(project) and d["origin"] and d["reached_from"], d
    return reports


@pytest.mark.parametrize("flavour", ["pio", "arduino-cli"])
def test_the_tflm_sketch_compiles_clean_in_both_board_envs(board, projects, flavour):
    reports = _assert_clean(board, projects["tflm"], flavour, ["nano33ble", "nano33ble_renode"])
    assert {"Chirale_TensorFLowLite", "Wire"} <= set(reports[0]["libraries"])


@pytest.mark.parametrize("flavour", ["pio", "arduino-cli"])
def test_the_streamer_compiles_clean(board, projects, flavour):
    """Fails on a float printf format: the streamer's hello used %.9f, which newlib-nano leaves empty."""
    report, = _assert_clean(board, projects["streamer"], flavour, ["nano33ble"])
    assert {"Arduino_LSM9DS1", "Arduino_BMI270_BMM150", "PDM", "Wire"} <= set(report["libraries"])


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["pio", "arduino-cli"])
def test_the_kws_app_compiles_clean(board, kws_project, flavour):
    report, = _assert_clean(board, kws_project, flavour, ["nano33ble"])
    assert "PDM" in report["libraries"]


@pytest.mark.parametrize("flavour", ["pio", "arduino-cli"])
def test_the_aot_files_compile_clean_with_the_boards_c_flags(board, projects, flavour):
    report, = _assert_clean(board, projects["aot"], flavour, ["nano33ble"])
    assert sorted(u["source"] for u in report["results"]) == ["tinyml_kernels.c", "tinyml_model.c"]


# ---- the check can fail ----


def _streamer_copy(projects, tmp_path: Path, extra_flags: str = "") -> Path:
    project = tmp_path / "streamer"
    shutil.copytree(projects["streamer"], project)
    if extra_flags:
        ini = project / "platformio.ini"
        text = ini.read_text()
        assert "build_flags = -I src/stream\n" in text
        ini.write_text(text.replace("build_flags = -I src/stream", f"build_flags = -I src/stream {extra_flags}"))
    return project


def test_a_warning_an_error_and_a_float_printf_in_the_project_fail_the_check(board, projects, tmp_path, capsys):
    project = _streamer_copy(projects, tmp_path)
    (project / "src" / "board" / "extra.cpp").write_text(
        '#include <Arduino.h>\n#include <stdio.h>\n'
        'int extra_value() {\n  int unused = 3;\n  return 1;\n}\n'
        'int extra_text(char *out, float v) { return snprintf(out, 16, "%.3f", v); }\n')
    (project / "src" / "stream" / "broken.c").write_text("int broken(void) { return missing; }\n")
    report = board.compile_project(project, "nano33ble", "pio")
    units = {u["source"]: u for u in report["results"]}
    assert report["float_printf"] == 1 and report["errors"] >= 1 and board.failures(report) > 0
    w, = units["src/board/extra.cpp"]["warnings"]
    assert (w["file"], w["line"], w["option"]) == ("src/board/extra.cpp", 4, "-Wunused-variable")
    assert units["src/board/extra.cpp"]["float_printf"] == ["%.3f"]
    assert not units["src/stream/broken.c"]["ok"] and units["src/stream/broken.c"]["errors"][0]["line"] == 1
    assert units["src/board/main.cpp"]["ok"] and not units["src/board/main.cpp"]["warnings"]
    assert board.main([str(project), "--flavour", "pio"]) == 1
    out = capsys.readouterr().out
    assert "src/board/extra.cpp:4: warning: unused variable 'unused' [-Wunused-variable]" in out
    assert "printf float conversion %.3f" in out and "src/stream/broken.c:1: error:" in out


def test_third_party_header_warnings_are_counted_apart_and_explained(board, projects, tmp_path, capsys):
    """-Wshadow (not in the core's flags) warns inside ArduinoCore-API and mbed-os headers: reported with
    the header's owner and the project line that included it, and not the project's failure."""
    project = _streamer_copy(projects, tmp_path, "-Wshadow")
    report = board.compile_project(project, "nano33ble", "pio")
    assert report["warnings"] == 0 and report["third_party_warnings"] > 0
    third = [d for u in report["results"] for d in u["third_party_warnings"]]
    assert {d["origin"] for d in third} >= {"ArduinoCore-API", "mbed-os"}
    assert all(d["option"] == "-Wshadow" and d["reached_from"].startswith("src/board/main.cpp:") for d in third)
    assert board.main([str(project), "--flavour", "pio"]) == 0
    out = capsys.readouterr().out
    assert "third-party (mbed-os)" in out and "do not fail the check" in out


def test_an_ino_sketch_is_one_unit_with_its_prototypes(board, tmp_path):
    """As both tools do: the .ino files become one C++ unit with Arduino.h and prototypes first, so
    `setup()` may call a function defined below it; diagnostics point at the .ino file."""
    (tmp_path / "src").mkdir()
    (tmp_path / "platformio.ini").write_text("[env:nano33ble]\nplatform = nordicnrf52\nboard = nano33ble\n"
                                             "framework = arduino\n")
    (tmp_path / "src" / "sketch.ino").write_text(
        "void setup() { Serial.begin(115200); helper(2); }\nvoid loop() {}\n"
        "int helper(int x) {\n  int unused = x;\n  return x + 1;\n}\n")
    report = board.compile_project(tmp_path, "nano33ble", "pio")
    unit, = report["results"]
    assert unit["source"] == "src/sketch.ino" and unit["ok"] and report["errors"] == 0
    assert [(w["file"], w["line"]) for w in unit["warnings"]] == [("src/sketch.ino", 4)]


def test_a_missing_core_or_env_is_one_line(board, projects, monkeypatch, tmp_path, capsys):
    assert board.main([str(projects["streamer"]), "--env", "nano33"]) == 2
    assert "nano33ble" in one_error_line(capsys.readouterr().err)
    monkeypatch.setenv(board.ENV_CORE, str(tmp_path))
    assert board.main([str(projects["streamer"])]) == 2
    assert board.ENV_CORE in one_error_line(capsys.readouterr().err)


# ---- the streamer's hello: exact JSON numbers without printf ----

# float32 bit patterns: the board's scales (4 g, 2000 dps, 4 gauss and 1.0 full scale over 32768),
# signs and zeros, integers, fractions, the ends of the exact range and a subnormal.
SPECIAL = np.array([4 / 32768, 2000 / 32768, 1 / 32768, 0.0, -0.0, 1.5, -3.25, 0.1, 123456789.0, 1e19,
                    2.0 ** -37, -(2.0 ** -37), 2.0 ** 63, np.nextafter(np.float32(2.0 ** 64), 0)],
                   dtype=np.float32)
OUT_OF_RANGE = np.array([np.inf, -np.inf, np.nan, 2.0 ** 64, -(2.0 ** 70), 3.4e38, 1e-12,
                         np.nextafter(np.float32(2.0 ** -37), 0), 1e-45], dtype=np.float32)
FLOAT_CHARS = int(re.search(r"#define TM_FLOAT_CHARS (\d+)",
                            (FIRMWARE / "stream" / "tinyml_stream.h").read_text()).group(1))
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?|-0\.0")


def _values(n: int = 20000) -> np.ndarray:
    """SPECIAL, then float32s with random bits across the exact range, 2^-37 <= |v| < 2^64."""
    rng = np.random.default_rng(1)
    exponents = rng.integers(127 - 37, 127 + 64, n, dtype=np.uint32)
    bits = rng.integers(0, 1 << 23, n, dtype=np.uint32) | exponents << 23 | rng.integers(0, 2, n, dtype=np.uint32) << 31
    return np.concatenate([SPECIAL, bits.view(np.float32)])


@pytest.fixture(scope="module")
def formatter(tmp_path_factory):
    """firmware/stream/tinyml_stream.c compiled for the host, its tm_format_float as a function."""
    from tinyml.codegen.aot.host import HOST_FLAGS

    lib = tmp_path_factory.mktemp("stream") / "libstream.so"
    subprocess.run([tool("gcc"), *HOST_FLAGS, "-shared", "-fPIC", str(FIRMWARE / "stream" / "tinyml_stream.c"),
                    "-o", str(lib)], check=True)
    fn = ctypes.CDLL(str(lib)).tm_format_float
    fn.argtypes, fn.restype = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_float], ctypes.c_size_t

    def format_float(value: float, size: int = FLOAT_CHARS) -> str | None:
        out = ctypes.create_string_buffer(size)
        n = fn(out, size, value)
        return out.value.decode() if n else None

    return format_float


def test_format_float_writes_exact_json_numbers_that_read_back_to_the_same_float32(formatter):
    for v in _values():
        text = formatter(float(v))
        assert text is not None and JSON_NUMBER.fullmatch(text), (v, text)
        back = np.float32(json.loads(text))
        assert back.tobytes() == v.tobytes(), (v, text)
        assert float(v) == float(back)  # exact: the decimal is the float itself, not a neighbour
    assert formatter(4 / 32768) == "0.0001220703125" and formatter(2000 / 32768) == "0.06103515625"


def test_format_float_refuses_what_it_cannot_write_exactly(formatter):
    for v in OUT_OF_RANGE:
        assert formatter(float(v)) is None, v
    assert formatter(0.0001220703125, size=15) is None and formatter(0.0001220703125, size=16) == "0.0001220703125"


QEMU_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "mps2.h"
#include "tinyml_stream.h"
static const uint32_t kBits[] = {%s};
int main(void) {
  char line[256], ours[TM_FLOAT_CHARS], libc[64];
  mps2_init();
  for (size_t i = 0; i < sizeof kBits / sizeof kBits[0]; ++i) {
    float v;
    memcpy(&v, &kBits[i], sizeof v);
    if (!tm_format_float(ours, sizeof ours, v)) strcpy(ours, "none");
    snprintf(libc, sizeof libc, "%%.9f", (double)v);
    mps2_uart_write(line, (size_t)snprintf(line, sizeof line, "%%s|%%s|\n", ours, libc));
  }
  mps2_uart_write("END\n", 4);
  mps2_uart_read(); /* exit once the host has read it all */
  return 0;
}
"""


def test_format_float_on_the_cortex_m4_with_newlib_nano_matches_the_host(formatter, tmp_path):
    """The device's libc as PlatformIO links it (nano.specs, no -u _printf_float): %.9f prints nothing
    there, the reason for the formatter; tm_format_float prints what it prints on the host."""
    from tinyml.host.qemu import connect, running

    gcc = tool("arm-none-eabi-gcc")
    tool("qemu-system-arm")
    values = np.concatenate([SPECIAL, OUT_OF_RANGE, _values(200)[len(SPECIAL):]])
    src = tmp_path / "main.c"
    src.write_text(QEMU_MAIN % ", ".join(f"0x{b:08x}u" for b in values.view(np.uint32)))
    machine = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
    elf = tmp_path / "format.elf"
    subprocess.run([gcc, *machine, "-Os", "-std=gnu99", "-Wall", "-Werror", "-ffunction-sections", "-fdata-sections",
                    "-I", str(FIRMWARE / "emulator"), "-I", str(FIRMWARE / "stream"), str(src),
                    str(FIRMWARE / "emulator" / "mps2.c"), str(FIRMWARE / "stream" / "tinyml_stream.c"),
                    "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
                    f"-T{FIRMWARE / 'platformio' / 'tinyml-qemu' / 'ldscripts' / 'mps2_an386.ld'}", "-o", str(elf)],
                   check=True)
    text = b""
    with running(elf) as (url, proc):
        port = connect(url, proc)
        deadline = time.monotonic() + 20
        while not text.endswith(b"END\n") and time.monotonic() < deadline:
            text += port.read(4096)
        port.write(b"Q")
        assert proc.wait(timeout=10) == 0, text[-300:]
        port.close()
    lines = text.decode().splitlines()
    assert lines[-1] == "END" and len(lines) == len(values) + 1
    for v, line in zip(values, lines):
        ours, libc, _ = line.split("|")
        assert ours == (formatter(float(v)) or "none"), (v, line)
        assert libc == "", line  # newlib-nano without _printf_float: the old hello's empty scales


# ---- link check: everything the board links but libmbed.a ----


def _assert_links(board, project: Path) -> dict:
    report = board.link_check(project, "nano33ble")
    lines = board._link_lines(report)
    assert report["unknown"] == [] and report["multiple_definitions"] == [] and report["other_errors"] == [], lines
    assert report["undefined"] > 0 and set(report["groups"]) <= {g for g, _ in board.LIBMBED_GROUPS}, lines
    return report


def test_the_streamer_links_but_for_libmbed(board, projects):
    _assert_links(board, projects["streamer"])


@pytest.mark.slow
def test_the_kws_app_links_but_for_libmbed(board, kws_project):
    _assert_links(board, kws_project)


@pytest.mark.slow
def test_the_tflm_sketch_links_but_for_libmbed(board, projects):
    """Builds Chirale's TFLM with the board's flags once (about 4 minutes on 2 cores, then cached)."""
    report = _assert_links(board, projects["tflm"])
    assert any("libtflm_cmsis_nn.a" in a for a in report["archives"])


def test_a_missing_definition_and_a_duplicate_fail_the_link_check(board, projects, tmp_path, capsys):
    project = _streamer_copy(projects, tmp_path)
    (project / "src" / "board" / "extra.cpp").write_text(
        "#include <Arduino.h>\nint tinyml_nowhere();\nint g_value = tinyml_nowhere();  // kept: a static constructor\n"
        "void setup() {}  // main.cpp has one\n")
    assert board.main([str(project), "--flavour", "pio", "--link", "--json"]) == 1
    report, = json.loads(capsys.readouterr().out)["link"]
    assert report["unknown"] == ["tinyml_nowhere()"] and report["multiple_definitions"] == ["setup"]
