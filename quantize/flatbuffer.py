"""Reading a `.tflite` flatbuffer into plain Python facts (no TensorFlow).

Uses the schema module shipped inside the `tflite_micro` wheel, so what we read
is what the TFLM interpreter reads.
"""

from __future__ import annotations

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
        return int(np.prod(self.shape)) if self.shape else 1

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
    def elems(i):
        return int(np.prod(tensors[i].shape)) if i >= 0 else 0

    if not outputs or outputs[0] < 0:
        return 0
    out = elems(outputs[0])
    if op_name == "CONV_2D":  # filter [out_ch, kh, kw, in_ch]
        f = tensors[inputs[1]].shape
        return out * int(np.prod(f[1:]))
    if op_name == "DEPTHWISE_CONV_2D":  # filter [1, kh, kw, out_ch]
        f = tensors[inputs[1]].shape
        return out * int(f[1] * f[2])
    if op_name == "FULLY_CONNECTED":  # weights [units, in]
        return out * int(tensors[inputs[1]].shape[-1])
    if op_name == "TRANSPOSE_CONV":  # filter [out_ch, kh, kw, in_ch], input is inputs[2]
        f = tensors[inputs[1]].shape
        return elems(inputs[2]) * int(np.prod(f))
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
    if len(raw) < 8 or raw[4:8] != _IDENTIFIER:
        got = f"identifier {raw[4:8]!r}" if len(raw) >= 8 else f"only {len(raw)} bytes"
        raise expected("a TFLite flatbuffer (file identifier 'TFL3')", f"'{path}' with {got}",
                       "Convert the model with TFLiteConverter, or run `tinyml quantize`.")
    s = _schema()
    try:
        model = s.ModelT.InitFromPackedBuf(raw, 0)
    except Exception as exc:  # a corrupt flatbuffer raises anything from struct.error to IndexError
        raise expected("a readable TFLite flatbuffer", f"'{path}' ({type(exc).__name__}: {exc})") from None
    if not model.subgraphs:
        raise expected("a model with one subgraph", f"'{path}' with none")
    op_names, type_names = _names(s.BuiltinOperator), _names(s.TensorType)
    graph = model.subgraphs[0]
    buffers = model.buffers or []
    tensors = []
    for i, t in enumerate(graph.tensors or []):
        q = t.quantization
        scales = tuple(float(v) for v in (q.scale if q is not None and q.scale is not None else ()))
        zps = tuple(int(v) for v in (q.zeroPoint if q is not None and q.zeroPoint is not None else ()))
        buf = buffers[t.buffer] if 0 <= t.buffer < len(buffers) else None
        data = None
        if buf is not None and buf.data is not None and len(buf.data) > 0:
            data = bytes(np.asarray(buf.data, dtype=np.uint8))
        elif buf is not None and buf.offset > 1 and buf.size > 0:  # large-model layout: data after the flatbuffer
            data = raw[buf.offset:buf.offset + buf.size]
        constant = data is not None
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        tensors.append(Tensor(i, name, shape, type_names.get(t.type, str(t.type)), scales, zps,
                              int(q.quantizedDimension) if q is not None else 0, constant, data))
    operators = []
    for op in graph.operators or []:
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = op_names.get(builtin, f"BUILTIN_{builtin}")
        custom = name == "CUSTOM"
        if custom:
            cc = code.customCode
            name = cc.decode() if isinstance(cc, bytes) else str(cc)
        ins = tuple(int(i) for i in (op.inputs if op.inputs is not None else ()))
        outs = tuple(int(i) for i in (op.outputs if op.outputs is not None else ()))
        options = dict(vars(op.builtinOptions)) if op.builtinOptions is not None else {}
        operators.append(Operator(name, custom, ins, outs, 0 if custom else _macs(name, tensors, ins, outs),
                                  options))
    return ModelInfo(path, len(raw), len(model.subgraphs), tuple(tensors), tuple(operators),
                     tuple(int(i) for i in graph.inputs), tuple(int(i) for i in graph.outputs), raw)
