import json

import numpy as np

from tinyml import config
from tinyml.cli import main
from tinyml.collect.dataset import load
from tinyml.quantize import flatbuffer
from tinyml.quantize.tflm import Runner
from tinyml.train.windows import make_windows


def test_model_is_full_int8(demo_project):
    info = flatbuffer.read(demo_project / "build" / "model_int8.tflite")
    assert not info.float_ops and not info.float_io
    assert [t.dtype for t in info.input_tensors() + info.output_tensors()] == ["INT8", "INT8"]


def test_report_and_provenance(demo_project):
    report = json.loads((demo_project / "build" / "quantize.json").read_text())
    assert 0 <= report["int8_accuracy"] <= 1 and 0 <= report["float_accuracy"] <= 1
    assert abs(report["accuracy_drop"]) <= 0.1
    assert sum(map(sum, report["confusion_int8"])) == report["test_windows"]
    meta = json.loads((demo_project / "build" / "model_int8.tflite.meta.json").read_text())
    assert meta["seed"] == 1234 and meta["mode"] == "ptq"
    assert "tensorflow" in meta["versions"] and "tflite-micro" in meta["versions"]
    assert len(meta["inputs"]["keras_model_sha256"]) == 64


def test_tflm_outputs_equal_litert_reference_bit_for_bit(demo_project):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    model = demo_project / "build" / "model_int8.tflite"
    cfg = config.load(demo_project)
    windows = make_windows(load(demo_project / "data"), "test", cfg["project.labels"], cfg["window.size"],
                           cfg["window.hop"])
    runner = Runner(model.read_bytes())
    ref = Interpreter(model_path=str(model),
                      experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ref.allocate_tensors()
    inp, out = ref.get_input_details()[0], ref.get_output_details()[0]
    scale, zero = inp["quantization"]
    for x in windows.x:
        q = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)[None]
        ref.set_tensor(inp["index"], q)
        ref.invoke()
        np.testing.assert_array_equal(runner.invoke(q), ref.get_tensor(out["index"]))


def test_evaluate_agrees_with_quantize(demo_project, capsys):
    capsys.readouterr()
    assert main(["evaluate", "-C", str(demo_project), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    report = json.loads((demo_project / "build" / "quantize.json").read_text())
    assert result["accuracy"] == report["int8_accuracy"]
    assert result["confusion"] == report["confusion_int8"]


def test_training_is_reproducible(demo_project, tmp_path):
    """Same seed, same data -> the same weights, so the same int8 flatbuffer."""
    assert main(["--quiet", "train", "-C", str(demo_project), "-o", str(tmp_path / "model.keras")]) == 0
    assert main(["--quiet", "quantize", "-C", str(demo_project), "--model", str(tmp_path / "model.keras"),
                 "-o", str(tmp_path / "model_int8.tflite")]) == 0
    assert (tmp_path / "model_int8.tflite").read_bytes() == (demo_project / "build" / "model_int8.tflite").read_bytes()
