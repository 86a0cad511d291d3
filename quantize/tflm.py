"""What the TFLM interpreter does with a model: can it run it, how much arena
does it allocate, and what does it output.

Probes run in a child process (`python -m tinyml.quantize.tflm`): some models
and arenas make the interpreter segfault instead of raising, and the arena
report is written to file descriptor 2, not returned.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyml.errors import TinymlError
from tinyml.log import captured_fd2
from tinyml.quantize.flatbuffer import pack, parse, unpack

# Large enough for every model that fits an MCU; the arena actually used is
# reported separately and does not depend on this.
PROBE_ARENA_BYTES = 64 * 1024 * 1024
PROBE_TIMEOUT_S = 120

_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_HEAD = re.compile(r"Arena allocation head (\d+) bytes")
_TAIL = re.compile(r"Arena allocation tail (\d+) bytes")
_MISSING_BUILTIN = re.compile(r"Didn't find op for builtin opcode '(\w+)'")
_MISSING_REGISTRATION = re.compile(r"Failed to get registration from op code (\w+)")


@dataclass(frozen=True)
class Probe:
    supported: bool
    unsupported_ops: tuple[str, ...]
    arena_bytes: int | None
    arena_head_bytes: int | None
    arena_tail_bytes: int | None
    error: str | None  # what the interpreter said when it could not run the model


def _child(model_path: str) -> dict:
    """Runs in the child: load the model, report allocations (read back from fd 2), then run it once
    on zeros, so that a model which crashes the interpreter does so here, not in the caller's process
    (codegen, through inspect, probes before it runs a model in-process)."""
    from tflite_micro import runtime

    data = Path(model_path).read_bytes()
    inputs = len(parse(data, Path(model_path)).inputs)
    ok, error = True, None
    with captured_fd2() as log:
        try:
            interp = runtime.Interpreter.from_bytes(data, arena_size=PROBE_ARENA_BYTES)
            interp.print_allocations()
            for i in range(inputs):
                d = interp.get_input_details(i)
                interp.set_input(np.zeros(d["shape"], dtype=d["dtype"]), i)
            interp.invoke()
        except RuntimeError as exc:  # what TFLM says about a model it cannot run
            ok, error = False, str(exc)
        except Exception as exc:  # the interpreter's Python wrapper on a hostile model: also its refusal
            ok, error = False, f"{type(exc).__name__}: {exc}"
    return {"ok": ok, "error": error, "log": log[0]}


def _run_child(model_path: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "tinyml.quantize.tflm", str(model_path)],
                          capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    if proc.returncode < 0:
        return {"ok": False, "error": f"the TFLM interpreter crashed (signal {-proc.returncode})", "log": proc.stderr}
    if proc.returncode != 0:
        raise TinymlError(f"TFLM probe failed unexpectedly: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout)


def _patched(raw: bytes, builtin_name: str, already: set[int]) -> tuple[bytes, int, str]:
    """Replace the first not-yet-patched operator code named `builtin_name` by ADD so the
    interpreter's registration lookup moves on to the next op. Returns bytes, code index, name."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    model = unpack(raw)
    want = getattr(s.BuiltinOperator, builtin_name, None)
    for op in model.subgraphs[0].operators or []:
        code = model.operatorCodes[op.opcodeIndex]
        if op.opcodeIndex in already or max(code.builtinCode, code.deprecatedBuiltinCode) != want:
            continue
        name = builtin_name
        if builtin_name == "CUSTOM":
            cc = code.customCode
            name = cc.decode() if isinstance(cc, bytes) else str(cc)
        code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.ADD
        code.customCode = None
        return pack(model), op.opcodeIndex, name
    return raw, -1, builtin_name


def probe(model_path: Path) -> Probe:
    """Ask the TFLM interpreter whether it runs the model and how much arena it allocates.

    When an op is missing, the model is patched and probed again until every
    missing op is known (TFLM stops at the first one it cannot resolve).
    """
    result = _run_child(model_path)
    if result["ok"]:
        log = result["log"]
        total, head, tail = (_TOTAL.search(log), _HEAD.search(log), _TAIL.search(log))
        if not total:
            raise TinymlError(f"TFLM did not report its arena for {model_path}; its output was: {log[:200]!r}")
        return Probe(True, (), int(total.group(1)), int(head.group(1)) if head else None,
                     int(tail.group(1)) if tail else None, None)
    first_error = _summary(result)
    missing: list[str] = []
    patched_codes: set[int] = set()
    raw = Path(model_path).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        while True:
            m = _MISSING_REGISTRATION.search(result["log"]) or _MISSING_BUILTIN.search(result["log"])
            if not m:
                break
            raw, index, name = _patched(raw, m.group(1), patched_codes)
            if index < 0:
                break
            patched_codes.add(index)
            missing.append(name)
            trial = Path(tmp) / "patched.tflite"
            trial.write_bytes(raw)
            result = _run_child(trial)
            if result["ok"]:
                break
    return Probe(False, tuple(dict.fromkeys(missing)), None, None, None, first_error)


def _summary(result: dict) -> str:
    lines = [ln.strip() for ln in result["log"].splitlines() if ln.strip()]
    return "; ".join(lines[:3]) or result["error"] or "unknown error"


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - zero_point) * scale


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> list[list[int]]:
    """Counts with rows = true class, columns = predicted class."""
    m = np.zeros((classes, classes), dtype=int)
    np.add.at(m, (y_true, y_pred), 1)
    return m.tolist()


def seeded_inputs(runner: Runner, count: int, seed: int) -> np.ndarray:
    """`count` seeded random inputs in the model's (first) input type, one flattened row each."""
    shape, dtype = runner.input["shape"], np.dtype(runner.input["dtype"])
    return _seeded(np.random.default_rng(seed), dtype, count, int(np.prod(shape)))


def _seeded(rng, dtype: np.dtype, count: int, elements: int) -> np.ndarray:
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max + 1, size=(count, elements), dtype=dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=(count, elements)).astype(dtype)
    return rng.normal(0.0, 1.5, size=(count, elements)).astype(dtype)


def seeded_samples(runner: Runner, count: int, seed: int) -> list[bytes]:
    """`count` seeded samples for a model with any number of inputs of any type: each sample is
    every input's raw bytes in input order, as the firmware protocol sends them."""
    rng = np.random.default_rng(seed)
    per_input = [_seeded(rng, np.dtype(d["dtype"]), count, int(np.prod(d["shape"]))) for d in runner.inputs]
    return [b"".join(rows[i].tobytes() for rows in per_input) for i in range(count)]


# Float outputs on the device are compared within this (libm and the newer host library round
# differently); integer outputs byte for byte.
FLOAT_ATOL, FLOAT_RTOL = 1e-6, 1e-5


def outputs_equal(runner: Runner, got: bytes, want: bytes) -> bool:
    """Device output bytes vs the host's: integers exactly, floats within FLOAT_ATOL + FLOAT_RTOL |want|."""
    if len(got) != len(want):
        return False
    offset = 0
    for d in runner.outputs:
        dtype = np.dtype(d["dtype"])
        n = dtype.itemsize * int(np.prod(d["shape"]))
        a, b = got[offset:offset + n], want[offset:offset + n]
        offset += n
        if dtype.kind == "f":
            x, y = np.frombuffer(a, dtype), np.frombuffer(b, dtype)
            if not np.all(np.abs(x - y) <= FLOAT_ATOL + FLOAT_RTOL * np.abs(y)):
                return False
        elif a != b:
            return False
    return True


class Runner:
    """Runs a model in the TFLM interpreter, one sample at a time (as on the device)."""

    def __init__(self, model_bytes: bytes, arena_bytes: int | None = None):
        from tflite_micro import runtime

        # The interpreter segfaults on an out-of-range tensor index: count from the flatbuffer.
        info = parse(model_bytes, Path("<model>"))
        self._interp = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_bytes or PROBE_ARENA_BYTES)
        self.inputs = [self._interp.get_input_details(i) for i in range(len(info.inputs))]
        self.outputs = [self._interp.get_output_details(i) for i in range(len(info.outputs))]
        self.input, self.output = self.inputs[0], self.outputs[0]

    def invoke(self, sample: np.ndarray) -> np.ndarray:
        self._interp.set_input(sample.reshape(self.input["shape"]).astype(self.input["dtype"]), 0)
        self._interp.invoke()
        return self._interp.get_output(0).copy()

    def invoke_bytes(self, sample: bytes) -> bytes:
        """One inference on every input's bytes (in order); every output's bytes (in order)."""
        offset = 0
        for i, d in enumerate(self.inputs):
            dtype = np.dtype(d["dtype"])
            n = dtype.itemsize * int(np.prod(d["shape"]))
            if offset + n > len(sample):
                raise ValueError(f"sample of {len(sample)} bytes is too short for input {i}")
            self._interp.set_input(np.frombuffer(sample[offset:offset + n], dtype).reshape(d["shape"]), i)
            offset += n
        self._interp.invoke()
        return b"".join(np.ascontiguousarray(self._interp.get_output(i)).tobytes() for i in range(len(self.outputs)))

    def run_float(self, x: np.ndarray) -> np.ndarray:
        """Quantize float inputs with the model's input parameters; dequantize the outputs."""
        qin, qout = self.input["quantization_parameters"], self.output["quantization_parameters"]
        s_in, z_in = float(qin["scales"][0]), int(qin["zero_points"][0])
        s_out, z_out = float(qout["scales"][0]), int(qout["zero_points"][0])
        outs = [self.invoke(quantize(sample, s_in, z_in, self.input["dtype"])) for sample in x]
        return dequantize(np.stack(outs).reshape(len(x), -1), s_out, z_out)


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1])))
