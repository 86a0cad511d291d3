"""Where each stage's artifact lives inside a project folder.

Every hand-over between stages is a file a user can open:
data/ (dataset + manifest.json) -> build/model.keras -> build/model_int8.tflite
-> build/firmware/ (PlatformIO project) -> build/report.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
