"""Hostile input on the host: damaged models, hand-edited sidecars, odd names, a closed stdout.

Every command that reads a model or its `.meta.json` ends with a correct result or with one line
saying what was expected (exit 2); a traceback is a bug. The models are real ones (TFLM's
hello_world and micro_speech) damaged by a seeded generator: bits flipped and bytes changed inside
the flatbuffer (mostly outside the weights, where the structure is), truncation, and fields of the
decoded model set to hostile values (indices out of range, NaN scales, empty shapes, wrong options)
and packed again. benchmarks/fuzz_host_models.py runs a larger campaign with the same generator.
"""

from __future__ import annotations

import codecs
import json
import random
import re
import shlex
import struct
import subprocess
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tinyml.cli import main
from tinyml.errors import BadInput

from conftest import REFERENCE, need, one_error_line, tool

MODELS = {"hello_world": REFERENCE / "models" / "hello_world_int8.tflite",
          "micro_speech": REFERENCE / "micro_speech" / "micro_speech_quantized.tflite"}
WAV = REFERENCE / "micro_speech" / "yes_1000ms.wav"

# ---- the seeded generator ----

HOSTILE_INTS = (0, -1, 1, 2, 3, 7, 100, 255, 1 << 15, (1 << 31) - 1, -(1 << 31))
HOSTILE_FLOATS = (float("nan"), float("inf"), -float("inf"), 0.0, -1.0, 1e-45, 1e-30, 3e38, 1.0, 1e6)
BYTE_KINDS = ("flip", "byte", "truncate")
KINDS = BYTE_KINDS + ("field",)


@dataclass(frozen=True)
class Mutant:
    model: str
    kind: str
    index: int
    what: str  # the damage done, for the failure message
    raw: bytes

    @property
    def name(self) -> str:
        return f"{self.model}-{self.kind}-{self.index}"


def _weight_ranges(raw: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the model's large buffers (weights): damage there leaves a readable model."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    model, ranges = s.Model.GetRootAs(raw, 0), []
    for i in range(model.BuffersLength()):
        tab = model.Buffers(i)._tab
        o = tab.Offset(4)  # Buffer.data
        if o and tab.VectorLen(o) > 16:
            ranges.append((tab.Vector(o), tab.Vector(o) + tab.VectorLen(o)))
    return ranges


def _position(raw: bytes, rng: random.Random) -> int:
    """A byte past the file identifier; nine times in ten one of the structure's, not a weight."""
    if rng.random() < 0.9:
        weights = _weight_ranges(raw)
        structure = [i for i in range(8, len(raw)) if not any(a <= i < b for a, b in weights)]
        return rng.choice(structure)
    return rng.randrange(8, len(raw))


def _bytes_mutant(raw: bytes, kind: str, rng: random.Random) -> tuple[str, bytes]:
    data = bytearray(raw)
    if kind == "truncate":
        n = rng.randrange(8, len(raw))
        return f"cut to {n} of {len(raw)} bytes", bytes(data[:n])
    done = []
    for _ in range(rng.choice((1, 1, 2, 4, 8))):
        i = _position(raw, rng)
        if kind == "flip":
            bit = rng.randrange(8)
            data[i] ^= 1 << bit
            done.append(f"bit {bit} of byte {i}")
        else:
            data[i] = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
            done.append(f"byte {i} = {data[i]:#04x}")
    return ("flipped " if kind == "flip" else "changed ") + ", ".join(done), bytes(data)


def _field_mutant(raw: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One field of the decoded model set to a hostile value, packed again (a readable flatbuffer)."""
    import copy

    from tinyml.quantize.flatbuffer import pack, unpack

    model = unpack(raw)
    graph = model.subgraphs[0]
    n_tensors = len(graph.tensors)

    def index(n):
        return rng.randrange(-1, n + 2) if rng.random() < 0.5 else rng.choice(HOSTILE_INTS)

    site = rng.choice(("shape", "type", "buffer", "name", "scale", "zero_point", "axis", "opcode", "op_io",
                       "option", "no_options", "code", "graph_io", "buffer_data", "subgraphs"))
    t, op = rng.choice(graph.tensors), rng.choice(graph.operators)
    if site == "shape":
        shape = [int(d) for d in (t.shape if t.shape is not None else ())]
        how = rng.choice(("dim", "append", "drop", "scalar"))
        if how == "dim" and shape:
            shape[rng.randrange(len(shape))] = rng.choice((0, -1, 2, 3, 1 << 20, (1 << 31) - 1, rng.randrange(1, 64)))
        elif how == "append":
            shape.append(rng.choice((1, 2, 5)))
        elif how == "drop" and shape:
            shape.pop(rng.randrange(len(shape)))
        else:
            shape = []
        t.shape = np.array(shape, dtype=np.int32)
        what = f"tensor {t.name!r} shape {shape}"
    elif site == "type":
        t.type = rng.randrange(0, 20)
        what = f"tensor {t.name!r} type {t.type}"
    elif site == "buffer":
        t.buffer = index(len(model.buffers))
        what = f"tensor {t.name!r} buffer {t.buffer}"
    elif site == "name":
        t.name = rng.choice((b"\xff\xfe", b"a*/b/*c", b"", b"x" * 300, b"line\nbreak", "naïve".encode()))
        what = f"tensor name {t.name!r}"
    elif site in ("scale", "zero_point", "axis") and t.quantization is not None:
        q = t.quantization
        n = max(len(q.scale) if q.scale is not None else 1, 1)
        if site == "scale":
            how = rng.choice(("value", "length", "none"))
            q.scale = (np.array([rng.choice(HOSTILE_FLOATS)] * n, dtype=np.float32) if how == "value" else
                       np.array([0.01] * rng.choice((0, 2, 3, n + 1)), dtype=np.float32) if how == "length" else None)
        elif site == "zero_point":
            q.zeroPoint = np.array([rng.choice((200, -1000, 1 << 40, -128, 127))] * n, dtype=np.int64)
        else:
            q.quantizedDimension = rng.choice((-1, 3, 5, 100))
        value = {"scale": q.scale, "zero_point": q.zeroPoint, "axis": q.quantizedDimension}[site]
        what = f"tensor {t.name!r} {site} {value}"
    elif site == "opcode":
        op.opcodeIndex = index(len(model.operatorCodes))
        what = f"op opcode index {op.opcodeIndex}"
    elif site == "op_io":
        which = rng.choice(("inputs", "outputs"))
        io = [int(v) for v in getattr(op, which)]
        how = rng.choice(("set", "drop", "add"))
        if how == "set" and io:
            io[rng.randrange(len(io))] = index(n_tensors)
        elif how == "drop" and io:
            io.pop(rng.randrange(len(io)))
        else:
            io.append(index(n_tensors))
        setattr(op, which, np.array(io, dtype=np.int32))
        what = f"op {which} {io}"
    elif site == "option" and op.builtinOptions is not None:
        fields = [k for k, v in vars(op.builtinOptions).items() if type(v) in (int, float)]
        name = rng.choice(fields) if fields else None
        if name:
            old = getattr(op.builtinOptions, name)
            setattr(op.builtinOptions, name, rng.choice(HOSTILE_FLOATS) if isinstance(old, float)
                    else rng.choice((0, -1, 5, 9, 100)))
        what = f"option {name} = {getattr(op.builtinOptions, name) if name else None}"
    elif site == "no_options":
        op.builtinOptionsType, op.builtinOptions = 0, None
        what = "op options removed"
    elif site == "code":
        code = rng.choice(model.operatorCodes)
        code.builtinCode = rng.randrange(0, 210)
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)
        if code.builtinCode == 32:  # CUSTOM
            code.customCode = rng.choice((b"\xff", b"TFLite_Detection_PostProcess", b""))
        what = f"operator code {code.builtinCode}"
    elif site == "graph_io":
        which = rng.choice(("inputs", "outputs"))
        io = [int(v) for v in getattr(graph, which)]
        how = rng.choice(("set", "empty", "add"))
        io = [index(n_tensors)] if how == "set" else [] if how == "empty" else io + [index(n_tensors)]
        setattr(graph, which, np.array(io, dtype=np.int32))
        what = f"graph {which} {io}"
    elif site == "buffer_data":
        buf = rng.choice([b for b in model.buffers if b.data is not None and len(b.data)])
        how = rng.choice(("cut", "grow", "none"))
        buf.data = (buf.data[:len(buf.data) // 2] if how == "cut" else
                    np.concatenate([buf.data, np.zeros(4, np.uint8)]) if how == "grow" else None)
        what = f"a buffer's data {how}"
    elif site == "subgraphs":
        if rng.random() < 0.5:
            model.subgraphs.append(copy.deepcopy(graph))
        else:
            graph.operators = []
        what = f"{len(model.subgraphs)} subgraph(s), {len(graph.operators)} op(s)"
    else:
        what = "nothing (a tensor without quantization)"
    return what, pack(model)


def mutant(model: str, kind: str, index: int, seed: int = 0) -> Mutant:
    """Mutant `index` of one reference model and one kind (flip, byte, truncate, field): the same
    bytes on every run for the same arguments."""
    raw = MODELS[model].read_bytes()
    rng = random.Random(f"{seed}-{model}-{kind}-{index}")
    for _ in range(20):  # a hostile value the packer cannot write (an int32 field of 2**40): draw again
        try:
            what, data = _field_mutant(raw, rng) if kind == "field" else _bytes_mutant(raw, kind, rng)
            return Mutant(model, kind, index, what, data)
        except (OverflowError, TypeError, ValueError, IndexError, struct.error):
            continue
    raise AssertionError(f"no mutant {model}-{kind}-{index}")


# ---- running the commands ----

@dataclass(frozen=True)
class Outcome:
    code: int
    error: str | None  # the one error line, when the command refused


def run(argv: list[str], capsys) -> Outcome:
    """Run `tinyml ARGV` in-process: a traceback propagates (a failed test); a refusal must be exit 2
    with exactly one line on stderr."""
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code in (0, 2), f"tinyml {' '.join(argv)} -> exit {code}: {err!r}"
    if code == 0:
        return Outcome(0, None)
    line = [ln for ln in err.splitlines() if ln.strip()]
    assert len(line) == 1 and line[0].startswith(f"tinyml {argv[0]}: error: "), f"tinyml {argv[0]}: {err!r}"
    return Outcome(2, line[0])


def model_commands(path: Path, out: Path) -> list[list[str]]:
    """What reads a model without training or a board: both codegen backends and inspect."""
    return [["codegen", str(path), "-C", str(out.parent), "-o", str(out / "tflm")],
            ["codegen", str(path), "-C", str(out.parent), "--backend", "aot", "-o", str(out / "aot")],
            ["inspect", str(path), "--host-only", "--json"]]


# The TFLM interpreter's outputs for seeded inputs, in a child: a hostile model may crash it.
_TFLM_OUTPUTS = """
import json, sys
from pathlib import Path
from tinyml.quantize.tflm import Runner, seeded_samples
runner = Runner(Path(sys.argv[1]).read_bytes())
samples = seeded_samples(runner, int(sys.argv[2]), 0)
print(json.dumps([[s.hex(), runner.invoke_bytes(s).hex()] for s in samples]))
"""


AOT_EQUAL, AOT_NO_REFERENCE = "equal to TFLM's", "of a model TFLM cannot run"


def aot_vs_tflm(model: Path, generated: Path, work: Path, inferences: int = 8) -> str:
    """The generated C compiled on the host against TFLM on seeded inputs: AOT_EQUAL, AOT_NO_REFERENCE
    (the interpreter cannot run the model, so there is nothing to compare with), or what is wrong."""
    from tinyml.codegen.aot.host import compile_host, run_host
    from tinyml.errors import TinymlError

    proc = subprocess.run([sys.executable, "-c", _TFLM_OUTPUTS, str(model), str(inferences)], capture_output=True,
                          text=True, timeout=120)
    try:
        exe = compile_host(generated, work / "aot_runner")
    except TinymlError as exc:
        return f"does not compile: {str(exc)[-300:]}"
    if proc.returncode != 0:
        return AOT_NO_REFERENCE
    pairs = [(bytes.fromhex(i), bytes.fromhex(o)) for i, o in json.loads(proc.stdout)]
    inputs = np.frombuffer(b"".join(i for i, _ in pairs), np.uint8).reshape(len(pairs), -1)
    got = run_host(exe, inputs, len(pairs[0][1]))
    return AOT_EQUAL if got.tobytes() == b"".join(o for _, o in pairs) else "computes other bytes than TFLM"


def check_mutant(m: Mutant, tmp_path: Path, capsys) -> list[Outcome]:
    """The three commands on one mutant: each a result or one line; an AOT result computes what TFLM does."""
    path = tmp_path / f"{m.name}.tflite"
    path.write_bytes(m.raw)
    outcomes = []
    for argv in model_commands(path, tmp_path / "out"):
        try:
            outcome = run(argv, capsys)
        except AssertionError as exc:
            raise AssertionError(f"{m.name} ({m.what}): {exc}") from None
        if outcome.code == 0 and argv[0] == "codegen":  # a correct result is a whole project
            assert (Path(argv[-1]) / ".tinyml-generated").is_file(), m.name
        if outcome.code == 0 and "aot" in argv:
            verdict = aot_vs_tflm(path, Path(argv[-1]), tmp_path)
            assert verdict in (AOT_EQUAL, AOT_NO_REFERENCE), f"{m.name} ({m.what}): the generated C {verdict}"
        outcomes.append(outcome)
    return outcomes


@pytest.fixture
def host_only(monkeypatch, tmp_path):
    """codegen falls back to the host's figures at once (no board library to build and boot)."""
    monkeypatch.setenv("TINYML_TFLM_DIR", str(tmp_path / "none"))


HOST_CASES = [(model, kind, i) for model in MODELS for kind, n in (("flip", 6), ("byte", 6), ("truncate", 3),
                                                                   ("field", 15)) for i in range(n)]


@pytest.mark.parametrize("model,kind,index", HOST_CASES, ids=[f"{m}-{k}-{i}" for m, k, i in HOST_CASES])
def test_mutated_model_gives_a_result_or_one_line(reference, host_only, model, kind, index, tmp_path, capsys):
    check_mutant(mutant(model, kind, index), tmp_path, capsys)


def test_the_mutants_reach_past_the_reader(reference, tmp_path):
    """The campaign is worth something only if many mutants are readable models that the later stages
    (lowering, the TFLM probe, the templates) see: not every mutant dies in the flatbuffer decoder."""
    from tinyml.quantize import flatbuffer

    readable = 0
    for model, kind, index in HOST_CASES:
        m = mutant(model, kind, index)
        try:
            flatbuffer.parse(m.raw, Path(m.name))
            readable += 1
        except BadInput:
            pass
    assert readable >= len(HOST_CASES) // 3, f"only {readable} of {len(HOST_CASES)} mutants are readable"


def _board_tools() -> None:
    for name in ("arm-none-eabi-g++", "qemu-system-arm"):
        tool(name)
    need((REFERENCE / "tflm_arduino" / "src").is_dir(), "the board's TFLM library (tflm_arduino) is absent")


@pytest.mark.parametrize("model,what", [("hello_world", "weights"), ("micro_speech", "fused activation")])
def test_mutants_on_the_board_path(reference, model, what, tmp_path, capsys):
    """Two readable mutants through plain codegen with the board's library measured under QEMU."""
    _board_tools()
    from tinyml.quantize.flatbuffer import pack, unpack

    raw = MODELS[model].read_bytes()
    if what == "weights":  # a weight changed: a different model, as good as the first
        weights = max(_weight_ranges(raw), key=lambda r: r[1] - r[0])
        data = bytearray(raw)
        data[weights[0] + 3] ^= 0x40
        raw = bytes(data)
    else:  # the FULLY_CONNECTED now ends with RELU6 (3): valid, and not what it was
        m = unpack(raw)
        fc = next(op for op in m.subgraphs[0].operators if hasattr(op.builtinOptions, "weightsFormat"))
        fc.builtinOptions.fusedActivationFunction = 3
        raw = pack(m)
    path = tmp_path / f"{model}-{what.replace(' ', '_')}.tflite"
    path.write_bytes(raw)
    out = tmp_path / "fw"
    assert run(["codegen", str(path), "-C", str(tmp_path), "-o", str(out)], capsys).code == 0
    marker = json.loads((out / ".tinyml-generated").read_text())
    assert marker["arena_measured_on"] == "board"


# Damage of the kinds the generator found, rebuilt by hand so that each has a name. Before the fix,
# each gave a traceback, a segfault or a wrong exit code, but for zero_scale, negative_dim and
# zero_point_out_of_int8, which are here as the neighbours of those.


def _edited(model: str, edit) -> bytes:
    from tinyml.quantize.flatbuffer import pack, unpack

    m = unpack(MODELS[model].read_bytes())
    edit(m, m.subgraphs[0])
    return pack(m)


def _set(obj, name, value):
    setattr(obj, name, value)


KNOWN = {
    # IndexError in the reader's MAC count: an op input naming a tensor that does not exist
    "input_out_of_range": lambda m, g: _set(g.operators[0], "inputs", np.array([0, 99, 2], np.int32)),
    "opcode_out_of_range": lambda m, g: _set(g.operators[0], "opcodeIndex", 7),
    "graph_output_out_of_range": lambda m, g: _set(g, "outputs", np.array([1234], np.int32)),
    "op_without_inputs": lambda m, g: _set(g.operators[0], "inputs", np.array([], np.int32)),
    "buffer_out_of_range": lambda m, g: _set(g.tensors[1], "buffer", 500),
    # UnicodeDecodeError: a tensor name that is not UTF-8
    "name_not_utf8": lambda m, g: _set(g.tensors[0], "name", b"\xaf\xff"),
    # ValueError in the AOT backend: a constant whose bytes do not fill its shape
    "constant_bytes_disagree": lambda m, g: _set(m.buffers[g.tensors[g.operators[0].inputs[1]].buffer], "data",
                                                 np.zeros(5, np.uint8)),
    # ValueError (NaN to int) in the AOT backend's multipliers
    "nan_scale": lambda m, g: _set(g.tensors[g.operators[0].outputs[0]].quantization, "scale",
                                   np.array([np.nan], np.float32)),
    "zero_scale": lambda m, g: _set(g.tensors[g.operators[0].inputs[0]].quantization, "scale",
                                    np.array([0.0], np.float32)),
    "negative_dim": lambda m, g: _set(g.tensors[g.operators[0].outputs[0]], "shape", np.array([1, -16], np.int32)),
    # a segfault, in-process, in the TFLM interpreter that codegen ran for its check vectors
    "huge_dim": lambda m, g: _set(g.tensors[g.operators[0].outputs[0]], "shape",
                                  np.array([1 << 30, 1 << 30], np.int32)),
    "zero_point_out_of_int8": lambda m, g: _set(g.tensors[g.operators[0].outputs[0]].quantization, "zeroPoint",
                                                np.array([1000], np.int64)),
}


@pytest.mark.parametrize("defect", sorted(KNOWN))
def test_known_damage_is_one_line(reference, host_only, defect, tmp_path, capsys):
    path = tmp_path / f"{defect}.tflite"
    path.write_bytes(_edited("hello_world", KNOWN[defect]))
    for argv in model_commands(path, tmp_path / "out"):
        run(argv, capsys)


def _dw(g):
    return next(op for op in g.operators if hasattr(op.builtinOptions, "depthMultiplier"))


# Found by the benchmark's parity check: readable models that the AOT backend compiled into C computing
# other bytes than TFLM (which follows the option, or the declared shape, or a zero point of its own).
DIFFERENT = {
    "depth_multiplier": ("micro_speech", lambda m, g: _set(_dw(g).builtinOptions, "depthMultiplier", -1),
                         "depthMultiplier -1"),
    "no_zero_point": ("micro_speech", lambda m, g: _set(g.tensors[7].quantization, "zeroPoint", None),
                      "0 zero point(s)"),
    "fc_output_depth": ("hello_world", lambda m, g: _set(g.tensors[7], "shape", np.array([1, 16, 1], np.int32)),
                        "FULLY_CONNECTED"),
    "softmax_shape": ("micro_speech", lambda m, g: _set(g.tensors[6], "shape", np.array([4], np.int32)),
                      "SOFTMAX from [4] to [1, 4]"),
    "constant_output": ("hello_world", lambda m, g: _set(g, "outputs", np.array([2], np.int32)),
                        "graph output 2 is a constant"),
}


@pytest.mark.parametrize("case", sorted(DIFFERENT))
def test_aot_refuses_what_tflm_computes_otherwise(reference, case, tmp_path, capsys):
    model, edit, said = DIFFERENT[case]
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(_edited(model, edit))
    outcome = run(["codegen", str(path), "--backend", "aot", "-o", str(tmp_path / "aot")], capsys)
    assert outcome.code == 2 and said in outcome.error, outcome


def test_stride_zero_is_refused_by_the_aot_backend(reference, host_only, tmp_path, capsys):
    def edit(m, g):
        dw = next(op for op in g.operators if hasattr(op.builtinOptions, "depthMultiplier"))
        dw.builtinOptions.strideW = 0

    path = tmp_path / "stride0.tflite"
    path.write_bytes(_edited("micro_speech", edit))
    outcome = run(["codegen", str(path), "--backend", "aot", "-o", str(tmp_path / "aot")], capsys)
    assert outcome.code == 2 and "strideW 0" in outcome.error


# ---- the sidecar (.meta.json) of a keyword-spotting model ----


def _valid_meta() -> dict:
    from tinyml.train.frontend import FrontendParams, audio_meta

    return {"artifact": "model.tflite", "seed": 0, **audio_meta(["silence", "unknown", "yes", "no"],
                                                                FrontendParams())}


def _with(path: tuple, value) -> str:
    doc = _valid_meta()
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(doc)


_DELETE = object()
FIELDS = ("kind", "sample_rate", "window_ms", "hop_ms", "fft_size", "mel_bands", "fmin", "fmax", "log_floor", "clip_ms")
META_CASES = {
    "valid": json.dumps(_valid_meta()),
    "empty": "", "truncated": json.dumps(_valid_meta())[:40], "not_json": "labels: yes, no",
    "binary": b"\xff\xfe\x00garbage", "deep": "[" * 100_000 + "]" * 100_000, "null": "null", "array": "[1, 2]",
    "string": '"kws"', "number": "1e999", "huge_int": "1" * 5000,
    "task_missing": _with(("task",), _DELETE), "task_number": _with(("task",), 5),
    "labels_missing": _with(("labels",), _DELETE), "labels_string": _with(("labels",), "yes,no"),
    "labels_number": _with(("labels",), 7), "labels_numbers": _with(("labels",), [1, 2]),
    "labels_one": _with(("labels",), ["yes"]), "labels_duplicate": _with(("labels",), ["yes", "yes"]),
    "labels_empty_name": _with(("labels",), ["", "no"]), "labels_object": _with(("labels",), {"yes": 1, "no": 2}),
    "labels_quotes": _with(("labels",), ['say "hi"', "no"]), "labels_backslash": _with(("labels",), ["a\\b", "no"]),
    "labels_non_ascii": _with(("labels",), ["naïve", "no"]), "labels_keyword": _with(("labels",), ["int", "char"]),
    "frontend_missing": _with(("frontend",), _DELETE), "frontend_null": _with(("frontend",), None),
    "frontend_list": _with(("frontend",), [16000]), "frontend_empty": _with(("frontend",), {}),
    **{f"{f}_{name}": _with(("frontend", f), v) for f in FIELDS
       for name, v in (("string", "x"), ("null", None), ("bool", True), ("list", [1]), ("float", 1.5))},
    "window_nan": _with(("frontend", "window_ms"), float("nan")),
    "hop_inf": _with(("frontend", "hop_ms"), float("inf")),
    "sample_rate_0": _with(("frontend", "sample_rate"), 0),
    "sample_rate_huge": _with(("frontend", "sample_rate"), 10**12),
    "fft_3": _with(("frontend", "fft_size"), 3), "fft_huge": _with(("frontend", "fft_size"), 1 << 30),
    "mel_0": _with(("frontend", "mel_bands"), 0), "mel_huge": _with(("frontend", "mel_bands"), 100_000),
    "window_0": _with(("frontend", "window_ms"), 0), "window_huge": _with(("frontend", "window_ms"), 1e9),
    "hop_tiny": _with(("frontend", "hop_ms"), 0.01), "fmin_negative": _with(("frontend", "fmin"), -1.0),
    "fmax_huge": _with(("frontend", "fmax"), 1e9), "log_floor_0": _with(("frontend", "log_floor"), 0),
    "clip_0": _with(("frontend", "clip_ms"), 0), "clip_huge": _with(("frontend", "clip_ms"), 10**9),
    "kind_unknown": _with(("frontend", "kind"), "mfcc"), "kind_tflm": _with(("frontend", "kind"), "tflm"),
}


def _text_mutants(count: int, seed: int = 0) -> dict[str, str]:
    """The valid sidecar with characters deleted, doubled or replaced (seeded)."""
    text, found = json.dumps(_valid_meta(), indent=2), {}
    for i in range(count):
        rng = random.Random(f"{seed}-meta-{i}")
        chars = list(text)
        for _ in range(rng.choice((1, 2, 3))):
            k = rng.randrange(len(chars))
            how = rng.choice(("delete", "double", "replace"))
            if how == "delete":
                del chars[k]
            elif how == "double":
                chars.insert(k, chars[k])
            else:
                chars[k] = rng.choice('0123456789-.e"{}[],:x ')
        found[f"text_{i}"] = "".join(chars)
    return found


ALL_META = {**META_CASES, **_text_mutants(16)}


def _model_with_meta(tmp_path: Path, meta) -> Path:
    from tinyml.paths import sidecar

    model = tmp_path / "kws.tflite"
    model.write_bytes(MODELS["hello_world"].read_bytes())
    sidecar(model).write_bytes(meta if isinstance(meta, bytes) else meta.encode())
    return model


@pytest.mark.parametrize("case", sorted(ALL_META))
def test_sidecar_is_read_or_refused_in_one_line(reference, host_only, case, tmp_path, capsys):
    from tinyml.train.frontend import FrontendParams, read_audio_meta

    model = _model_with_meta(tmp_path, ALL_META[case])
    try:
        meta = read_audio_meta(model)
    except BadInput as exc:
        assert "\n" not in str(exc)
        meta = "refused"
    if meta not in (None, "refused"):
        labels, params = meta
        assert all(isinstance(v, str) for v in labels) and isinstance(params, FrontendParams)
    # the commands that read it and fail fast (the model is not a KWS model, so nothing is trained or built)
    for argv in (["codegen", str(model), "-C", str(tmp_path), "-o", str(tmp_path / "fw")],
                 ["evaluate", str(model), "-C", str(tmp_path), "--wav", str(WAV)],
                 ["emulate", str(model), "-C", str(tmp_path), "--wav", str(WAV), "-o", str(tmp_path / "emu")]):
        # not a KWS sidecar: codegen writes the plain model's project; anything else is refused (a
        # KWS sidecar beside hello_world, or one that cannot be read), before a build
        assert run(argv, capsys).code == (0 if meta is None and argv[0] == "codegen" else 2), argv[0]
    assert not (tmp_path / "emu").exists()


def test_kws_labels_that_are_unsafe_in_c_are_refused_in_one_line(reference, tmp_path, capsys):
    model = _model_with_meta(tmp_path, META_CASES["labels_quotes"])
    outcome = run(["codegen", str(model), "-C", str(tmp_path), "-o", str(tmp_path / "fw")], capsys)
    assert outcome.code == 2 and "labels" in outcome.error and 'say \\"hi\\"' not in outcome.error


def test_kws_labels_reach_c_as_the_strings_they_are(tmp_path):
    """The labels' C strings (which the firmware prints inside JSON as they are) read back as the labels."""
    gcc = tool("gcc")
    from tinyml.codegen.kws import write_kws_core

    labels = ["silence", "unknown", "int", "no + go", "x.y-z"]
    write_kws_core(tmp_path, labels)
    probe = tmp_path / "labels.c"
    probe.write_text('#include <stdio.h>\n#include "tinyml_kws_config.h"\n'
                     "static const char *const k[] = {TM_KWS_LABEL_NAMES};\n"
                     "int main(void) {\n  unsigned i;\n"
                     '  for (i = 0; i < sizeof k / sizeof *k; ++i) printf("\\"%s\\"\\n", k[i]);\n'
                     "  return 0;\n}\n")
    subprocess.run([gcc, "-std=c99", "-Wall", "-Werror", "-I", str(tmp_path), str(probe), "-o", str(tmp_path / "l")],
                   check=True)
    printed = subprocess.run([str(tmp_path / "l")], capture_output=True, text=True, check=True).stdout
    assert [json.loads(line) for line in printed.splitlines()] == labels


# ---- a closed stdout ----

@pytest.mark.parametrize("argv", [["inspect", "{person_detect}", "--host-only", "--json"], ["codegen", "--help"]],
                         ids=["inspect-json", "help"])
def test_a_closed_stdout_ends_quietly(reference, argv):
    """`tinyml ... | head -1`: the reader closes the pipe before tinyml writes. No message, no traceback."""
    argv = [a.format(person_detect=REFERENCE / "models" / "person_detect.tflite") for a in argv]
    proc = subprocess.Popen([sys.executable, "-m", "tinyml.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # as `head` does once it has its line
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    proc.stderr.close()
    assert err == "" and proc.returncode in (0, 141), (proc.returncode, err)


def test_head_reads_the_first_line(reference):
    """The same through a shell: `tinyml inspect --json | head -1` prints '{' and nothing on stderr."""
    model = REFERENCE / "models" / "person_detect.tflite"
    cmd = f"{shlex.quote(sys.executable)} -m tinyml.cli inspect {shlex.quote(str(model))} --host-only --json | head -1"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert proc.stdout == "{\n" and proc.stderr == ""


# ---- names: model files, folders and labels with quotes, spaces, backslashes, non-ASCII, C keywords ----

NAMES = ['my "odd" model\'s name', "naïve módel", "back\\slash", "int", "sp ace;semi$x#h,c", "tab\there",
         "new\nline", "star* comment *", "emoji 🎉", "%s%n`x`$(y)", "-dash", "a'b\"c\\"]
BUILT = ['my "odd" model\'s name', "naïve módel", "back\\slash", "int"]


def c_string(literal_body: str) -> str:
    """The text a C string literal's body (as written in the source) stands for, UTF-8 decoded."""
    return codecs.escape_decode(literal_body.encode("ascii"))[0].decode("utf-8")


def define_value(ini: Path, env: str = "env:emulator") -> str:
    """What the compiler receives for -DTINYML_MODEL_NAME: platformio.ini as PlatformIO reads it, its
    flag split as SCons splits it (shlex), the quotes escaped as PlatformIO escapes them for the shell,
    and the shell's unquoting (shlex again)."""
    from platformio.project.config import ProjectConfig

    flags = [f for line in ProjectConfig(str(ini)).get(env, "build_flags") for f in shlex.split(line)]
    value = next(f for f in flags if f.startswith("-DTINYML_MODEL_NAME=")).split("=", 1)[1]
    return shlex.split(value.replace('"', '\\"'))[0]


@pytest.mark.parametrize("name", NAMES, ids=[repr(n) for n in NAMES])
def test_odd_model_names_through_codegen(reference, host_only, name, tmp_path, capsys):
    from tinyml.codegen.aot.host import compile_host

    gcc = tool("gcc")
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(MODELS["hello_world"].read_bytes())
    aot, board = tmp_path / "aot", tmp_path / "board"
    assert run(["codegen", str(model), "-C", str(tmp_path), "--backend", "aot", "-o", str(aot)], capsys).code == 0
    assert run(["codegen", str(model), "-C", str(tmp_path), "-o", str(board)], capsys).code == 0
    # the AOT C (banner, name and plan comments) compiles warning-free, in both outputs
    compile_host(aot, tmp_path / "runner", gcc)
    compile_host(board / "src" / "emulator", tmp_path / "runner2", gcc)
    # the name as the firmware's hello reports it: JSON inside a C string, from the build flag ...
    literal = define_value(board / "platformio.ini")
    assert literal[0] == literal[-1] == '"' and json.loads(f'"{c_string(literal[1:-1])}"') == name
    # ... and from the TFLM sketch's core
    body = re.search(r'rt->model = "(.*)";', (board / "src" / "tinyml_tflm.cpp").read_text()).group(1)
    assert json.loads(f'"{c_string(body)}"') == name
    # every other mention is a comment that stays one comment
    for path in list(board.rglob("*")) + list(aot.rglob("*")):
        if path.is_file() and path.suffix in (".h", ".c", ".cc", ".cpp", ".ini"):
            text = path.read_text()
            assert "\n" not in name or name not in text, path
            if path.suffix != ".ini":
                assert not re.search(r"/\*(?:(?!\*/).)*/\*", text, re.S), f"a comment opened inside one in {path}"


def test_tensor_names_that_close_comments_compile(reference, tmp_path, capsys):
    """Tensor names go into the AOT memory plan's comment: '*/', '/*' and a newline must not end it."""
    from tinyml.codegen.aot.host import compile_host

    def edit(m, g):
        for i, t in enumerate(g.tensors):
            t.name = f"t{i} */ int x; /* \n y".encode()

    path = tmp_path / "names.tflite"
    path.write_bytes(_edited("micro_speech", edit))
    assert run(["codegen", str(path), "--backend", "aot", "-o", str(tmp_path / "aot")], capsys).code == 0
    compile_host(tmp_path / "aot", tmp_path / "runner", tool("gcc"))


def test_model_c_of_an_odd_name_compiles(reference, host_only, tmp_path, capsys):
    """The TFLM backend's model array and header (// comments with the name) compile for the board."""
    gxx = tool("arm-none-eabi-g++")
    model = tmp_path / "a'b\"c\\.tflite"
    model.write_bytes(MODELS["hello_world"].read_bytes())
    board = tmp_path / "board"
    assert run(["codegen", str(model), "-C", str(tmp_path), "-o", str(board)], capsys).code == 0
    subprocess.run([gxx, "-std=gnu++17", "-Wall", "-Werror", "-c", str(board / "src" / "model.cc"), "-o",
                    str(tmp_path / "model.o")], check=True)


def test_a_folder_platformio_cannot_build_in_is_refused_in_one_line(reference, tmp_path, capsys):
    model = tmp_path / "m.tflite"
    model.write_bytes(MODELS["hello_world"].read_bytes())
    for folder in ("dollar$x", "tab\tx"):
        outcome = run(["emulate", str(model), "-o", str(tmp_path / folder)], capsys)
        assert outcome.code == 2 and "'$'" in outcome.error
        assert not (tmp_path / folder).exists()


def test_the_default_emulator_folder_of_a_dollar_name_builds(tmp_path):
    from tinyml.evaluate.emulate import check_project_path, default_project_name

    assert default_project_name("a$b\tc") == "a_b_c"
    check_project_path(tmp_path / default_project_name("price $5"))


@pytest.mark.parametrize("backend", ["aot", "tflm"])
@pytest.mark.parametrize("name", BUILT, ids=[repr(n) for n in BUILT])
def test_odd_model_names_build_and_run_on_the_emulator(reference, name, backend, tmp_path, capsys):
    """A real build and QEMU run per name and backend; the firmware's hello names the model as it is."""
    tool("qemu-system-arm")
    tool("arm-none-eabi-gcc")
    if backend == "tflm":
        _board_tools()
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(MODELS["hello_world"].read_bytes())
    out = tmp_path / "dir \"q\" 'x' \\b ü" / "project"  # a folder as odd as the name
    capsys.readouterr()
    assert main(["emulate", str(model), "-C", str(tmp_path), "--backend", backend, "--inputs", "2", "-o", str(out),
                 "--json"]) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == name and result["outputs_match_host"]
