"""Small models built inside tests (never committed binaries)."""

from __future__ import annotations

from pathlib import Path


def with_custom_op(reference_model: Path, out: Path, custom_code: str = "ethos-u") -> Path:
    """A copy of a real model whose first op is replaced by a custom op TFLM has no kernel for,
    as a model compiled for an NPU would be."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    from tinyml.quantize.flatbuffer import pack, unpack

    model = unpack(reference_model.read_bytes())
    code = model.operatorCodes[model.subgraphs[0].operators[0].opcodeIndex]
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.CUSTOM
    code.customCode = custom_code
    out.write_bytes(pack(model))
    return out


def float_dense(out: Path) -> Path:
    """A float32 model (no quantization) from the TFLite converter."""
    from tinyml import tf as tfload

    tf, keras = tfload.load()
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)])
    out.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return out


def _int8(model, input_shape, seed: int, **options) -> bytes:
    import numpy as np

    from tinyml.quantize.ptq import convert_int8

    calibration = np.random.default_rng(seed).normal(0, 1, size=(64, *input_shape)).astype("float32")
    return convert_int8(model, calibration, **options)


def conv_variety(out: Path, per_channel: bool = True) -> Path:
    """Convolutions, depthwise convolutions and pools with strides, dilation, both paddings,
    depth multipliers and fused RELU / RELU6; FULLY_CONNECTED, TANH, SOFTMAX at the end."""
    from tinyml import tf as tfload

    tf, keras = tfload.load()
    keras.utils.set_random_seed(1)
    L = keras.layers
    x_in = keras.Input(shape=(25, 21, 3), batch_size=1)
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu6")(x_in)
    x = L.Conv2D(5, (3, 2), dilation_rate=2, padding="valid")(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D((2, 3), strides=2, padding="valid")(x)
    x = L.AveragePooling2D(2, strides=1, padding="same")(x)
    x = L.MaxPooling2D(2, strides=1, padding="valid")(x)
    x = L.DepthwiseConv2D(2, dilation_rate=1, padding="same", activation="relu6")(x)
    x = L.Flatten()(x)
    x = L.Dense(7, activation="tanh")(x)
    x = L.Dense(4, activation="softmax")(x)
    out.write_bytes(_int8(keras.Model(x_in, x), (25, 21, 3), 2, per_channel=per_channel,
                          per_channel_dense=per_channel))
    return out


def elementwise(out: Path) -> Path:
    """ADD (with broadcasting and a fused RELU), MUL, LOGISTIC, TANH, PAD, CONCATENATION
    (with the requantizing QUANTIZE the converter inserts), MEAN with and without keep_dims,
    float input and output (QUANTIZE / DEQUANTIZE at the edges)."""
    from tinyml import tf as tfload

    tf, keras = tfload.load()
    keras.utils.set_random_seed(2)
    L = keras.layers
    x_in = keras.Input(shape=(6, 5, 4), batch_size=1)
    a = L.Conv2D(4, 1)(x_in)
    b = L.Conv2D(4, 3, padding="same")(x_in)
    s = L.ReLU()(L.Add()([a, b]))
    m = L.Multiply()([a, b])
    pooled = L.Lambda(lambda t: tf.reduce_mean(t, axis=[1, 2], keepdims=True))(b)
    broadcast = L.Add()([m, pooled])
    sig = L.Activation("sigmoid")(s)
    th = L.Activation("tanh")(broadcast)
    padded = L.ZeroPadding2D(((1, 0), (2, 1)))(sig)
    pad = ((1, 0), (2, 1))
    cat = L.Concatenate(axis=-1)([padded, L.ZeroPadding2D(pad)(th), L.ZeroPadding2D(pad)(a)])
    mean_c = L.Lambda(lambda t: tf.reduce_mean(t, axis=[3]))(cat)
    y = L.Dense(3)(L.Flatten()(mean_c))
    out.write_bytes(_int8(keras.Model(x_in, y), (6, 5, 4), 3, int8_io=False))
    return out


def with_second_subgraph(reference_model: Path, out: Path) -> Path:
    """A real model with its graph duplicated into a second subgraph (as control flow would add)."""
    import copy

    from tinyml.quantize.flatbuffer import pack, unpack

    model = unpack(reference_model.read_bytes())
    model.subgraphs.append(copy.deepcopy(model.subgraphs[0]))
    out.write_bytes(pack(model))
    return out


def too_large(out: Path) -> Path:
    """An int8 model with about 1.1 M weights: more than the nRF52840's 960 KB of application flash."""
    from tinyml import tf as tfload

    tf, keras = tfload.load()
    keras.utils.set_random_seed(3)
    x = keras.Input(shape=(1100,), batch_size=1)
    y = keras.layers.Dense(1000)(x)
    out.write_bytes(_int8(keras.Model(x, y), (1100,), 4))
    return out
