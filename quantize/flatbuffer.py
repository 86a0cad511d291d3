"""Reading a `.tflite` flatbuffer into plain Python facts (no TensorFlow).

Uses the schema module shipped inside the `tflite_micro` wheel, so what we read
is what the TFLM interpreter reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyml.errors import expected, require_file

_IDENTIFIER = b"TFL3"
NUMPY_TYPES = {"FLOAT32": np.float32, "INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16,
               "INT32": np.int32, "INT64": np.int64, "BOOL": np.bool_, "FLOAT16": np.float16}


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def _names(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # TFLite type name, e.g. "INT8"
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    quantized_dimension: int
    constant: bool
    data: bytes | None = field(default=None, repr=False, compare=False)  # constant contents

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    def array(self) -> np.ndarray:
        """The constant contents as a NumPy array of the tensor's type and shape."""
        return np.frombuffer(self.data, dtype=NUMPY_TYPES[self.dtype]).reshape(self.shape)

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype.lower(),
                "quantization": {"scales": list(self.scales), "zero_points": list(self.zero_points),
                                 "quantized_dimension": self.quantized_dimension} if self.scales else None}


@dataclass(frozen=True)
class Operator:
    op: str  # builtin name, or the custom code for CUSTOM ops
    custom: bool
    inputs: tuple[int, ...]  # tensor indices; -1 for an optional input left out
    outputs: tuple[int, ...]
    macs: int
    options: dict = field(default_factory=dict, compare=False)  # builtin options, schema field names


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    model_bytes: int
    subgraphs: int
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    raw: bytes = field(repr=False)

    @property
    def ops(self) -> list[str]:
        """Distinct op names, in order of first use."""
        return list(dict.fromkeys(o.op for o in self.operators))

    @property
    def macs(self) -> int:
        return sum(o.macs for o in self.operators)

    def input_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.inputs]

    def output_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.outputs]

    @property
    def float_io(self) -> bool:
        return any(t.dtype in ("FLOAT32", "FLOAT16") for t in self.input_tensors() + self.output_tensors())

    @property
    def float_ops(self) -> bool:
        """Whether any non-constant tensor an op reads or writes is float (a float or hybrid model).
        Tensors no op reads or writes do not count: an int8 LSTM lists float "intermediate" tensors
        that only carry quantization parameters."""
        used = {i for op in self.operators for i in op.inputs + op.outputs} | set(self.inputs) | set(self.outputs)
        return any(t.dtype in ("FLOAT32", "FLOAT16") and not t.constant and t.index in used for t in self.tensors)


def _macs(op_name: str, tensors: list[Tensor], inputs, outputs) -> int:
    """Multiply-accumulates of one op; 0 for ops without weights (or whose weights do not have the
    shape the op needs: TFLM refuses those)."""
    def shape(k):  # input k's shape, None where the op leaves it out
        return tensors[inputs[k]].shape if k < len(inputs) and inputs[k] >= 0 else None

    if not outputs or outputs[0] < 0:
        return 0
    out, f = tensors[outputs[0]].elements, shape(1)
    if op_name == "CONV_2D" and f is not None and len(f) == 4:  # filter [out_ch, kh, kw, in_ch]
        return out * math.prod(f[1:])
    if op_name == "DEPTHWISE_CONV_2D" and f is not None and len(f) == 4:  # filter [1, kh, kw, out_ch]
        return out * f[1] * f[2]
    if op_name == "FULLY_CONNECTED" and f:  # weights [units, in]
        return out * f[-1]
    if op_name == "TRANSPOSE_CONV" and f is not None and shape(2) is not None:  # input is inputs[2]
        return math.prod(shape(2)) * math.prod(f)
    x = shape(0)
    if op_name == "UNIDIRECTIONAL_SEQUENCE_LSTM" and x is not None and len(x) == 3:
        # every step: four input-to-gate [units, in] and four recurrent [units, units] weight matrices
        return x[0] * x[1] * sum(math.prod(shape(k)) for k in range(1, 9) if shape(k) is not None)
    if op_name == "SVDF" and x is not None and f is not None and shape(2) is not None:
        return x[0] * (math.prod(f) + math.prod(shape(2)))  # feature [filters, in], time [filters, memory]
    return 0


def unpack(raw: bytes):
    """The schema's object form of a flatbuffer (`ModelT`), for editing."""
    return _schema().ModelT.InitFromPackedBuf(raw, 0)


def pack(model) -> bytes:
    """A `ModelT` back to flatbuffer bytes."""
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=_IDENTIFIER)
    return bytes(builder.Output())


def read(path: str | Path) -> ModelInfo:
    path = require_file(path, "a .tflite model file")
    raw = path.read_bytes()
    return parse(raw, path)


def parse(raw: bytes, path: Path) -> ModelInfo:
    """The model's facts, checked so that every index in them points somewhere: a corrupt file is one
    line (BadInput), never an IndexError later. TFLM's own reader checks the flatbuffer's layout, not
    these."""
    if len(raw) < 8 or raw[4:8] != _IDENTIFIER:
        got = f"identifier {raw[4:8]!r}" if len(raw) >= 8 else f"only {len(raw)} bytes"
        raise expected("a TFLite flatbuffer (file identifier 'TFL3')", f"'{path}' with {got}",
                       "Convert the model with TFLiteConverter, or run `tinyml quantize`.")
    s = _schema()
    try:
        model = s.ModelT.InitFromPackedBuf(raw, 0)
    except Exception as exc:  # a corrupt flatbuffer raises anything from struct.error to IndexError
        raise expected("a readable TFLite flatbuffer", f"'{path}' ({type(exc).__name__}: {exc})",
                       "The file is damaged or cut short: copy or convert the model again.") from None
    if not model.subgraphs:
        raise expected("a model with one subgraph", f"'{path}' with none")

    def corrupt(what: str):
        return expected("a readable TFLite flatbuffer", f"'{path}', whose {what}",
                        "The file is damaged: copy or convert the model again.")

    op_names, type_names = _names(s.BuiltinOperator), _names(s.TensorType)
    graph = model.subgraphs[0]
    buffers = model.buffers or []
    codes = model.operatorCodes or []
    tensors = []
    for i, t in enumerate(graph.tensors or []):
        q = t.quantization
        scales = tuple(float(v) for v in (q.scale if q is not None and q.scale is not None else ()))
        zps = tuple(int(v) for v in (q.zeroPoint if q is not None and q.zeroPoint is not None else ()))
        if not 0 <= t.buffer < max(len(buffers), 1):
            raise corrupt(f"tensor {i} refers to buffer {t.buffer} of {len(buffers)}")
        buf = buffers[t.buffer] if buffers else None
        data = None
        if buf is not None and buf.data is not None and len(buf.data) > 0:
            data = bytes(np.asarray(buf.data, dtype=np.uint8))
        elif buf is not None and buf.offset > 1 and buf.size > 0:  # large-model layout: data after the flatbuffer
            if buf.offset + buf.size > len(raw):
                raise corrupt(f"buffer {t.buffer} ends at byte {buf.offset + buf.size}, past the file's {len(raw)}")
            data = raw[buf.offset:buf.offset + buf.size]
        constant = data is not None
        name = _text(t.name, lambda: corrupt(f"tensor {i}'s name is not UTF-8"))
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        dtype = type_names.get(t.type, str(t.type))
        if any(d < 0 for d in shape):
            raise corrupt(f"tensor {i} ('{name}') has the shape {list(shape)}")
        itemsize = np.dtype(NUMPY_TYPES[dtype]).itemsize if dtype in NUMPY_TYPES else None
        if data is not None and itemsize is not None and len(data) != math.prod(shape) * itemsize:
            raise corrupt(f"constant tensor {i} ('{name}', {dtype.lower()} {list(shape)}) holds {len(data)} bytes")
        tensors.append(Tensor(i, name, shape, dtype, scales, zps,
                              int(q.quantizedDimension) if q is not None else 0, constant, data))

    def indices(values, what: str, optional: bool) -> tuple[int, ...]:
        found = tuple(int(v) for v in (values if values is not None else ()))
        for v in found:
            if not (-1 if optional else 0) <= v < len(tensors):
                raise corrupt(f"{what} names tensor {v} of {len(tensors)}")
        return found

    operators = []
    for k, op in enumerate(graph.operators or []):
        if not 0 <= op.opcodeIndex < len(codes):
            raise corrupt(f"op {k} uses operator code {op.opcodeIndex} of {len(codes)}")
        code = codes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = op_names.get(builtin, f"BUILTIN_{builtin}")
        custom = name == "CUSTOM"
        if custom:
            name = _text(code.customCode, lambda: corrupt(f"op {k}'s custom code is not UTF-8"))
        ins = indices(op.inputs, f"op {k} ({name}) input", optional=True)  # -1: an optional input left out
        outs = indices(op.outputs, f"op {k} ({name}) output", optional=True)
        options = dict(vars(op.builtinOptions)) if op.builtinOptions is not None else {}
        operators.append(Operator(name, custom, ins, outs, 0 if custom else _macs(name, tensors, ins, outs),
                                  options))
    return ModelInfo(path, len(raw), len(model.subgraphs), tuple(tensors), tuple(operators),
                     indices(graph.inputs, "graph input", optional=False),
                     indices(graph.outputs, "graph output", optional=False), raw)


def _text(value, corrupt) -> str:
    """A flatbuffer string (bytes) as text; `corrupt()` builds the error for one that is not UTF-8."""
    if not isinstance(value, bytes):
        return str(value)
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise corrupt() from None
