"""Project configuration: one declarative table of options.

Each option is resolved flag > environment variable > `tinyml.toml` > default.
The resolved `Config` is passed down explicitly; nothing reads the environment
at import time.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from tinyml.errors import BadInput, expected

CONFIG_FILE = "tinyml.toml"


@dataclass(frozen=True)
class Option:
    key: str  # "section.name" in tinyml.toml
    type: type
    default: Any
    help: str
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    tasks: tuple[str, ...] = ()  # the tasks it applies to (empty: every task)

    @property
    def env(self) -> str:
        return "TINYML_" + self.key.replace(".", "_").upper()

    @property
    def section(self) -> str:
        return self.key.split(".")[0]

    @property
    def name(self) -> str:
        return self.key.split(".")[1]


GESTURES = ("idle", "punch", "flex", "wave", "circle")
SILENCE, UNKNOWN = "silence", "unknown"  # keyword-spotting labels that are not keywords
NOT_KEYWORDS = (SILENCE, UNKNOWN)
KWS_LABELS = (*NOT_KEYWORDS, "yes", "no")
TASKS = ("gesture", "kws")
KWS = ("kws",)
GESTURE = ("gesture",)

OPTIONS: tuple[Option, ...] = (
    Option("project.task", str, "gesture", "what the model does: gesture (IMU) or kws (keyword spotting, audio)",
           choices=TASKS),
    Option("project.sensor", str, "imu", "which sensor feeds it", choices=("imu", "mic")),
    Option("project.labels", list, list(GESTURES), "class names, in model output order"),
    Option("project.sample_rate", int, 119, "sensor sample rate in Hz (the Nano 33 BLE Sense IMU runs at 119 Hz)", minimum=1),
    Option("project.board", str, "nano33ble", "target board", choices=("nano33ble",)),
    Option("project.seed", int, 1234, "seed for data generation, splits and training", minimum=0,
           maximum=2**32 - 1),
    Option("window.size", int, 119, "samples per model input window", minimum=2, tasks=GESTURE),
    Option("window.hop", int, 15, "samples between window starts when slicing recordings", minimum=1, tasks=GESTURE),
    Option("frontend.kind", str, "logmel", "audio features: logmel (librosa, and the same in C on the device) "
           "or tflm (TFLM's micro_speech preprocessor)", choices=("logmel", "tflm"), tasks=KWS),
    Option("frontend.window_ms", float, 30.0, "analysis window in milliseconds", minimum=1.0, tasks=KWS),
    Option("frontend.hop_ms", float, 20.0, "milliseconds between feature frames", minimum=1.0, tasks=KWS),
    Option("frontend.fft_size", int, 512, "FFT length (a power of two, at least the window)", minimum=16, tasks=KWS),
    Option("frontend.mel_bands", int, 40, "mel bands per frame", minimum=1, tasks=KWS),
    Option("frontend.fmin", float, 20.0, "lowest mel filter edge in Hz", minimum=0.0, tasks=KWS),
    Option("frontend.fmax", float, 7600.0, "highest mel filter edge in Hz", minimum=1.0, tasks=KWS),
    Option("frontend.log_floor", float, 1e-6, "mel power floor before the log (audio scaled to [-1, 1))",
           minimum=0.0, tasks=KWS),
    Option("frontend.clip_ms", int, 1000, "audio the model sees per inference, in milliseconds", minimum=1, tasks=KWS),
    Option("frontend.normalize", str, "mean", "mean: each mel band's mean over the model's window is taken away "
           "(features that do not change with the speaker's level or the microphone's response); none: raw "
           "log-mel", choices=("mean", "none"), tasks=KWS),
    Option("kws.infer_every", int, 25, "feature frames (hops) between inferences on the device (25 x 20 ms: "
           "every 0.5 s; `tinyml emulate --wav` reports the share of a 64 MHz core the model needs)",
           minimum=1, tasks=KWS),
    Option("kws.average", int, 2, "inferences whose scores are averaged before deciding", minimum=1, maximum=16,
           tasks=KWS),
    Option("kws.threshold", int, 160, "smoothed score (0-255) a keyword needs to be detected", minimum=0,
           maximum=255, tasks=KWS),
    Option("kws.suppression_ms", int, 1000, "milliseconds after a detection during which no other is reported",
           minimum=0, maximum=2**32 - 1, tasks=KWS),
    Option("model.architecture", str, "cnn", "model family: cnn (gesture); dscnn or dscnn_small (kws)",
           choices=("cnn", "dscnn", "dscnn_small")),
    Option("model.conv_layers", int, 3, "convolutions in the gesture cnn (each but the last followed by 2x max "
           "pooling over time)", minimum=1, maximum=8, tasks=GESTURE),
    Option("model.filters", int, 16, "filters of the cnn's first convolution", minimum=1, maximum=256, tasks=GESTURE),
    Option("model.filters_step", int, 8, "filters each later convolution adds", minimum=0, maximum=256, tasks=GESTURE),
    Option("model.kernel", int, 5, "kernel length (samples) of every convolution but the last", minimum=1,
           maximum=64, tasks=GESTURE),
    Option("model.last_kernel", int, 3, "kernel length (samples) of the last convolution", minimum=1, maximum=64,
           tasks=GESTURE),
    Option("model.dense_units", int, 32, "units of the hidden dense layer before the scores (0: none)", minimum=0,
           maximum=1024, tasks=GESTURE),
    Option("model.epochs", int, 40, "training epochs", minimum=1),
    Option("model.batch_size", int, 32, "training batch size", minimum=1),
    Option("model.learning_rate", float, 0.003, "Adam learning rate", minimum=0.0),
    Option("model.augment", str, "auto", "training-time augmentation. auto: kws warps each clip's mel axis, "
           "gestures turn each window by a random grip; none: off", choices=("auto", "none")),
    Option("quantize.mode", str, "ptq", "ptq: full-int8 post-training; qat: quantization-aware fine-tuning "
           "(tensorflow-model-optimization), then full int8", choices=("ptq", "qat")),
    Option("quantize.representative_samples", int, 200, "examples used to calibrate int8 ranges", minimum=1),
    Option("quantize.qat_epochs", int, 5, "fine-tuning epochs for quantization-aware training", minimum=1),
    Option("codegen.arena_margin_percent", int, 2, "arena head-room over the arena the board's TFLM needs (measured "
           "on the emulated Cortex-M4), in percent", minimum=0),
    Option("codegen.arena_margin_min_bytes", int, 64, "the smallest head-room, in bytes", minimum=0),
)

# Defaults that depend on project.task (an explicit value always wins).
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "kws": {"project.sensor": "mic", "project.labels": list(KWS_LABELS), "project.sample_rate": 16000,
            "model.architecture": "dscnn_small", "model.epochs": 30, "model.batch_size": 64,
            "model.learning_rate": 0.002},
}
# What each task accepts where an option's choices are shared between tasks.
TASK_CHOICES: dict[str, dict[str, tuple]] = {
    "gesture": {"project.sensor": ("imu",), "model.architecture": ("cnn",)},
    "kws": {"project.sensor": ("mic",), "model.architecture": ("dscnn", "dscnn_small")},
}


def applies(opt: Option, task: str) -> bool:
    return not opt.tasks or task in opt.tasks


_BY_KEY = {o.key: o for o in OPTIONS}


def option(key: str) -> Option:
    return _BY_KEY[key]


def default(key: str, task: str = "gesture") -> Any:
    """The default of `key` for a project of `task`, before any file, variable or flag: the one source
    that code outside a project (FrontendParams, StreamParams) takes its defaults from."""
    return TASK_DEFAULTS.get(task, {}).get(key, option(key).default)


@dataclass(frozen=True)
class Config:
    values: Mapping[str, Any]
    sources: Mapping[str, str]  # key -> "flag" | "env" | path of tinyml.toml | "default"
    root: Path  # the project folder

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def replace(self, **overrides: Any) -> "Config":
        """Return a copy with `section__name=value` overrides, validated."""
        values = dict(self.values)
        sources = dict(self.sources)
        for name, value in overrides.items():
            key = name.replace("__", ".")
            values[key] = _coerce(_BY_KEY[key], value, "override")
            sources[key] = "override"
        return Config(values, sources, self.root)


def _coerce(opt: Option, value: Any, source: str) -> Any:
    where = f" (from {source})"
    if opt.type is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise expected(f"{opt.key} to be a non-empty list of names", f"{value!r}{where}")
        if len(set(value)) != len(value):
            raise expected(f"{opt.key} to hold distinct names", f"{value!r}{where}")
        return list(value)
    try:
        if opt.type is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        if isinstance(value, bool):
            raise ValueError
        coerced = opt.type(value)
    except (TypeError, ValueError):
        raise expected(f"{opt.key} to be {opt.type.__name__}", f"{value!r}{where}") from None
    if opt.choices and coerced not in opt.choices:
        raise expected(f"{opt.key} to be one of {{{', '.join(opt.choices)}}}", f"{coerced!r}{where}")
    if opt.minimum is not None and coerced < opt.minimum:
        raise expected(f"{opt.key} to be at least {opt.minimum}", f"{coerced!r}{where}")
    if opt.maximum is not None and coerced > opt.maximum:
        raise expected(f"{opt.key} to be at most {opt.maximum}", f"{coerced!r}{where}")
    return coerced


def read_toml(path: Path) -> dict[str, Any]:
    """Flatten tinyml.toml into {"section.name": value}, rejecting unknown keys."""
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"Expected valid TOML in {path}. Received: {exc}. Fix the file or recreate it with `tinyml init`.") from None
    flat = {}
    for section, table in doc.items():
        if not isinstance(table, dict):
            raise expected(f"[section] tables in {path}", f"top-level key '{section}'")
        for name, value in table.items():
            key = f"{section}.{name}"
            if key not in _BY_KEY:
                known = ", ".join(sorted(_BY_KEY))
                raise expected(f"a known option in {path} ({known})", f"'{key}'", "Remove or rename it.")
            flat[key] = value
    return flat


def load(root: str | Path = ".", flags: Mapping[str, Any] | None = None,
         environ: Mapping[str, str] | None = None, require_file: bool = False,
         read_file: bool = True) -> Config:
    """Resolve every option for the project in `root`.

    `flags` holds command-line values by option key (None means "not given").
    With `read_file=False` the project's tinyml.toml is ignored (for `tinyml init`).
    """
    root = Path(root)
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    environ = os.environ if environ is None else environ
    path = root / CONFIG_FILE
    if read_file and path.is_file():
        from_file = read_toml(path)
    elif require_file:
        raise expected(f"a project folder with {CONFIG_FILE}", f"'{root}'", "Run `tinyml init` there first.")
    else:
        from_file = {}
    values, sources = {}, {}
    for opt in OPTIONS:  # project.task comes first: the defaults of the rest depend on it
        task_defaults = TASK_DEFAULTS.get(values.get("project.task"), {})
        if opt.key in flags:
            raw, src = flags[opt.key], "flag"
        elif opt.env in environ:
            raw, src = environ[opt.env], f"env {opt.env}"
        elif opt.key in from_file:
            raw, src = from_file[opt.key], str(path)
        else:
            raw, src = task_defaults.get(opt.key, opt.default), "default"
        values[opt.key] = _coerce(opt, raw, src)
        sources[opt.key] = src
    _check_task(values, sources)
    return Config(values, sources, root)


def _check_task(values: dict[str, Any], sources: dict[str, str]) -> None:
    task = values["project.task"]
    for key, allowed in TASK_CHOICES.get(task, {}).items():
        if values[key] not in allowed:
            raise expected(f"{key} in {{{', '.join(allowed)}}} for project.task = \"{task}\"",
                           f"{values[key]!r} (from {sources[key]})",
                           f"Change {key} or project.task.")


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def render_toml(values: Mapping[str, Any]) -> str:
    """Write every option, grouped by section, each with its help as a comment."""
    lines = ["# tinyml project configuration. Every option can be overridden by a flag or",
             "# by the environment variable TINYML_<SECTION>_<NAME>."]
    section = None
    for opt in OPTIONS:
        if not applies(opt, values["project.task"]):
            continue
        if opt.section != section:
            section = opt.section
            lines += ["", f"[{section}]"]
        choices = f" ({' | '.join(opt.choices)})" if opt.choices else ""
        lines.append(f"# {opt.help}{choices}")
        lines.append(f"{opt.name} = {_toml_value(values[opt.key])}")
    return "\n".join(lines) + "\n"
