"""The TFLM backend against the board's own library: Chirale_TensorFLowLite's TFLM (2023-01, CMSIS-NN)
built for QEMU's Cortex-M4, running the generated sketch's core, checked against the host's TFLM."""

import json
from pathlib import Path

import pytest

from tinyml.cli import main
from tinyml.codegen.tflm_board import BoardLibrary, builtin_methods, write_project
from tinyml.host import tflm_lib
from tinyml.host.platformio import build
from tinyml.host.qemu import connect, running
from tinyml.protocol import Device, DeviceError
from tinyml.quantize import flatbuffer

import models
from conftest import one_error_line, tool


@pytest.fixture(scope="module")
def board_lib(reference):
    tool("qemu-system-arm")
    tool("arm-none-eabi-g++")
    return BoardLibrary.find(required=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every kind of model the TFLM backend deploys, built once."""
    root = tmp_path_factory.mktemp("tflm-models")
    return {
        "int8_lstm": models.int8_lstm(root / "int8_lstm.tflite"),
        "float_conv": models.float_conv(root / "float_conv.tflite"),
        "svdf_int16_io": models.svdf_int16(root / "svdf_int16_io.tflite", int16_int32_io=True),
        "int16_activations": models.int16_activations(root / "int16_activations.tflite"),
        "multi_io": models.multi_io(root / "multi_io.tflite"),
    }


def test_every_resolver_method_codegen_knows_exists_in_the_board_library(reference):
    from tinyml.codegen.ops import RESOLVER_METHODS

    board = builtin_methods(tflm_lib.Tree(reference / "tflm_arduino"))
    assert len(board) >= 90
    assert {op: m for op, m in RESOLVER_METHODS.items() if board.get(op) != m} == {}


def _hello(work):
    sizes = build(work, "emulator", quiet=True)
    with running(Path(sizes["elf"])) as (url, proc):
        link = connect(url, proc)
        device = Device(link, 30)
        try:
            return device.hello(ask=True), device
        finally:
            link.close()


def test_the_measured_arena_is_exactly_what_allocate_tensors_needs(board_lib, reference, tmp_path):
    """micro_speech: the board's library on a 32-bit core needs less than the 64-bit host reports; the
    firmware runs with the measured arena and AllocateTensors fails 16 bytes below it."""
    from tinyml.quantize.inspect import inspect

    model = reference / "micro_speech" / "micro_speech_quantized.tflite"
    need = board_lib.arena(model)
    host = inspect(model)["arena_bytes"]
    assert 0 < need.arena_bytes < host  # 6,928 vs 7,584 measured here
    assert need.arena_used_bytes <= need.arena_bytes and need.self_check

    write_project(model, tmp_path / "exact", board_lib, need.arena_bytes)
    hello, device = _hello(tmp_path / "exact")
    assert hello["arena_bytes"] == need.arena_used_bytes
    assert any("output matches the host" in line for line in device.log)

    write_project(model, tmp_path / "short", board_lib, need.arena_bytes - 16)
    with pytest.raises(DeviceError, match="AllocateTensors failed"):
        _hello(tmp_path / "short")


def test_tflm_messages_arrive_as_whole_log_lines_on_the_protocol_port(board_lib, reference, tmp_path):
    """TFLM's DebugLog is the sketch's (the library's Arduino one, always on Serial, is left out with
    -DARDUINO_EXCLUDE_CODE): its messages come on the protocol's port as whole `tflm: ` lines."""
    model = reference / "models" / "hello_world_int8.tflite"
    write_project(model, tmp_path / "tiny", board_lib, 256)
    sizes = build(tmp_path / "tiny", "emulator", quiet=True)
    with running(Path(sizes["elf"])) as (url, proc):
        link = connect(url, proc)
        device = Device(link, 30)
        with pytest.raises(DeviceError, match="AllocateTensors failed"):
            device.hello(ask=True)
        link.close()
    said = [line for line in device.log if line.startswith("tflm: ")]
    assert any("allocation" in line for line in said), device.log
    ini = (tmp_path / "tiny" / "platformio.ini").read_text()
    assert "-DARDUINO_EXCLUDE_CODE" not in ini  # the emulator build never had the Arduino DebugLog


def test_the_board_env_leaves_out_the_librarys_serial_debuglog(board_lib, reference, tmp_path):
    from platformio.project.config import ProjectConfig

    assert main(["--quiet", "codegen", str(reference / "models" / "hello_world_int8.tflite"), "-o",
                 str(tmp_path / "fw")]) == 0
    flags = ProjectConfig(str(tmp_path / "fw" / "platformio.ini")).get("env:nano33ble", "build_flags")
    assert "-DARDUINO_EXCLUDE_CODE" in flags  # applies to lib_deps too: Chirale's system_setup.cpp is empty
    assert 'extern "C" void DebugLog(const char *s)' in (tmp_path / "fw" / "src" / "tinyml_tflm.cpp").read_text()


@pytest.mark.parametrize("name", ["int8_lstm", "float_conv", "svdf_int16_io", "int16_activations", "multi_io"])
def test_tflm_backend_runs_every_kind_of_model_like_the_host(board_lib, built, name, tmp_path, capsys):
    model = built[name]
    assert main(["emulate", str(model), "--backend", "tflm", "-o", str(tmp_path / "emu"), "--inputs", "5",
                 "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["backend"] == "tflm" and r["kernels"] == "cmsis-nn" and "Chirale_TensorFLowLite 2.0.0" in r["library"]
    assert r["outputs_match_host"] is True and r["inputs_checked"] == 5
    assert r["self_check_matched"] is True
    assert r["instruction_counter"] == "QEMU plugin, exact" and r["instructions_per_inference"] > 0
    assert 0 < r["arena_bytes"] <= r["arena_measured_bytes"] < r["arena_reserved_bytes"]


def test_stateful_models_are_compared_in_the_devices_order(built):
    """The equality above means something for LSTM and SVDF: their outputs depend on what came before, so a
    host that reset between inputs would disagree with the device."""
    from tinyml.quantize.tflm import Runner, seeded_samples

    for name in ("int8_lstm", "svdf_int16_io"):
        raw = built[name].read_bytes()
        runner = Runner(raw)
        samples = seeded_samples(runner, 3, 0)
        in_order = [runner.invoke_bytes(s) for s in samples]
        fresh = [Runner(raw).invoke_bytes(s) for s in samples]
        assert in_order[0] == fresh[0] and in_order[1:] != fresh[1:], name


def test_the_board_librarys_lstm_needs_a_coarse_enough_cell_state(board_lib, built, tmp_path, capsys):
    """Chirale's TFLM (2023-01) shifts an int16 cell state finer than 2^-12 in place at every step, so the
    converter's own LSTM drifts from the host on the board; tinyml's conversion (cell state at 2^-12)
    gives identical bytes (test_tflm_backend_runs_every_kind_of_model_like_the_host[int8_lstm])."""
    from tinyml.quantize.board_compat import board_safe_lstm, lstm_cells_too_fine

    raw_converter = models.int8_lstm(tmp_path / "converter.tflite", board_safe=False)
    cells = lstm_cells_too_fine(raw_converter.read_bytes())
    assert [scale for _, scale in cells] == [2.0 ** -14]
    fixed, changed = board_safe_lstm(raw_converter.read_bytes())
    assert fixed == built["int8_lstm"].read_bytes() and changed == [cells[0][0]]
    assert lstm_cells_too_fine(fixed) == []

    assert main(["emulate", str(raw_converter), "--backend", "tflm", "-o", str(tmp_path / "emu"), "--inputs", "4",
                 "--json"]) == 1
    r = json.loads(capsys.readouterr().out)
    assert r["outputs_match_host"] is False and r["self_check_matched"] is False
    assert main(["codegen", str(raw_converter), "-o", str(tmp_path / "fw")]) == 0
    assert "mishandles below 2^-12" in capsys.readouterr().err


def test_per_channel_dense_weights_are_flagged_and_per_tensor_ones_run_right(board_lib, built, tmp_path, capsys):
    """Chirale's FULLY_CONNECTED uses the first channel's scale for every channel: the converter's default
    (per-channel Dense) computes wrongly there, and codegen says so; tinyml's per-tensor choice runs
    identically (test_tflm_backend_runs_every_kind_of_model_like_the_host[int16_activations])."""
    from tinyml.quantize.board_compat import board_defects

    per_channel = models.int16_activations(tmp_path / "pc.tflite", per_channel_dense=True)
    assert board_defects(flatbuffer.read(built["int16_activations"])) == []
    assert "per channel" in board_defects(flatbuffer.read(per_channel))[0]
    assert main(["emulate", str(per_channel), "--backend", "tflm", "-o", str(tmp_path / "emu"), "--inputs", "4",
                 "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["outputs_match_host"] is False
    assert main(["codegen", str(per_channel), "-o", str(tmp_path / "fw")]) == 0
    assert "quantized per channel" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["int8_lstm", "float_conv", "multi_io"])
def test_codegen_writes_a_board_project_for_them(board_lib, built, name, tmp_path):
    out = tmp_path / "fw"
    assert main(["--quiet", "codegen", str(built[name]), "-o", str(out)]) == 0
    summary = json.loads((out / ".tinyml-generated").read_text())
    assert summary["arena_measured_on"] == "board"
    check = (out / "src" / "model_check.h").read_text()
    info = flatbuffer.read(built[name])
    assert check.count("alignas(16) static const uint8_t kCheckInput") == len(info.inputs)
    assert check.count("alignas(16) static const uint8_t kCheckOutput") == len(info.outputs)


def test_reference_kernels_give_the_same_outputs_more_slowly(board_lib, reference, tmp_path, capsys):
    model = reference / "micro_speech" / "micro_speech_quantized.tflite"
    runs = {}
    for kernels in ("cmsis-nn", "reference"):
        assert main(["emulate", str(model), "--backend", "tflm", "--kernels", kernels, "--inputs", "3",
                     "-o", str(tmp_path / kernels), "--json"]) == 0
        runs[kernels] = json.loads(capsys.readouterr().out)
        assert runs[kernels]["outputs_match_host"] is True
    assert runs["reference"]["instructions_per_inference"] > 2 * runs["cmsis-nn"]["instructions_per_inference"]


def test_an_op_the_board_library_lacks_is_refused_naming_op_and_version(board_lib, tmp_path, capsys):
    model = models.op_board_lacks(tmp_path / "bmm.tflite")
    for argv in (["codegen", str(model), "-o", str(tmp_path / "fw")],
                 ["emulate", str(model), "--backend", "tflm", "-o", str(tmp_path / "emu")]):
        assert main(argv) == 2
        line = one_error_line(capsys.readouterr().err)
        assert "BATCH_MATMUL" in line and "Chirale_TensorFLowLite 2.0.0" in line
    assert not (tmp_path / "fw").exists() and not (tmp_path / "emu").exists()


def test_a_model_tflm_cannot_run_is_refused(board_lib, reference, tmp_path, capsys):
    model = models.with_custom_op(reference / "models" / "hello_world_int8.tflite", tmp_path / "npu.tflite")
    assert main(["emulate", str(model), "--backend", "tflm", "-o", str(tmp_path / "emu")]) == 2
    assert "ethos-u" in one_error_line(capsys.readouterr().err)


def test_a_missing_tflm_tree_is_one_line_and_codegen_says_it_guessed(reference, tmp_path, capsys, monkeypatch):
    model = reference / "models" / "hello_world_int8.tflite"
    monkeypatch.setenv(tflm_lib.ENV_TREE, str(tmp_path / "nowhere"))
    assert main(["emulate", str(model), "--backend", "tflm", "-o", str(tmp_path / "emu")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert tflm_lib.ENV_TREE in line and "nowhere" in line
    assert main(["codegen", str(model), "-o", str(tmp_path / "fw")]) == 0
    summary = json.loads((tmp_path / "fw" / ".tinyml-generated").read_text())
    assert summary["arena_measured_on"] == "host" and tflm_lib.ENV_TREE in summary["arena_note"]
    assert "warning: the board's arena was not measured" in capsys.readouterr().err


def test_inspect_reports_the_host_and_the_board_figures(board_lib, reference, capsys):
    model = reference / "micro_speech" / "micro_speech_quantized.tflite"
    assert main(["inspect", str(model), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["board_runs"] is True and r["board_self_check"] is True and r["board_defects"] == []
    assert r["board_arena_used_bytes"] <= r["board_arena_bytes"] < r["arena_bytes"]
    assert "Chirale_TensorFLowLite 2.0.0" in r["board_library"]
    assert main(["inspect", str(model), "--host-only", "--json"]) == 0
    assert "board_library" not in json.loads(capsys.readouterr().out)


def test_a_requantizing_mean_is_flagged_and_the_gesture_model_avoids_it(board_lib, tmp_path):
    """The board's MEAN rounds in float when it requantizes; tinyml's gesture model averages with
    AVERAGE_POOL_2D, which both libraries compute alike."""
    from tinyml import tf as tfload
    from tinyml.config import GESTURES
    from tinyml.quantize.board_compat import board_defects
    from tinyml.quantize.ptq import convert_int8
    from tinyml.train.model import build_cnn

    import numpy as np

    tf, keras = tfload.load()
    keras.utils.set_random_seed(0)
    calibration = np.random.default_rng(0).normal(size=(32, 119, 1, 6)).astype("float32")
    ours = tmp_path / "cnn.tflite"
    ours.write_bytes(convert_int8(build_cnn(keras, (119, 1, 6), len(GESTURES)), calibration))
    info = flatbuffer.read(ours)
    assert "MEAN" not in info.ops and "AVERAGE_POOL_2D" in info.ops and board_defects(info) == []
    need = board_lib.arena(ours)
    assert need.self_check  # the board's library gives the host's bytes

    L = keras.layers
    x_in = keras.Input(shape=(119, 1, 6))
    y = L.Dense(5)(L.GlobalAveragePooling2D()(L.Conv2D(8, (5, 1), activation="relu")(x_in)))
    theirs = tmp_path / "gap.tflite"
    theirs.write_bytes(convert_int8(keras.Model(x_in, y), calibration))
    assert any("MEAN" in d for d in board_defects(flatbuffer.read(theirs)))
