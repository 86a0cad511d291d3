"""Training: dataset -> windows -> a seeded Keras model saved as `.keras`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyml import tf as tfload
from tinyml.artifacts import atomic_path, sha256_file, write_json, write_provenance
from tinyml.collect.dataset import IMU_AXES, IMU_RANGE, MANIFEST, load
from tinyml.config import Config
from tinyml.log import SILENT, Reporter
from tinyml.train import augment
from tinyml.train.frontend import FrontendParams
from tinyml.train.inputs import model_meta, project_windows
from tinyml.train.model import build
from tinyml.train.windows import scales_for


@dataclass(frozen=True)
class TrainResult:
    model_path: Path
    history_path: Path
    val_accuracy: float
    epochs_run: int


def _epoch_logger(keras, reporter: Reporter, epochs: int):
    class EpochLog(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            reporter.progress("training", epoch + 1, epochs,
                              f"loss {logs.get('loss', 0):.3f} acc {logs.get('accuracy', 0):.3f} "
                              f"val_acc {logs.get('val_accuracy', 0):.3f}", every=True)

    return EpochLog()


def train(config: Config, data_dir: Path, model_path: Path, history_path: Path,
          reporter: Reporter = SILENT, extra_callbacks: tuple = ()) -> TrainResult:
    """`extra_callbacks`: more Keras callbacks for fit (`tinyml tune` reports each epoch to Ray Tune with one)."""
    dataset = load(data_dir)
    labels = list(config["project.labels"])
    kws = config["project.task"] == "kws"
    train_w = project_windows(config, dataset, "train")
    val_w = project_windows(config, dataset, "val")
    if kws:
        params = FrontendParams.from_config(config)
        reporter.info(f"train: {len(train_w)} clips, val: {len(val_w)} clips of {params.clip_ms} ms -> "
                      f"{params.frames} x {params.mel_bands} log-mel, {len(labels)} classes")
    else:
        size = config["window.size"]
        reporter.info(f"train: {len(train_w)} windows, val: {len(val_w)} windows of {size} samples "
                      f"({size / dataset.sample_rate:.2f} s) x {train_w.x.shape[-1]} axes, {len(labels)} classes")

    tf, keras = tfload.load()
    keras.backend.clear_session()  # fresh layer names, so a rerun gives the same graph
    tfload.set_seed(config["project.seed"])
    model = build(keras, config, train_w.x.shape[1:], len(labels))
    model.compile(optimizer=keras.optimizers.Adam(config["model.learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    epochs = config["model.epochs"]
    callbacks = [_epoch_logger(keras, reporter, epochs),
                 keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True),
                 *extra_callbacks]
    augmentation = _augmentation(config, dataset)
    if augmentation is not None:  # every example augmented afresh in every epoch (train/augment.py)
        from tinyml.train.augment import augmented_batches

        batches = augmented_batches(keras, train_w.x, train_w.y, config["model.batch_size"], config["project.seed"],
                                    augmentation)
        history = model.fit(batches, validation_data=(val_w.x, val_w.y), epochs=epochs, verbose=0,
                            callbacks=callbacks)
    else:
        history = model.fit(train_w.x, train_w.y, validation_data=(val_w.x, val_w.y), epochs=epochs,
                            batch_size=config["model.batch_size"], shuffle=True, verbose=0, callbacks=callbacks)
    curves = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    epochs_run = len(curves["loss"])
    _, val_acc = model.evaluate(val_w.x, val_w.y, verbose=0)

    with atomic_path(model_path.with_suffix(".keras")) as tmp:
        keras_tmp = tmp.with_suffix(".keras")  # Keras insists on the extension
        model.save(keras_tmp)
        keras_tmp.replace(tmp)
    history = {"labels": labels, "epochs_run": epochs_run, "val_accuracy": float(val_acc), "curves": curves,
               "axes": list(dataset.axes), "units": list(dataset.recordings[0].units)}
    if kws:
        history["frontend"] = params.to_json()
    else:
        history["window"] = {"size": config["window.size"], "hop": config["window.hop"],
                             "sample_rate": dataset.sample_rate}
    write_json(history_path, history)
    write_provenance(model_path, seed=config["project.seed"],
                     inputs={"dataset_manifest_sha256": _manifest_hash(data_dir)},
                     extra={"config": dict(config.values), **model_meta(config, dataset, params if kws else None)})
    return TrainResult(model_path, history_path, float(val_acc), epochs_run)


def _augmentation(config: Config, dataset):
    """kws: a frequency warp of each clip; gestures with the six IMU axes: a random grip of each window
    (model.augment = "none" turns either off)."""
    if config["model.augment"] == "none":
        return None

    if config["project.task"] == "kws":
        return augment.warp_mel
    if tuple(dataset.axes) != IMU_AXES:
        return None  # a rotation needs the accelerometer and the gyroscope as whole vectors
    units = dataset.recordings[0].units
    limits = np.array([IMU_RANGE[u] for u in units], np.float32) / scales_for(units)  # in model-input units
    return lambda x, rng: augment.rotate_imu(x, rng, limits)


def _manifest_hash(data_dir: Path) -> str:
    return sha256_file(Path(data_dir) / MANIFEST)


def read_history(path: Path) -> dict:
    return json.loads(Path(path).read_text())
