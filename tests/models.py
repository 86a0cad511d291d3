"""Small models built inside tests (never committed binaries)."""

from __future__ import annotations

from pathlib import Path


def with_custom_op(reference_model: Path, out: Path, custom_code: str = "ethos-u") -> Path:
    """A copy of a real model whose first op is replaced by a custom op TFLM has no kernel for,
    as a model compiled for an NPU would be."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(reference_model.read_bytes(), 0)
    code = model.operatorCodes[model.subgraphs[0].operators[0].opcodeIndex]
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.CUSTOM
    code.customCode = custom_code
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    out.write_bytes(builder.Output())
    return out


def float_dense(out: Path) -> Path:
    """A float32 model (no quantization) from the TFLite converter."""
    from tinyml import tf as tfload

    tf, keras = tfload.load()
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)])
    out.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return out
