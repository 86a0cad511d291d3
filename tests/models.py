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


def fast_paths(out: Path, per_channel: bool = True) -> Path:
    """Every condition the AOT fast kernels branch on: odd channel counts, columns that are not whole
    groups of four, borders on every side (SAME, stride 2), 1x1 convolutions on whole and partial groups
    of channels, depthwise channels past the last group of four, units and depths of FULLY_CONNECTED
    that are not multiples of four, fused RELU / RELU6."""
    from tinyml import tf as tfload

    tf, keras = tfload.load()
    keras.utils.set_random_seed(7)
    L = keras.layers
    x_in = keras.Input(shape=(17, 13, 3), batch_size=1)
    x = L.Conv2D(7, 3, strides=2, padding="same", activation="relu")(x_in)  # depth 27, 7 channels
    x = L.DepthwiseConv2D(3, padding="same")(x)  # 7 channels: one group of four and three more
    x = L.Conv2D(8, 1, activation="relu6")(x)  # 1x1 on 7 channels: gathered, not pointwise
    x = L.Conv2D(12, 1)(x)  # pointwise on 8 channels
    x = L.DepthwiseConv2D(3, strides=2, padding="valid", activation="relu")(x)
    x = L.Conv2D(5, (2, 3), padding="same")(x)
    x = L.Flatten()(x)
    x = L.Dense(9, activation="relu")(x)  # 9 units on 5 * 4 * 5 = 100 inputs
    x = L.Dense(6)(x)
    x = L.Dense(3, activation="softmax")(x)
    out.write_bytes(_int8(keras.Model(x_in, x), (17, 13, 3), 3, per_channel=per_channel,
                          per_channel_dense=per_channel))
    return out


def one_channel(out: Path) -> Path:
    """A one-channel input (a spectrogram): a depthwise convolution with depth multiplier 6 on it (the
    AOT backend computes it as a convolution), a convolution whose kernel rows are whole groups of four
    bytes, a second branch through a 1x1 convolution and pools on six channels, and a third through an
    average over 336 taps."""
    from tinyml import tf as tfload

    tf, keras = tfload.load()
    keras.utils.set_random_seed(8)
    L = keras.layers
    x_in = keras.Input(shape=(21, 16, 1), batch_size=1)
    x = L.DepthwiseConv2D((5, 4), depth_multiplier=6, strides=2, padding="same", activation="relu")(x_in)
    y = L.Conv2D(4, (3, 4), strides=(2, 2), padding="valid")(x_in)
    y = L.Conv2D(6, 1, strides=1)(y)
    y = L.MaxPooling2D(2, strides=1, padding="same")(y)  # 6 channels: a group of four and two more
    y = L.AveragePooling2D(2, strides=2, padding="same")(y)
    z = L.Conv2D(4, 1, activation="relu")(x_in)
    z = L.AveragePooling2D((21, 16))(z)  # 336 taps: the 16-bit sums move to 32 bits on the way
    x = L.Conv2D(6, 3, strides=2, padding="same")(x)
    x = L.Flatten()(x)
    y = L.Flatten()(y)
    x = L.Concatenate()([x, y, L.Flatten()(z)])
    x = L.Dense(5)(x)
    out.write_bytes(_int8(keras.Model(x_in, x), (21, 16, 1), 4))
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


def int8_lstm(out: Path, board_safe: bool = True) -> Path:
    """A full-int8 UNIDIRECTIONAL_SEQUENCE_LSTM (Keras LSTM, 8 steps x 4 features, 6 units),
    STRIDED_SLICE, FULLY_CONNECTED; int8 input and output; stateful in TFLM (variable states).
    `board_safe=False`: the converter's own cell-state scale (2^-14), which the board's TFLM
    mishandles (quantize/board_compat.py)."""
    from tinyml import tf as tfload

    tf, keras = tfload.load()
    keras.utils.set_random_seed(5)
    # Explicit names: Keras numbers unnamed layers per process, and the numbers end up in tensor
    # names, so a second build in one process would differ.
    x_in = keras.Input(shape=(8, 4), batch_size=1, name="input")
    x = keras.layers.LSTM(6, name="lstm")(x_in)
    y = keras.layers.Dense(3, name="dense")(x)
    # In the flatbuffer the LSTM operator's `intermediates` field lists five tensors that no
    # operator reads or writes, each of shape [0] on the empty buffer 0: four gate intermediates
    # ("input_to_*_intermediate", FLOAT32, no quantization; they would carry the gate scales if the
    # LSTM had layer norm) and "effective_hidden_scale_intermediate" (INT8 with a scale and zero
    # point, which the kernel reads in Prepare). They carry quantization parameters, not
    # activations: nothing allocates them, and a "float tensor left in the model" check must skip
    # them (flatbuffer.ModelInfo.float_ops does). The LSTM's two state inputs are variable
    # tensors (int8 output state, int16 cell state) that TFLM keeps between invocations, so a
    # second invoke on the same input differs unless the interpreter is reset in between.
    out_bytes = _int8(keras.Model(x_in, y, name="int8_lstm"), (8, 4), 6, board_safe=board_safe)
    # The converter also leaves two buffers that no tensor refers to (the state tensors'
    # initial values; the variable tensors themselves use buffer 0) whose bytes differ from
    # build to build: zeroed so the file is deterministic.
    out.write_bytes(_zero_unreferenced_buffers(out_bytes))
    return out


def _zero_unreferenced_buffers(raw: bytes) -> bytes:
    """`raw` with the data of every buffer that no tensor or metadata entry uses set to zeros, in
    place (same layout and alignment)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    model = s.Model.GetRootAs(raw, 0)
    used = {model.Metadata(i).Buffer() for i in range(model.MetadataLength())}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        used |= {graph.Tensors(t).Buffer() for t in range(graph.TensorsLength())}
    data = bytearray(raw)
    for b in set(range(model.BuffersLength())) - used:
        tab = model.Buffers(b)._tab
        field = tab.Offset(4)  # Buffer.data
        if field:
            start = tab.Vector(field)
            data[start:start + tab.VectorLen(field)] = bytes(tab.VectorLen(field))
    return bytes(data)


def _quant(scale: float, zero_point: int = 0):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    q = s.QuantizationParametersT()
    q.scale, q.zeroPoint = [float(scale)], [int(zero_point)]
    return q


def _tensor(name: str, shape, dtype: int, buffer: int = 0, quantization=None, variable: bool = False):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    t = s.TensorT()
    t.name, t.shape, t.type, t.buffer = name, list(shape), dtype, buffer
    t.quantization, t.isVariable = quantization, variable
    return t


def _op(opcode_index: int, inputs, outputs, options_type: int = 0, options=None):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode_index, list(inputs), list(outputs)
    op.builtinOptionsType, op.builtinOptions = options_type, options
    return op


def _opcode(builtin: int, version: int = 1):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = builtin
    code.version = version
    return code


def svdf_int16(out: Path, int16_int32_io: bool = False) -> Path:
    """SVDF in the kernel's 16-bit variant (int8 input and feature weights, int16 time weights and
    int16 variable state, int32 bias, int8 output; rank 2); stateful. `int16_int32_io` puts
    QUANTIZE ops at the edges so the model's input is int16 and its output int32."""
    # TFLM's SVDF (svdf_common.cpp PrepareSvdf, the reference svdf.cc and CMSIS-NN's svdf.cpp,
    # both in the board's 2023 library and in the 2026 wheel) accepts an input of float32 or int8
    # only, and for an int8 input an int8 output only: "int16" in SVDF means the time weights and
    # the activation state (arm_svdf_state_s16_s8 on CMSIS-NN). An SVDF with an int16 input or an
    # int32 output fails in Prepare, so the model-level int16 input / int32 output is made with
    # QUANTIZE (int16 -> int8 and int8 -> int32 requantization, which both TFLM builds support).
    import numpy as np
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    from tinyml.quantize.flatbuffer import pack

    T = s.TensorType
    n_input, n_units, rank, memory = 8, 4, 2, 5
    n_filters = n_units * rank
    rng = np.random.default_rng(7)
    in_scale, wf_scale, state_scale, wt_scale, out_scale = 4 / 127, 0.5 / 127, 4 / 32767, 0.5 / 32767, 2 / 127
    weights_feature = rng.integers(-127, 128, size=(n_filters, n_input), dtype=np.int8)
    weights_time = rng.integers(-32767, 32768, size=(n_filters, memory), dtype=np.int16)
    bias = rng.integers(-2000, 2001, size=(n_units,), dtype=np.int32)

    def buffer(data=None):
        b = s.BufferT()
        b.data = None if data is None else np.frombuffer(data.tobytes(), dtype=np.uint8)
        return b

    buffers = [buffer(), buffer(weights_feature), buffer(weights_time), buffer(bias)]
    tensors = [
        _tensor("input", (1, n_input), T.INT8, 0, _quant(in_scale, 5)),
        _tensor("svdf/weights_feature", (n_filters, n_input), T.INT8, 1, _quant(wf_scale)),
        _tensor("svdf/weights_time", (n_filters, memory), T.INT16, 2, _quant(wt_scale)),
        _tensor("svdf/bias", (n_units,), T.INT32, 3, _quant(state_scale * wt_scale)),
        _tensor("svdf/activation_state", (1, memory * n_filters), T.INT16, 0, _quant(state_scale),
                variable=True),
        _tensor("output", (1, n_units), T.INT8, 0, _quant(out_scale, -3)),
    ]
    # The state's zero point is 0 (the int16 variant assumes it); the bias scale must equal
    # state scale x time-weights scale (PrepareSvdf checks it to 1e-5).
    options = s.SVDFOptionsT()
    options.rank, options.fusedActivationFunction = rank, s.ActivationFunctionType.NONE
    opcodes = [_opcode(s.BuiltinOperator.SVDF, 3)]
    ops = [_op(0, [0, 1, 2, 3, 4], [5], s.BuiltinOptions.SVDFOptions, options)]
    inputs, outputs = [0], [5]
    if int16_int32_io:
        tensors += [_tensor("input_int16", (1, n_input), T.INT16, 0, _quant(in_scale / 256)),
                    _tensor("output_int32", (1, n_units), T.INT32, 0, _quant(out_scale / 256, 0))]
        opcodes.append(_opcode(s.BuiltinOperator.QUANTIZE, 3))
        ops = [_op(1, [6], [0], s.BuiltinOptions.QuantizeOptions, s.QuantizeOptionsT()), *ops,
               _op(1, [5], [7], s.BuiltinOptions.QuantizeOptions, s.QuantizeOptionsT())]
        inputs, outputs = [6], [7]
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators, graph.name = (
        tensors, inputs, outputs, ops, "main")
    model = s.ModelT()
    model.version, model.description = 3, "tinyml test model: SVDF with int16 state"
    model.operatorCodes, model.subgraphs, model.buffers = opcodes, [graph], buffers
    out.write_bytes(pack(model))
    return out


def int16_activations(out: Path, per_channel_dense: bool = False) -> Path:
    """A 16x8 model (int16 activations and input/output, int8 weights, int64 conv bias):
    CONV_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX. Dense weights per tensor unless `per_channel_dense`
    (the converter's default, which the board's TFLM computes wrongly: quantize/board_compat.py)."""
    import warnings

    import numpy as np

    from tinyml import tf as tfload
    from tinyml.log import captured_fd2

    tf, keras = tfload.load()
    keras.utils.set_random_seed(8)
    L = keras.layers
    x_in = keras.Input(shape=(8, 8, 1), batch_size=1, name="input")
    x = L.Conv2D(4, 3, strides=2, activation="relu", name="conv")(x_in)
    x = L.Dense(3, activation="softmax", name="dense")(L.Flatten(name="flatten")(x))
    calibration = np.random.default_rng(8).normal(0, 1, size=(32, 1, 8, 8, 1)).astype("float32")
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(x_in, x, name="int16_activations"))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([c] for c in calibration)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int16
    converter._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel_dense
    with warnings.catch_warnings(), captured_fd2():
        warnings.simplefilter("ignore")
        out.write_bytes(converter.convert())
    return out


def float_conv(out: Path) -> Path:
    """A float32 model (no quantization): CONV_2D, MAX_POOL_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX."""
    from tinyml import tf as tfload

    tf, keras = tfload.load()
    keras.utils.set_random_seed(9)
    L = keras.layers
    x_in = keras.Input(shape=(10, 10, 2), batch_size=1, name="input")
    x = L.Conv2D(4, 3, activation="relu", name="conv")(x_in)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.Dense(3, activation="softmax", name="dense")(L.Flatten(name="flatten")(x))
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(x_in, x, name="float_conv"))
    out.write_bytes(converter.convert())
    return out


def multi_io(out: Path) -> Path:
    """Two inputs and two outputs of mixed dtypes, in flatbuffer order (not Keras's): inputs [0]
    "vector" float32 (1, 3) into QUANTIZE, [1] "image" int8 (1, 6, 6, 1); outputs [0] "value"
    float32 (1, 2) from DEQUANTIZE, [1] "probs" int8 (1, 5) from SOFTMAX."""
    from tinyml import tf as tfload
    import numpy as np

    from tinyml.quantize.flatbuffer import pack, unpack

    tf, keras = tfload.load()
    keras.utils.set_random_seed(10)
    L = keras.layers
    image = keras.Input(shape=(6, 6, 1), batch_size=1, name="image")
    vector = keras.Input(shape=(3,), batch_size=1, name="vector")
    a = L.Flatten(name="flatten")(L.Conv2D(2, 3, activation="relu", name="conv")(image))
    b = L.Dense(4, activation="relu", name="embed")(vector)
    joined = L.Concatenate(name="concat")([a, b])
    probs = L.Dense(5, activation="softmax", name="probs")(joined)
    value = L.Dense(2, name="value")(joined)
    model = keras.Model([image, vector], [probs, value], name="multi_io")
    # convert_int8 calibrates one input and sets every input and output to one type, so convert
    # with float io and calibration dicts keyed by input name, then make "image" and "probs" int8
    # by removing their QUANTIZE / DEQUANTIZE.
    rng = np.random.default_rng(10)
    calibration = [{"image": rng.normal(0, 1, (1, 6, 6, 1)).astype("float32"),
                    "vector": rng.normal(0, 1, (1, 3)).astype("float32")} for _ in range(32)]
    raw = _float_io_int8(tf, model, calibration)
    m = unpack(raw)
    _bypass_edge_op(m, "image", "QUANTIZE")
    _bypass_edge_op(m, "probs", "DEQUANTIZE")
    out.write_bytes(pack(m))
    return out


def _float_io_int8(tf, model, calibration) -> bytes:
    import warnings

    from tinyml.log import captured_fd2

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(calibration)  # dicts keyed by input name
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter._experimental_disable_per_channel_quantization_for_dense_layers = True  # as tinyml quantizes
    with warnings.catch_warnings(), captured_fd2():
        warnings.simplefilter("ignore")
        return converter.convert()


def _bypass_edge_op(model, io_name: str, op_name: str) -> None:
    """Remove the QUANTIZE after (or DEQUANTIZE before) the graph input (output) that the
    signature names `io_name`, so that the int8 tensor becomes the graph's input (output)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    graph = model.subgraphs[0]
    code = getattr(s.BuiltinOperator, op_name)
    is_input = op_name == "QUANTIZE"
    edge = list(graph.inputs if is_input else graph.outputs)
    signature = model.signatureDefs[0]
    old = next(t.tensorIndex for t in (signature.inputs if is_input else signature.outputs)
               if t.name.decode() == io_name)
    slot = edge.index(old)
    k, op = next((k, op) for k, op in enumerate(graph.operators)
                 if max(model.operatorCodes[op.opcodeIndex].builtinCode,
                        model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode) == code
                 and (op.inputs[0] if is_input else op.outputs[0]) == old)
    new = op.outputs[0] if is_input else op.inputs[0]
    del graph.operators[k]
    graph.tensors[new].name = graph.tensors[old].name
    edge[slot] = new
    if is_input:
        graph.inputs = edge
    else:
        graph.outputs = edge
    for sig in model.signatureDefs or []:
        for tm in (sig.inputs or []) + (sig.outputs or []):
            if tm.tensorIndex == old:
                tm.tensorIndex = new
    # Drop the now unused float tensor and renumber every reference past it.
    del graph.tensors[old]
    fix = lambda i: i - 1 if i > old else i  # noqa: E731
    graph.inputs = [fix(i) for i in graph.inputs]
    graph.outputs = [fix(i) for i in graph.outputs]
    for o in graph.operators:
        o.inputs = [fix(i) for i in o.inputs]  # -1 (optional input left out) stays -1
        o.outputs = [fix(i) for i in o.outputs]
        if o.intermediates is not None:
            o.intermediates = [fix(i) for i in o.intermediates]
    for sig in model.signatureDefs or []:
        for tm in (sig.inputs or []) + (sig.outputs or []):
            tm.tensorIndex = fix(tm.tensorIndex)


def op_board_lacks(out: Path) -> Path:
    """A full-int8 model with BATCH_MATMUL (two activations multiplied): the 2026 TFLM wheel runs
    it, the board's 2023 Arduino library has no BATCH_MATMUL kernel or resolver entry."""
    from tinyml import tf as tfload

    tf, keras = tfload.load()
    keras.utils.set_random_seed(11)
    L = keras.layers
    x_in = keras.Input(shape=(4, 3), batch_size=1, name="input")
    a = L.Dense(5, name="left")(x_in)
    b = L.Dense(5, name="right")(x_in)
    y = L.Lambda(lambda t: tf.matmul(t[0], t[1], transpose_b=True), name="matmul")([a, b])
    out.write_bytes(_int8(keras.Model(x_in, y, name="op_board_lacks"), (4, 3), 11))
    return out
