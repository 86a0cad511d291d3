"""One `tinyml tune` trial, as a Ray worker runs it: train, int8 PTQ, accuracy in the TFLM interpreter
on the validation split, AOT codegen and emulation on QEMU's Cortex-M4 for the exact instructions per
inference, flash and RAM.

Ray workers are separate processes (on a cluster, other machines): a trial takes plain data, the
`job` the driver wrote (every resolved option as a dict, absolute paths as strings, the budget) and
its parameters, and reports plain numbers. Its files go to <project>/build/tune/<key>/: model.keras,
history.json, model_int8.tflite, quantize.json and the emulator project, the same artifacts the
pipeline's own stages write.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from tinyml import config
from tinyml import tf as tfload
from tinyml.artifacts import write_bytes
from tinyml.collect.dataset import load
from tinyml.evaluate.accuracy import evaluate_tflite
from tinyml.evaluate.emulate import emulate
from tinyml.quantize.ptq import convert_int8, quantize_ptq, representative
from tinyml.train.inputs import project_windows
from tinyml.train.model import build
from tinyml.train.train import train
from tinyml.tune import space as tune_space
from tinyml.tune.space import UNPRICED_PENALTY, Budget, score, trial_key

RECORD = "trial.json"
FINISHED = ("priced", "stopped")  # what a resumed run skips; a failed trial runs again
EMULATED_INPUTS = 4  # inputs run on QEMU; the largest count is the trial's instructions per inference


def trial_config(job: dict, params: dict) -> config.Config:
    return tune_space.trial_config(job["project"], job["values"], params)


def trial_dir(job: dict, cfg: config.Config, prefix: str = "") -> Path:
    return Path(job["tune_dir"]) / (prefix + trial_key(cfg.values, job["dataset_sha256"]))


def read_record(folder: Path) -> dict | None:
    try:
        return json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return None


def final_result(record: dict, job: dict) -> dict:
    """What a trial reports last: the search's score, and the whole record for the driver to keep."""
    return {"val_accuracy": record.get("float_val_accuracy") or 0.0, "score": score(record, Budget(**job["budget"])),
            "record": json.dumps(record)}


def run_trial(params: dict, job: dict) -> None:
    """The Ray Tune trainable. A trial an earlier run finished is reported again, not retrained."""
    from ray import tune

    cfg = trial_config(job, params)
    earlier = read_record(trial_dir(job, cfg))
    if earlier and earlier.get("status") in FINISHED:
        tune.report(final_result({**earlier, "reused": True}, job))
        return
    tune.report(final_result(train_and_price(params, job, tune.report), job))


def _limit_threads(threads: int):
    """One TensorFlow thread pool of `threads` per trial, so trials on every core do not oversubscribe it."""
    tf, keras = tfload.load()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # this worker process already ran TensorFlow for an earlier trial
        pass
    return tf, keras


def keras_macs(model) -> int:
    """Multiply-accumulates of one inference, counted as quantize/flatbuffer.py counts them in the
    converted model (convolutions, depthwise convolutions, dense layers)."""
    total = 0
    for layer in model.layers:
        kind, out = type(layer).__name__, layer.output.shape
        if kind in ("Conv2D", "DepthwiseConv2D"):
            per_output = layer.kernel_size[0] * layer.kernel_size[1] * (layer.input.shape[-1] if kind == "Conv2D" else 1)
            total += out[1] * out[2] * out[3] * per_output
        elif kind == "Dense":
            total += layer.units * layer.input.shape[-1]
    return int(total)


def _epoch_reports(keras, report: Callable[[dict], None]):
    """A Keras callback that reports each epoch's validation accuracy (ASHA's metric), the model's MACs
    (so ASHA can tell a cheap model from a poor one) and the score so far."""

    class ReportEpoch(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.macs = keras_macs(self.model)

        def on_epoch_end(self, epoch, logs=None):
            acc = float((logs or {}).get("val_accuracy", 0.0))
            report({"epoch": epoch + 1, "val_accuracy": acc, "macs": self.macs, "score": acc - UNPRICED_PENALTY})

    return ReportEpoch()


def train_and_price(params: dict, job: dict, report: Callable[[dict], None]) -> dict:
    clock = time.perf_counter()
    cfg = trial_config(job, params)
    out = trial_dir(job, cfg)
    data = Path(job["data"])
    _, keras = _limit_threads(job["threads"])
    trained = train(cfg, data, out / "model.keras", out / "history.json",
                    extra_callbacks=(_epoch_reports(keras, report),))
    quant = quantize_ptq(cfg, out / "model.keras", data, out / "model_int8.tflite", out / "quantize.json")
    return {
        "key": out.name, "status": "priced", "parameters": params,
        "accuracy": evaluate_tflite(cfg, quant.tflite_path, data, "val")["accuracy"],  # int8, in TFLM
        "float_val_accuracy": trained.val_accuracy, "test_accuracy_int8": quant.int8_accuracy,
        "epochs_run": trained.epochs_run,
        **price(quant.tflite_path, out / "emulator", cfg["project.seed"], job),
        "seconds": round(time.perf_counter() - clock, 1),
    }


def price(tflite: Path, work: Path, seed: int, job: dict) -> dict[str, Any]:
    """The model compiled to C by the AOT backend, run on QEMU: exact instructions, flash and RAM."""
    e = emulate(tflite, work, inputs=EMULATED_INPUTS, seed=seed)
    if not e["outputs_match_host"]:
        from tinyml.errors import TinymlError

        raise TinymlError(f"The emulated model's outputs differ from TFLM's on inputs {e['mismatched_inputs']}")
    return {
        "instructions_per_inference": e["instructions_per_inference"], "ms_at_64mhz": e["latency_ms_at_64mhz"],
        "flash_bytes": e["flash_bytes"], "ram_bytes": e["ram_bytes"] + e["stack_bytes"],
        "ram_static_bytes": e["ram_bytes"], "stack_bytes": e["stack_bytes"], "arena_bytes": e["arena_bytes"],
        "macs": e["macs"], "instruction_counter": e["instruction_counter"],
        "model": str(Path(tflite).relative_to(job["project"])),
    }


def price_floor(params: dict, job: dict) -> dict:
    """The cheapest model of the space, untrained (its weights change no instruction count, no size),
    priced as a trial is: the least any trial can cost."""
    cfg = trial_config(job, params)
    out = trial_dir(job, cfg, prefix=tune_space.FLOOR_PREFIX)
    _, keras = _limit_threads(job["threads"])
    train_w = project_windows(cfg, load(Path(job["data"])), "train")
    keras.backend.clear_session()
    tfload.set_seed(cfg["project.seed"])
    model = build(keras, cfg, train_w.x.shape[1:], len(cfg["project.labels"]))
    calibration = representative(train_w, cfg["quantize.representative_samples"], cfg["project.seed"])
    write_bytes(out / "model_int8.tflite", convert_int8(model, calibration))
    return {"key": out.name, "status": "priced", "parameters": params, "untrained": True,
            **price(out / "model_int8.tflite", out / "emulator", cfg["project.seed"], job)}
