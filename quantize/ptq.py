"""Full-int8 quantization (post-training, or after quantization-aware training), checked by running the result in TFLM.

Inputs and outputs are int8 too, so the firmware never touches a float tensor.
The accuracy drop is measured on the held-out test split: the float model in
Keras against the int8 flatbuffer in the TFLM interpreter.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyml import tf as tfload
from tinyml.artifacts import sha256_file, write_bytes, write_json, write_provenance
from tinyml.collect.dataset import load
from tinyml.config import Config
from tinyml.errors import TinymlError, require_file
from tinyml.log import SILENT, Reporter, captured_fd2
from tinyml.quantize import flatbuffer
from tinyml.quantize.board_compat import board_safe_lstm
from tinyml.quantize.tflm import Runner, confusion_matrix
from tinyml.train.frontend import model_frontend
from tinyml.train.inputs import model_meta, project_windows
from tinyml.train.windows import Windows


@dataclass(frozen=True)
class QuantizeResult:
    tflite_path: Path
    float_accuracy: float
    int8_accuracy: float
    agreement: float  # fraction of test windows where float and int8 predict the same class
    test_windows: int
    confusion: list[list[int]]  # int8, rows = true label, columns = predicted
    labels: list[str]
    mode: str = "ptq"

    def to_json(self) -> dict:
        return {"model": str(self.tflite_path), "mode": self.mode, "float_accuracy": self.float_accuracy,
                "int8_accuracy": self.int8_accuracy, "accuracy_drop": self.float_accuracy - self.int8_accuracy,
                "float_int8_agreement": self.agreement, "test_windows": self.test_windows,
                "labels": self.labels, "confusion_int8": self.confusion}


def representative(windows: Windows, count: int, seed: int) -> np.ndarray:
    """A seeded, class-balanced-by-chance sample of training windows for calibration."""
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(windows))[:count]
    return windows.x[np.sort(pick)]


def convert_int8(model, calibration: np.ndarray, *, per_channel: bool = True, per_channel_dense: bool = False,
                 int8_io: bool = True, board_safe: bool = True) -> bytes:
    """Full-int8 conversion. `per_channel=False` quantizes convolution weights per tensor;
    `per_channel_dense` quantizes dense layers per channel too (off by default: per-tensor dense
    weights run on every TFLM build, including the older one inside the Arduino library);
    `int8_io=False` keeps float inputs and outputs (QUANTIZE/DEQUANTIZE at the edges).
    With `board_safe` (the default) an LSTM's cell state gets a scale of at least 2^-12, which the
    board's TFLM needs (quantize/board_compat.py)."""
    tf, _ = tfload.load()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter._experimental_disable_per_channel = not per_channel
    converter._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel_dense
    def samples():
        for x in calibration:
            yield [x[None, ...].astype(np.float32)]

    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with warnings.catch_warnings(), captured_fd2() as log:
        # The converter narrates to fd 2 and warns about input statistics it does not need.
        warnings.simplefilter("ignore")
        try:
            raw = converter.convert()
        except Exception as exc:
            raise TinymlError(f"TFLite conversion failed: {exc}") from exc
    return board_safe_lstm(raw)[0] if board_safe else raw


def quantization_aware(config: Config, model, train_w: Windows, val_w: Windows, reporter: Reporter = SILENT):
    """Fine-tune `model` with fake quantization in the graph (tensorflow-model-optimization, on tf_keras),
    so its weights settle where int8 rounds them; the converter then takes the learned ranges."""
    tf, keras = tfload.load()
    with warnings.catch_warnings(), captured_fd2():
        warnings.simplefilter("ignore")
        import tensorflow_model_optimization as tfmot

        tfload.set_seed(config["project.seed"])
        try:
            qmodel = tfmot.quantization.keras.quantize_model(model)
        except (ValueError, RuntimeError) as exc:
            raise TinymlError(f"Quantization-aware training cannot wrap this model: {exc}") from None
    epochs = config["quantize.qat_epochs"]
    qmodel.compile(optimizer=keras.optimizers.Adam(config["model.learning_rate"] / 10),
                   loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            reporter.progress("quantization-aware training", epoch + 1, epochs,
                              f"loss {logs.get('loss', 0):.3f} val_acc {logs.get('val_accuracy', 0):.3f}", every=True)

    qmodel.fit(train_w.x, train_w.y, validation_data=(val_w.x, val_w.y), epochs=epochs,
               batch_size=config["model.batch_size"], shuffle=True, verbose=0, callbacks=[EpochLog()])
    return qmodel


def quantize_model(config: Config, keras_path: Path, data_dir: Path, out_path: Path,
                   report_path: Path, reporter: Reporter = SILENT, mode: str | None = None) -> QuantizeResult:
    """Full int8 by `mode` (default: quantize.mode): ptq, or qat (fine-tune with fake quantization
    first). The float accuracy is always the trained model's, so the drop is what int8 costs."""
    mode = mode or config["quantize.mode"]
    keras_path = require_file(keras_path, "a trained .keras model", "Run `tinyml train` first.")
    dataset = load(data_dir)
    labels = list(config["project.labels"])
    frontend = model_frontend(keras_path, config)  # None for gestures
    train_w = project_windows(config, dataset, "train", frontend)
    test_w = project_windows(config, dataset, "test", frontend)

    tf, keras = tfload.load()
    model = keras.models.load_model(keras_path)
    float_pred = np.argmax(model.predict(test_w.x, verbose=0), axis=1)
    calibration = representative(train_w, config["quantize.representative_samples"], config["project.seed"])
    to_convert = model
    if mode == "qat":
        to_convert = quantization_aware(config, model, train_w, project_windows(config, dataset, "val", frontend),
                                        reporter)
    reporter.info(f"quantizing to int8 ({mode}) with {len(calibration)} calibration examples")
    tflite = convert_int8(to_convert, calibration)
    info = flatbuffer.parse(tflite, out_path)
    if info.float_ops or info.float_io:
        raise TinymlError("The converter left float tensors in the model; some op has no int8 kernel.")

    reporter.info(f"running {len(test_w)} test examples through the TFLM interpreter")
    int8_pred = np.argmax(Runner(tflite).run_float(test_w.x), axis=1)
    result = QuantizeResult(
        tflite_path=out_path,
        float_accuracy=float(np.mean(float_pred == test_w.y)),
        int8_accuracy=float(np.mean(int8_pred == test_w.y)),
        agreement=float(np.mean(float_pred == int8_pred)),
        test_windows=len(test_w),
        confusion=confusion_matrix(test_w.y, int8_pred, len(labels)),
        labels=labels,
        mode=mode,
    )
    write_bytes(out_path, tflite)
    write_json(report_path, result.to_json())
    extra = {"mode": mode, "calibration_windows": len(calibration), **model_meta(config, dataset, frontend)}
    write_provenance(out_path, seed=config["project.seed"],
                     inputs={"keras_model_sha256": sha256_file(keras_path)}, extra=extra)
    return result


def quantize_ptq(config: Config, keras_path: Path, data_dir: Path, out_path: Path,
                 report_path: Path, reporter: Reporter = SILENT) -> QuantizeResult:
    return quantize_model(config, keras_path, data_dir, out_path, report_path, reporter, mode="ptq")
