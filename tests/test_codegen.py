import re
import subprocess

import jinja2
import numpy as np
import pytest

from tinyml.artifacts import render_tree
from tinyml.cli import main
from tinyml.codegen.project import generate
from tinyml.codegen.tflm_core import plan_arena
from tinyml.quantize.inspect import inspect

from conftest import one_error_line, tool
from models import float_dense, with_custom_op

M4F = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-Os",
       "-ffunction-sections", "-fdata-sections"]


@pytest.fixture(scope="module")
def project(demo_project):
    return demo_project / "build" / "firmware"


@pytest.fixture(scope="module")
def model(demo_project):
    return demo_project / "build" / "model_int8.tflite"


def test_platformio_validates_the_project_offline(project):
    from platformio.project.config import ProjectConfig

    cfg = ProjectConfig(str(project / "platformio.ini"))
    assert cfg.validate() is True
    assert cfg.warnings == []
    assert cfg.envs() == ["nano33ble", "nano33ble_renode", "emulator"]
    assert cfg.default_envs() == ["nano33ble"]
    assert "-DTINYML_SERIAL=Serial1" in cfg.get("env:nano33ble_renode", "build_flags")
    assert cfg.get("env:emulator", "board") == "mps2_an386"
    assert cfg.get("env:nano33ble", "board") == "nano33ble"
    assert cfg.get("env:nano33ble", "platform") == "nordicnrf52"
    assert cfg.get("env:nano33ble", "framework") == ["arduino"]
    assert any("Chirale_TensorFLowLite" in dep for dep in cfg.get("env:nano33ble", "lib_deps"))


def test_model_array_cross_compiles_to_the_exact_flatbuffer(project, model, tmp_path):
    from elftools.elf.elffile import ELFFile

    gxx = tool("arm-none-eabi-g++")
    obj = tmp_path / "model.o"
    subprocess.run([gxx, *M4F, "-std=c++17", "-Wall", "-Werror", "-c", str(project / "src" / "model.cc"),
                    "-o", str(obj)], check=True)
    with open(obj, "rb") as f:
        elf = ELFFile(f)
        assert elf["e_machine"] == "EM_ARM"
        section = elf.get_section_by_name(".rodata.g_model")
        assert section["sh_addralign"] == 16
        assert section.data() == model.read_bytes()


def test_header_is_guarded_and_usable_from_c(project, tmp_path):
    gcc = tool("arm-none-eabi-gcc")
    src = tmp_path / "use.c"
    src.write_text('#include "model.h"\n#include "model.h"\n'
                   "unsigned first(void) { return g_model[0] + g_model_len + TINYML_MODEL_BYTES; }\n")
    subprocess.run([gcc, *M4F, "-std=c99", "-Wall", "-Werror", "-I", str(project / "src"), "-c", str(src),
                    "-o", str(tmp_path / "use.o")], check=True)


def test_resolver_registers_exactly_the_models_ops(project, model):
    main_cpp = (project / "src" / "tinyml_tflm.cpp").read_text()
    ops = inspect(model)["ops"]
    methods = re.findall(r"g_resolver\.(Add\w+)\(\)", main_cpp)
    assert len(methods) == len(set(methods)) == len(ops)
    expected = {"CONV_2D": "AddConv2D", "MAX_POOL_2D": "AddMaxPool2D", "AVERAGE_POOL_2D": "AddAveragePool2D",
                "RESHAPE": "AddReshape",
                "FULLY_CONNECTED": "AddFullyConnected", "SOFTMAX": "AddSoftmax"}
    assert methods == [expected[op] for op in ops]
    assert f"MicroMutableOpResolver<{len(ops)}>" in main_cpp


def test_arena_is_the_measured_bytes_plus_the_stated_margin(project, model):
    import json

    summary = json.loads((project / ".tinyml-generated").read_text())
    measured = summary["arena_measured_bytes"]
    header = (project / "src" / "tinyml_tflm.h").read_text()
    arena = int(re.search(r"#define TINYML_ARENA_BYTES (\d+)", header).group(1))
    assert arena == summary["arena_bytes"]
    if summary["arena_measured_on"] == "board":
        assert measured == summary["arena_board_bytes"]
        assert arena == plan_arena(measured, 2, 64).total and arena % 16 == 0
        assert f"{measured} B measured by Chirale_TensorFLowLite 2.0.0" in header
    else:  # no board library here: the host's figure with the wider margin, and it says so
        assert measured == inspect(model)["arena_bytes"] == summary["arena_host_bytes"]
        assert arena == plan_arena(measured, 15, 1024).total
        assert "the board's library was not measured" in header
    assert "TINYML_ARENA_BYTES" not in (project / "platformio.ini").read_text()  # one place


def test_self_check_vectors_match_litert_reference(project, model):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    text = (project / "src" / "model_check.h").read_text()

    def values(name):
        body = re.search(name + r"\[\d+\] = \{(.*?)\};", text, re.S).group(1)
        return np.array([int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body)], dtype=np.uint8).view(np.int8)

    check_in, check_out = values("kCheckInput0"), values("kCheckOutput0")
    ref = Interpreter(model_path=str(model),
                      experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ref.allocate_tensors()
    detail = ref.get_input_details()[0]
    ref.set_tensor(detail["index"], check_in.reshape(detail["shape"]))
    ref.invoke()
    np.testing.assert_array_equal(ref.get_tensor(ref.get_output_details()[0]["index"]).reshape(-1), check_out)


def test_every_rendered_file_carries_the_banner(project):
    from tinyml.paths import TEMPLATES

    rendered = [project / t.relative_to(TEMPLATES / "nano33ble").with_suffix("")
                for t in (TEMPLATES / "nano33ble").rglob("*.j2")]
    rendered += [project / "src" / t.relative_to(TEMPLATES / "tflm").with_suffix("")
                 for t in (TEMPLATES / "tflm").rglob("*.j2")]
    assert len(rendered) >= 10
    for path in rendered:
        head = "\n".join(path.read_text().splitlines()[:3])
        assert "Generated by tinyml" in head, path


def test_renode_assets_check_the_firmware_against_the_host(project):
    robot = (project / "renode" / "tinyml.robot").read_text()
    check = (project / "src" / "model_check.h").read_text()
    first_input = re.search(r"kCheckInput0\[\d+\] = \{\s*0x([0-9a-f]{2})", check).group(1)
    assert f"I {first_input}" in robot and '"output":"' in robot
    assert "arduino_nano_33_ble.repl" in (project / "renode" / "nano33ble.resc").read_text()
    assert "antmicro/renode-test-action" in (project / ".github" / "workflows" / "renode.yml").read_text()


def test_model_tflm_cannot_run_is_refused_and_nothing_written(reference, tmp_path, capsys):
    model = with_custom_op(reference / "micro_speech" / "micro_speech_quantized.tflite", tmp_path / "npu.tflite")
    out = tmp_path / "fw"
    assert main(["codegen", str(model), "-o", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "ethos-u" in line and "TFLM" in line
    assert not out.exists()


def test_kws_model_with_backend_tflm_is_refused_in_one_line(tmp_path, capsys):
    import json

    from tinyml.paths import sidecar
    from tinyml.train.frontend import FrontendParams, audio_meta

    model = float_dense(tmp_path / "kws.tflite")
    sidecar(model).write_text(json.dumps(audio_meta(["silence", "unknown", "yes", "no"], FrontendParams())))
    assert main(["codegen", str(model), "--backend", "tflm", "-o", str(tmp_path / "fw")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--backend tflm" in line and "AOT" in line
    assert not (tmp_path / "fw").exists()


def test_foreign_folder_is_not_overwritten(model, tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    assert main(["codegen", str(model), "-o", str(tmp_path)]) == 2
    assert "does not overwrite" in one_error_line(capsys.readouterr().err)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_regenerating_replaces_an_earlier_project(model, tmp_path):
    out = tmp_path / "fw"
    generate(model, out)
    (out / "src" / "model.cc").write_text("stale")
    generate(model, out)
    assert (out / "src" / "model.cc").read_text().startswith("// Generated by tinyml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fw"]


def test_bad_symbol_is_refused(model, tmp_path, capsys):
    assert main(["codegen", str(model), "-o", str(tmp_path / "fw"), "--symbol", "class"]) == 2
    assert "C/C++ keyword" in one_error_line(capsys.readouterr().err)


def test_templates_refuse_undefined_values(tmp_path):
    with pytest.raises(jinja2.UndefinedError):
        render_tree("nano33ble", tmp_path, {"banner": "x"})
