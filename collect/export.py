"""What `tinyml export --format edge-impulse DIR` writes (the command is in collect/cli.py): a dataset as
Edge Impulse data acquisition JSON.

One file per recording, `<label>.<name>.json` (Edge Impulse's uploader takes the label from the
part before the first dot), in `training/` (train and val recordings) and `testing/` (test), the
layout of an Edge Impulse export. Each file is unsigned (`alg: none`, an all-zero signature as
Edge Impulse's own clients use before signing); accelerations are written in m/s2 as Edge Impulse
devices send them (`accX`...), angular rates in dps (`gyrX`...). `tinyml collect --import` reads
the files back (docs/importing.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tinyml.artifacts import atomic_dir, prepare_out_dir, write_marker
from tinyml.collect.dataset import IMU_AXES, IMU_UNITS, Dataset, Recording
from tinyml.collect.importers import STANDARD_GRAVITY
from tinyml.errors import expected

FORMATS = ("edge-impulse",)
DEVICE_TYPE = "ARDUINO_NANO33BLE"
UNSIGNED = "0" * 64
# dataset axis -> (Edge Impulse sensor name, its units, factor from the dataset's units)
SENSORS = {"ax": ("accX", "m/s2", STANDARD_GRAVITY), "ay": ("accY", "m/s2", STANDARD_GRAVITY),
           "az": ("accZ", "m/s2", STANDARD_GRAVITY), "gx": ("gyrX", "dps", 1.0), "gy": ("gyrY", "dps", 1.0),
           "gz": ("gyrZ", "dps", 1.0)}
DATASET_UNITS = dict(zip(IMU_AXES, IMU_UNITS))
KIND = "edge-impulse-export"  # the marker's kind (tinyml/artifacts.py): only such a folder is replaced
FOLDERS = {"train": "training", "val": "training", "test": "testing"}


def export_edge_impulse(ds: Dataset, out: Path, reporter) -> list[Path]:
    """Write every recording of `ds` under `out` (replaced as a whole); return the files written."""
    if ds.sensor != "imu":
        raise expected("an IMU dataset to export for Edge Impulse", f"sensor '{ds.sensor}' in {ds.root}")
    units = ds.recordings[0].units
    if any(a not in SENSORS for a in ds.axes) or any(DATASET_UNITS[a] != u for a, u in zip(ds.axes, units)):
        raise expected("axes from ax,ay,az,gx,gy,gz in g and dps",
                       f"{','.join(ds.axes)} in {','.join(units)} in {ds.root}")
    prepare_out_dir(out, KIND)
    written = []
    with atomic_dir(out) as stage:
        write_marker(stage, KIND)
        for k, rec in enumerate(ds.recordings):
            rel = Path(FOLDERS[rec.split]) / f"{rec.label}.{Path(rec.file).stem}.json"
            (stage / rel.parent).mkdir(exist_ok=True)
            (stage / rel).write_text(json.dumps(acquisition_json(ds, rec), separators=(",", ":")) + "\n")
            written.append(out / rel)
            reporter.progress("exporting", k + 1, len(ds.recordings))
    return written


def acquisition_json(ds: Dataset, rec: Recording) -> dict:
    """One recording as Edge Impulse's data acquisition format (unsigned)."""
    t_us, signal = ds.read_with_timestamps(rec)  # checks the hash, the sample count and the timestamps
    signal = signal.astype(np.float64)
    path = ds.root / rec.file
    interval_ms = (float(t_us[-1] - t_us[0]) / (len(t_us) - 1) / 1000.0 if len(t_us) > 1
                   else 1000.0 / rec.sample_rate)
    sensors = [SENSORS[a] for a in rec.axes]
    factors = np.array([f for _, _, f in sensors])
    decimals = [6 if f != 1.0 else 5 for _, _, f in sensors]
    values = [[round(float(v), d) for v, d in zip(row, decimals)] for row in signal * factors]
    return {"protected": {"ver": "v1", "alg": "none", "iat": int(path.stat().st_mtime)},
            "signature": UNSIGNED,
            "payload": {"device_type": DEVICE_TYPE, "interval_ms": round(interval_ms, 6),
                        "sensors": [{"name": n, "units": u} for n, u, _ in sensors], "values": values}}

