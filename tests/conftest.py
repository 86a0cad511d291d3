"""Shared fixtures.

Tests that need a tool (the ARM cross compiler, the shared reference models)
run when it is present and are skipped with the reason otherwise; CI sets
TINYML_REQUIRE_TOOLS=1 so a missing tool fails there instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO.parent / "shared" / "reference"
REQUIRE_TOOLS = os.environ.get("TINYML_REQUIRE_TOOLS") == "1"
# Fixtures that train or convert a model. A test using one, directly or through another fixture, is
# marked slow here, so `-m "not slow"` skips everything that trains, as the README says.
TRAINING_FIXTURES = frozenset({"demo_project", "kws_project", "trained", "kws_model", "kws_demo"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if TRAINING_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


def need(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a prerequisite is missing."""
    if condition:
        return
    if REQUIRE_TOOLS:
        pytest.fail(f"TINYML_REQUIRE_TOOLS=1 but {reason}")
    pytest.skip(reason)


def tool(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed (run `make setup`)")
    return path


@pytest.fixture(scope="session")
def reference() -> Path:
    need(REFERENCE.is_dir(), f"the shared reference folder {REFERENCE} is absent")
    return REFERENCE


@pytest.fixture(scope="session")
def micro(reference) -> Path:
    """TFLM's micro_speech reference: its pretrained model, audio preprocessor and four real recordings."""
    folder = reference / "micro_speech"
    names = ["micro_speech_quantized.tflite", "audio_preprocessor_int8.tflite"] + \
        [f"{c}_1000ms.wav" for c in ("yes", "no", "noise", "silence")]
    need(all((folder / n).is_file() for n in names), f"the micro_speech reference files are missing in {folder}")
    return folder


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory) -> Path:
    """One small demo run shared by the tests that need trained artifacts."""
    from tinyml.cli import main

    root = tmp_path_factory.mktemp("demo") / "project"
    assert main(["--quiet", "demo", "--small", "--dir", str(root)]) == 0
    return root


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one error line, got: {stderr!r}"
    return lines[0]
