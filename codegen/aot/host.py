"""Compile generated AOT code for the host and run it: the parity check against TFLM."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from tinyml.errors import TinymlError
from tinyml.paths import AOT_SOURCES

HOST_FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off"]


def compile_host(generated: Path, exe: Path, cc: str = "gcc") -> Path:
    if shutil.which(cc) is None:
        raise TinymlError(f"Expected a C compiler ({cc}) to build the host runner; install gcc.")
    sources = [generated / "tinyml_model.c", generated / "tinyml_kernels.c", AOT_SOURCES / "host_runner.c"]
    proc = subprocess.run([cc, *HOST_FLAGS, "-I", str(generated), *map(str, sources), "-o", str(exe), "-lm"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinymlError(f"Compiling the generated C failed: {proc.stderr.strip()[:2000]}")
    return exe


def run_host(exe: Path, inputs: np.ndarray, output_bytes: int) -> np.ndarray:
    """Feed each row of `inputs` (one inference's input bytes) and return [n, output_bytes] uint8."""
    data = np.ascontiguousarray(inputs).tobytes()
    proc = subprocess.run([str(exe)], input=data, capture_output=True, timeout=600)
    if proc.returncode != 0:
        raise TinymlError(f"The host runner failed with exit code {proc.returncode}")
    return np.frombuffer(proc.stdout, dtype=np.uint8).reshape(len(inputs), output_bytes)
