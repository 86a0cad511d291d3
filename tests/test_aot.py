"""The AOT backend: generated C compiled on the host must match the TFLM interpreter byte for byte."""

import subprocess

import numpy as np
import pytest

from tinyml import config
from tinyml.cli import main
from tinyml.codegen.aot.generate import generate_aot
from tinyml.codegen.aot.host import compile_host, run_host
from tinyml.collect.dataset import load
from tinyml.evaluate.wav import read_wav
from tinyml.quantize import flatbuffer
from tinyml.quantize.inspect import inspect
from tinyml.quantize.tflm import Runner, quantize, seeded_inputs
from tinyml.train.frontend import FrontendParams, TflmFrontend
from tinyml.train.inputs import project_windows

import models
from conftest import one_error_line, tool

RANDOM_INPUTS = 200
M4F = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-Os", "-std=c99",
       "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra", "-Werror"]


def assert_parity(model_path, workdir, real_inputs=None) -> np.ndarray:
    """Generate, compile, run RANDOM_INPUTS seeded inputs plus `real_inputs`; return the AOT outputs."""
    tool("gcc")
    generate_aot(model_path, workdir / "gen")
    exe = compile_host(workdir / "gen", workdir / "runner")
    runner = Runner(model_path.read_bytes())
    inputs = seeded_inputs(runner, RANDOM_INPUTS, 0)
    if real_inputs is not None:
        inputs = np.concatenate([inputs, np.asarray(real_inputs, dtype=inputs.dtype).reshape(len(real_inputs), -1)])
    expected = np.stack([runner.invoke(x.reshape(runner.input["shape"])).reshape(-1) for x in inputs])
    want = expected.view(np.uint8).reshape(len(inputs), -1)
    got = run_host(exe, inputs.view(np.uint8).reshape(len(inputs), -1), want.shape[1])
    mismatched = int(np.sum(got != want))
    assert mismatched == 0, f"{mismatched} of {want.size} output bytes differ from TFLM"
    return got.view(expected.dtype).reshape(expected.shape)


@pytest.fixture(scope="module")
def test_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("aot_models")
    return {"conv_per_channel": models.conv_variety(root / "conv_pc.tflite", per_channel=True),
            "conv_per_tensor": models.conv_variety(root / "conv_pt.tflite", per_channel=False),
            "elementwise_float_io": models.elementwise(root / "elementwise.tflite")}


def test_demo_gesture_model(demo_project, tmp_path):
    model = demo_project / "build" / "model_int8.tflite"
    cfg = config.load(demo_project)
    windows = project_windows(cfg, load(demo_project / "data"), "test")
    q = Runner(model.read_bytes()).input["quantization_parameters"]
    real = [quantize(x, float(q["scales"][0]), int(q["zero_points"][0])) for x in windows.x]
    assert_parity(model, tmp_path, real)


def micro_speech_features(reference, name: str) -> np.ndarray:
    """TFLM's own front end (a fresh one per clip): 49 frames of 30 ms, 20 ms apart -> 1960 int8."""
    params = FrontendParams(kind="tflm")
    pcm = read_wav(reference / "micro_speech" / f"{name}_1000ms.wav", params.sample_rate)
    front = TflmFrontend(reference / "micro_speech" / "audio_preprocessor_int8.tflite")
    return front.clip(pcm, params).reshape(-1)


def test_micro_speech_with_real_speech(reference, tmp_path):
    model = reference / "micro_speech" / "micro_speech_quantized.tflite"
    clips = ["yes", "no", "noise", "silence"]
    features = [micro_speech_features(reference, c) for c in clips]
    outputs = assert_parity(model, tmp_path, features)[-len(clips):]
    labels = ["silence", "unknown", "yes", "no"]
    assert [labels[int(np.argmax(o))] for o in outputs] == ["yes", "no", "silence", "silence"]


def test_person_detect(reference, tmp_path):
    assert_parity(reference / "models" / "person_detect.tflite", tmp_path)


def test_hello_world(reference, tmp_path):
    assert_parity(reference / "models" / "hello_world_int8.tflite", tmp_path)


@pytest.mark.parametrize("name", ["conv_per_channel", "conv_per_tensor", "elementwise_float_io"])
def test_generated_models(test_models, name, tmp_path):
    assert_parity(test_models[name], tmp_path)


def test_the_test_models_cover_every_kernel_and_option(test_models, reference):
    infos = [flatbuffer.read(p) for p in test_models.values()]
    infos.append(flatbuffer.read(reference / "micro_speech" / "micro_speech_quantized.tflite"))
    ops = {o.op for info in infos for o in info.operators}
    assert ops >= {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "SOFTMAX",
                   "RESHAPE", "ADD", "MUL", "MEAN", "LOGISTIC", "TANH", "PAD", "CONCATENATION", "QUANTIZE",
                   "DEQUANTIZE"}
    convs = [(info, o) for info in infos for o in info.operators if o.op in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    assert {o.options["padding"] for _, o in convs} == {0, 1}  # SAME and VALID
    assert any(o.options["strideH"] > 1 for _, o in convs)
    assert any(o.options["dilationHFactor"] > 1 for _, o in convs)
    assert any(o.options.get("depthMultiplier", 1) > 1 for _, o in convs if o.op == "DEPTHWISE_CONV_2D")
    acts = {o.options.get("fusedActivationFunction") for info in infos for o in info.operators}
    assert {0, 1, 3} <= acts  # none, RELU, RELU6
    weight_scales = {len(info.tensors[o.inputs[1]].scales) > 1 for info, o in convs}
    assert weight_scales == {True, False}  # per-channel and per-tensor
    fc = [len(info.tensors[o.inputs[1]].scales) > 1 for info in infos for o in info.operators
          if o.op == "FULLY_CONNECTED"]
    assert True in fc and False in fc
    broadcast_add = [o for info in infos for o in info.operators if o.op == "ADD"
                     and info.tensors[o.inputs[0]].shape != info.tensors[o.inputs[1]].shape]
    assert broadcast_add


def test_api_is_exactly_the_documented_one(demo_project, tmp_path):
    generate_aot(demo_project / "build" / "model_int8.tflite", tmp_path / "gen")
    header = (tmp_path / "gen" / "tinyml_model.h").read_text()
    for proto in ("void *tinyml_input(int index);", "void *tinyml_output(int index);",
                  "size_t tinyml_input_bytes(int index);", "size_t tinyml_output_bytes(int index);",
                  "int tinyml_invoke(void);", "#define TINYML_ARENA_BYTES "):
        assert proto in header


def test_arena_is_no_larger_than_tflms(reference, demo_project, test_models, tmp_path):
    paths = [demo_project / "build" / "model_int8.tflite", *test_models.values(),
             reference / "micro_speech" / "micro_speech_quantized.tflite",
             reference / "models" / "person_detect.tflite", reference / "models" / "hello_world_int8.tflite"]
    for i, path in enumerate(paths):
        aot = generate_aot(path, tmp_path / f"g{i}")["arena_bytes"]
        assert aot <= inspect(path)["arena_bytes"], path.name


@pytest.mark.parametrize("which", ["demo", "micro_speech"])
def test_cross_compiles_for_cortex_m4(which, demo_project, reference, tmp_path):
    from tinyml.codegen.aot.generate import KERNEL_FILES

    gcc = tool("arm-none-eabi-gcc")
    model = (demo_project / "build" / "model_int8.tflite" if which == "demo"
             else reference / "micro_speech" / "micro_speech_quantized.tflite")
    gen = tmp_path / "gen"
    generate_aot(model, gen)
    for source in ("tinyml_model.c", KERNEL_FILES[1]):
        subprocess.run([gcc, *M4F, "-c", str(gen / source), "-o", str(tmp_path / (source + ".o"))], check=True)
    nm = subprocess.run([tool("arm-none-eabi-nm"), str(tmp_path / "tinyml_model.c.o")], capture_output=True,
                        text=True, check=True).stdout
    assert " T tinyml_invoke" in nm


def _refused(args, capsys, out):
    capsys.readouterr()
    assert main(args) == 2
    line = one_error_line(capsys.readouterr().err)
    assert not out.exists()
    return line


def test_float_model_is_refused(tmp_path, capsys):
    model = models.float_dense(tmp_path / "float.tflite")
    out = tmp_path / "gen"
    line = _refused(["codegen", str(model), "--backend", "aot", "-o", str(out)], capsys, out)
    assert "full-int8" in line


def test_custom_op_is_refused(reference, tmp_path, capsys):
    model = models.with_custom_op(reference / "models" / "hello_world_int8.tflite", tmp_path / "npu.tflite")
    out = tmp_path / "gen"
    assert "ethos-u" in _refused(["codegen", str(model), "--backend", "aot", "-o", str(out)], capsys, out)


def test_several_subgraphs_are_refused(reference, tmp_path, capsys):
    model = models.with_second_subgraph(reference / "models" / "hello_world_int8.tflite", tmp_path / "two.tflite")
    out = tmp_path / "gen"
    line = _refused(["codegen", str(model), "--backend", "aot", "-o", str(out)], capsys, out)
    assert "one subgraph" in line and "--backend tflm" in line


def test_an_op_the_backend_lacks_names_it_and_suggests_tflm(tmp_path, capsys):
    from tinyml import tf as tfload
    from tinyml.quantize.ptq import convert_int8

    tf, keras = tfload.load()
    x = keras.Input(shape=(8,), batch_size=1)
    y = keras.layers.Lambda(lambda t: tf.math.squared_difference(t, 0.5))(keras.layers.Dense(4)(x))
    model = tmp_path / "sqdiff.tflite"
    model.write_bytes(convert_int8(keras.Model(x, y), np.random.default_rng(0).normal(size=(16, 8)).astype("float32")))
    out = tmp_path / "gen"
    line = _refused(["codegen", str(model), "--backend", "aot", "-o", str(out)], capsys, out)
    assert "SQUARED_DIFFERENCE" in line and "--backend tflm" in line
