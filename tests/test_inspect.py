import json
import subprocess
import sys

import pytest

from tinyml.cli import main
from tinyml.quantize.inspect import inspect

from conftest import one_error_line
from models import with_custom_op

# Independent of tinyml's own probe: ask the TFLM interpreter directly, in a child.
_DIRECT = """
import os, sys, tempfile
from tflite_micro import runtime
interp = runtime.Interpreter.from_file(sys.argv[1])
interp.print_allocations()
"""


def tflm_reported_arena(path) -> int:
    out = subprocess.run([sys.executable, "-c", _DIRECT, str(path)], capture_output=True, text=True, timeout=60)
    line = next(ln for ln in out.stderr.splitlines() if "Arena allocation total" in ln)
    return int(line.split("total")[1].split()[0])


def test_micro_speech(reference, capsys):
    path = reference / "micro_speech" / "micro_speech_quantized.tflite"
    assert main(["inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["ops"]) == {"RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"}
    assert report["model_bytes"] == 18800 == path.stat().st_size
    assert report["inputs"][0]["shape"] == [1, 1960] and report["inputs"][0]["dtype"] == "int8"
    assert report["outputs"][0]["shape"] == [1, 4]
    assert report["tflm_supported"] and report["unsupported_ops"] == []
    assert report["arena_bytes"] == tflm_reported_arena(path) == 7584
    # depthwise 10x8 kernel at each of 25x20x8 outputs, then a 4000 -> 4 fully connected layer
    assert report["macs"] == 25 * 20 * 8 * (10 * 8) + 4000 * 4


def test_person_detect(reference):
    path = reference / "models" / "person_detect.tflite"
    report = inspect(path)
    assert report["ops"] == ["DEPTHWISE_CONV_2D", "CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "SOFTMAX"]
    assert report["arena_bytes"] == tflm_reported_arena(path) == 85264
    assert report["inputs"][0]["shape"] == [1, 96, 96, 1]
    # per-channel weights are reported per tensor; the published MobileNet-0.25 VWW figure is ~7.2 M MACs
    assert 7.0e6 < report["macs"] < 7.4e6


def test_required_keys(reference):
    report = inspect(reference / "models" / "hello_world_int8.tflite")
    for key in ("ops", "inputs", "outputs", "model_bytes", "macs", "arena_bytes", "tflm_supported",
                "unsupported_ops"):
        assert key in report
    assert report["ops"] == ["FULLY_CONNECTED"] and report["arena_bytes"] == 1504


def test_an_op_tflm_lacks_exits_2_naming_it(reference, tmp_path, capsys):
    model = with_custom_op(reference / "models" / "hello_world_int8.tflite", tmp_path / "npu.tflite")
    assert main(["inspect", str(model)]) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert "ethos-u" in line and "TFLM" in line
    assert "cannot run it: missing ethos-u" in captured.out


def test_missing_file_is_one_line(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.tflite")]) == 2
    assert "no such file" in one_error_line(capsys.readouterr().err)


def test_not_a_flatbuffer_is_one_line(tmp_path, capsys):
    bogus = tmp_path / "model.tflite"
    bogus.write_text("this is a CSV, not a model\n1,2,3\n")
    assert main(["inspect", str(bogus)]) == 2
    assert "TFL3" in one_error_line(capsys.readouterr().err)
