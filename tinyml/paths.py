"""Where each stage's artifact lives inside a project folder.

Every hand-over between stages is a file a user can open:
data/ (dataset + manifest.json) -> build/model.keras -> build/model_int8.tflite
-> build/firmware/ (PlatformIO project) -> build/report.json.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

# The firmware stage's folder (C sources, templates, platform files), found without importing it: in a
# checkout it is ./firmware, in an installed package tinyml/firmware.
FIRMWARE_DIR = Path(importlib.util.find_spec("tinyml.firmware").submodule_search_locations[0]).resolve()
TEMPLATES = FIRMWARE_DIR / "templates"  # templates/<folder>/ mirrors a generated tree; x.j2 renders to x
AOT_SOURCES = FIRMWARE_DIR / "aot"  # the AOT backend's kernels, copied as they are
# runtime/: the protocol (version, event writer) and the model firmware's core, copied as they are
RUNTIME_SOURCES = ("tinyml_protocol.h", "tinyml_protocol.c", "tinyml_runtime.h", "tinyml_runtime.c")


@dataclass(frozen=True)
class ProjectPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "tinyml.toml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def keras_model(self) -> Path:
        return self.build / "model.keras"

    @property
    def history(self) -> Path:
        return self.build / "history.json"

    @property
    def int8_model(self) -> Path:
        return self.build / "model_int8.tflite"

    @property
    def quantize_report(self) -> Path:
        return self.build / "quantize.json"

    @property
    def inspect_report(self) -> Path:
        return self.build / "inspect.json"

    @property
    def firmware(self) -> Path:
        return self.build / "firmware"

    @property
    def aot(self) -> Path:
        return self.build / "aot"

    @property
    def report(self) -> Path:
        return self.build / "report.json"


def sidecar(artifact: Path) -> Path:
    """The provenance manifest written next to an artifact."""
    return artifact.with_name(artifact.name + ".meta.json")


def checkout_reference(name: str) -> Path:
    """`../shared/reference/<name>` beside a source checkout of tinyml, where developers and CI keep
    third-party material (read in place); it does not exist beside an installed package."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "reference" / name
