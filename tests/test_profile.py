"""`tinyml emulate --profile`: instructions per op on QEMU's Cortex-M4, for the AOT C and the board's TFLM."""

import json

import pytest

from tinyml.cli import main
from tinyml.errors import TinymlError
from tinyml.evaluate.emulate import emulate
from tinyml.host import tflm_lib
from tinyml.host.profile import render_profile, spans_per_inference
from tinyml.quantize import flatbuffer

import models
from conftest import REQUIRE_TOOLS, need, one_error_line, tool

INPUTS = 2


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Convolutions, depthwise convolutions, pools, a RESHAPE (Flatten), FULLY_CONNECTED, TANH, SOFTMAX;
    per-tensor weights, which the board's TFLM computes like the host's."""
    tool("qemu-system-arm")
    tool("arm-none-eabi-gcc")
    return models.conv_variety(tmp_path_factory.mktemp("profile") / "conv_variety.tflite", per_channel=False)


def _has_symbol(project, name: str) -> bool:
    from elftools.elf.elffile import ELFFile

    with open(project / ".pio" / "build" / "emulator" / "firmware.elf", "rb") as f:
        return ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name) is not None


def _check_rows(r: dict, info, marked: list[bool]) -> dict:
    rows, totals = r["profile"], r["profile_totals"]
    assert [row["index"] for row in rows] == list(range(len(info.operators)))
    assert [row["op"] for row in rows] == [o.op for o in info.operators]
    assert [row["macs"] for row in rows] == [o.macs for o in info.operators]
    assert sum(row["macs"] for row in rows) == r["macs"]
    assert [row["output_shape"] for row in rows] == [list(info.tensors[o.outputs[0]].shape) for o in info.operators]
    assert [row["marked"] for row in rows] == marked
    for row in rows:
        assert (row["instructions"] > 0) == row["marked"]
        assert 0 < row["instructions_min"] <= row["instructions"] or not row["marked"]
        assert (row["instructions_per_mac"] is None) == (row["macs"] == 0)
    assert totals["inference_instructions"] == r["instructions_per_inference"] and totals["inferences"] == INPUTS
    assert totals["ops_instructions"] + totals["overhead_instructions"] == totals["inference_instructions"]
    assert 0 < totals["ops_instructions"] < totals["inference_instructions"]
    shares = sum(row["share"] for row in rows)
    assert shares == pytest.approx(totals["ops_instructions"] / totals["inference_instructions"], abs=1e-3)
    return totals


def test_aot_profile_counts_every_kernel_call_and_the_markers_cost_six_instructions_an_op(model, tmp_path, capsys):
    info = flatbuffer.read(model)
    plain = emulate(model, tmp_path / "plain", inputs=INPUTS)
    assert not _has_symbol(tmp_path / "plain", "tinyml_mark_op_begin")  # an ordinary build has no op markers
    assert main(["emulate", str(model), "--profile", "-o", str(tmp_path / "profiled"), "--inputs", str(INPUTS),
                 "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["outputs_match_host"] and plain["outputs_match_host"]
    # RESHAPE only reinterprets its input's bytes: no kernel call, no span, 0 instructions.
    totals = _check_rows(r, info, [o.op != "RESHAPE" for o in info.operators])
    marked = totals["marked_ops"]
    assert marked == len(info.operators) - 1
    # Between the spans: the AOT code's sequencing and the markers' calls, a few instructions an op.
    assert totals["overhead_instructions"] <= 6 * marked + 16
    # The profiling build differs from the ordinary one by the markers alone: two calls, their argument and
    # their return for each op (6 instructions on this compiler); the kernels run the same instructions.
    added = r["instructions_per_inference"] - plain["instructions_per_inference"]
    assert 4 * marked <= added <= 8 * marked, added

    assert main(["emulate", str(model), "--profile", "-o", str(tmp_path / "profiled"), "--inputs", str(INPUTS)]) == 0
    out = capsys.readouterr().out
    assert render_profile(r["profile"], r["profile_totals"]) in out
    assert "instructions per op" in out and "0 (no code)" in out and "instr/MAC" in out


def _tflm_library_cached() -> None:
    tree = tflm_lib.tree_or_none()
    need(tree is not None, "the board's TFLM tree (Chirale_TensorFLowLite) is absent")
    tool("arm-none-eabi-g++")
    archive = tflm_lib.library_dir(tree, tflm_lib.MPS2) / "libtflm_cmsis_nn.a"
    if not archive.is_file() and not REQUIRE_TOOLS:  # CI builds it; locally that takes minutes
        pytest.skip(f"the board's TFLM library is not built yet ({archive}); `tinyml emulate --backend tflm` builds it")


def test_tflm_profile_counts_every_op_invoke_and_nothing_else(model, tmp_path):
    _tflm_library_cached()
    info = flatbuffer.read(model)
    plain = emulate(model, tmp_path / "plain", inputs=INPUTS, backend="tflm")
    r = emulate(model, tmp_path / "profiled", inputs=INPUTS, backend="tflm", profile=True)
    assert r["outputs_match_host"] and plain["outputs_match_host"]
    # TFLM invokes every op, RESHAPE included (it copies the bytes); one event each, none from Init, Prepare
    # or the start-up self-check.
    totals = _check_rows(r, info, [True] * len(info.operators))
    n = len(info.operators)
    reshape = next(row for row in r["profile"] if row["op"] == "RESHAPE")
    assert reshape["instructions"] < 1000
    # Between the spans: MicroGraph's loop over the nodes and the virtual profiler calls.
    assert totals["overhead_instructions"] <= 64 * n + 256
    # With the profiler the interpreter calls BeginEvent / EndEvent (virtual) where it otherwise only checks
    # for a null profiler; the kernels run the same instructions.
    added = r["instructions_per_inference"] - plain["instructions_per_inference"]
    assert 0 < added <= 48 * n, added


def test_profile_with_wav_is_one_line(tmp_path, capsys):
    assert main(["emulate", str(tmp_path / "m.tflite"), "--profile", "--wav", "a.wav"]) == 2
    assert "Expected --profile or --wav" in one_error_line(capsys.readouterr().err)


def test_spans_are_grouped_by_the_inference_they_end_in(tmp_path):
    counts = tmp_path / "counts.txt"
    counts.write_text("op 10\nop 20\ninference 40\nop 11\nop 21\ninference 41\n")
    assert spans_per_inference(counts) == [(40, [10, 20]), (41, [11, 21])]
    counts.write_text("op 10\ninference 40\nop 11\n")
    with pytest.raises(TinymlError, match="after its last inference"):
        spans_per_inference(counts)
