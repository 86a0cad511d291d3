"""The gesture model: a small 1-D CNN written with Conv2D (k, 1) kernels.

About 6 k parameters and well under 1 M multiply-accumulates per inference,
so it fits the nRF52840 with room to spare. Global average pooling instead of
Flatten keeps the converted graph free of SHAPE/STRIDED_SLICE ops.
"""

from __future__ import annotations


def build_cnn(keras, window: int, channels: int, classes: int):
    layers = keras.layers
    inputs = keras.Input(shape=(window, 1, channels), name="imu")
    x = layers.Conv2D(16, (5, 1), padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D((2, 1))(x)
    x = layers.Conv2D(24, (5, 1), padding="same", activation="relu")(x)
    x = layers.MaxPooling2D((2, 1))(x)
    x = layers.Conv2D(32, (3, 1), padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(classes, activation="softmax", name="scores")(x)
    return keras.Model(inputs, outputs, name="gesture_cnn")


ARCHITECTURES = {"cnn": build_cnn}
