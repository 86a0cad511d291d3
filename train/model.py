"""Model families, by `model.architecture`.

* cnn (gesture): a small 1-D CNN written with Conv2D (k, 1) kernels (tensorflow-model-optimization's
  quantization-aware training does not support Conv1D). By default (three convolutions of 16, 24 and
  32 filters; the model.* shape options change it, and `tinyml tune` searches them) about 6 k
  parameters and well under 1 M multiply-accumulates. The average over time is an AveragePooling2D
  over the whole window and a Reshape with a fixed size: AVERAGE_POOL_2D computes the same bytes on the board's older TFLM as on
  the host, where GlobalAveragePooling2D's MEAN does not (it rounds in float there:
  quantize/board_compat.py); Flatten of the 1x1 map converts to a single RESHAPE.
* dscnn (kws): a depthwise-separable CNN in the style of MLPerf Tiny's keyword-spotting reference:
  a 10x4 convolution with stride 2, four blocks of 3x3 depthwise + 1x1 pointwise convolutions
  (64 channels, batch norm, ReLU), average pooling over the whole map, one dense layer.
* dscnn_small (kws): the same shape with 32 channels and three blocks, about a quarter of the
  multiply-accumulates. (24 channels and two blocks measured 0.72 on the built-in test voices
  against 0.96 for this one.)

Batch norm sits between each convolution and its ReLU, so the converter folds it into the
convolution and quantization-aware training sees the pattern it knows.
"""

from __future__ import annotations

from tinyml import config
from tinyml.errors import expected


# The gesture cnn's shape options (tinyml.toml [model]); their defaults are the option table's.
CNN_OPTIONS = ("conv_layers", "filters", "filters_step", "kernel", "last_kernel", "dense_units")


def build_cnn(keras, input_shape: tuple[int, ...], classes: int, **shape: int):
    """`conv_layers` convolutions over time, the i-th with `filters + i * filters_step` filters and a
    `kernel`-long kernel (the last: `last_kernel`), each but the last followed by 2x max pooling; then
    the average over time, a hidden dense layer of `dense_units` (none for 0) and the class scores.
    A shape option not given takes the option table's default (tinyml/config.py): 16, 24, 32 filters
    with kernels 5, 5, 3 and 32 hidden units, the model tinyml has always built."""
    unknown = sorted(set(shape) - set(CNN_OPTIONS))
    if unknown:
        raise TypeError(f"build_cnn() got unknown shape options {unknown}")
    shape = {name: shape.get(name, config.option(f"model.{name}").default) for name in CNN_OPTIONS}
    conv_layers, filters, filters_step = shape["conv_layers"], shape["filters"], shape["filters_step"]
    kernel, last_kernel, dense_units = shape["kernel"], shape["last_kernel"], shape["dense_units"]
    if input_shape[0] < 2 ** (conv_layers - 1):
        raise expected(f"window.size of at least {2 ** (conv_layers - 1)} samples for model.conv_layers = "
                       f"{conv_layers} (each but the last convolution halves the window)",
                       f"{input_shape[0]}", "Raise window.size or lower model.conv_layers.")
    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="imu")
    x = inputs
    for i in range(conv_layers):
        last = i == conv_layers - 1
        x = layers.Conv2D(filters + i * filters_step, (last_kernel if last else kernel, 1), padding="same",
                          activation="relu")(x)
        if not last:
            x = layers.MaxPooling2D((2, 1))(x)
    x = layers.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])))(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)  # training only: the converter drops it, the deployed model is unchanged
    if dense_units:
        x = layers.Dense(dense_units, activation="relu")(x)
    outputs = layers.Dense(classes, activation="softmax", name="scores")(x)
    return keras.Model(inputs, outputs, name="gesture_cnn")


# Keras' default 0.99 left the moving statistics far from the batch statistics after the few hundred
# steps a KWS run takes: validation sat at chance (0.25) while training accuracy was 0.75.
BN_MOMENTUM = 0.9


def _ds_cnn(keras, input_shape, classes: int, channels: int, blocks: int, name: str):
    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="logmel")
    # "valid": zero padding would put a frame of log(0-ish) = loud silence at the edges of log-mel input.
    x = layers.Conv2D(channels, (10, 4), strides=(2, 2), padding="valid", use_bias=False)(inputs)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(0.2)(x)
    for _ in range(blocks):
        x = layers.DepthwiseConv2D((3, 3), padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(channels, (1, 1), use_bias=False)(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.ReLU()(x)
    x = layers.Dropout(0.4)(x)
    x = layers.AveragePooling2D(pool_size=tuple(int(d) for d in x.shape[1:3]))(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(classes, activation="softmax", name="scores")(x)
    return keras.Model(inputs, outputs, name=name)


def build_dscnn(keras, input_shape, classes: int):
    return _ds_cnn(keras, input_shape, classes, channels=64, blocks=4, name="ds_cnn")


def build_dscnn_small(keras, input_shape, classes: int):
    return _ds_cnn(keras, input_shape, classes, channels=32, blocks=3, name="ds_cnn_small")


ARCHITECTURES = {"cnn": build_cnn, "dscnn": build_dscnn, "dscnn_small": build_dscnn_small}


def build(keras, cfg, input_shape, classes: int):
    """The model `cfg` describes: model.architecture, and for the gesture cnn its shape options."""
    architecture = cfg["model.architecture"]
    options = {name: cfg[f"model.{name}"] for name in CNN_OPTIONS} if architecture == "cnn" else {}
    return ARCHITECTURES[architecture](keras, input_shape, classes, **options)
