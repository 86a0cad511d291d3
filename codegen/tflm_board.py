"""The board's TFLM library as the judge of a model: which ops it registers, whether it runs the
model, and how much arena it allocates on a 32-bit Cortex-M4.

`tinyml codegen` asks it before writing a board project; `tinyml emulate --backend tflm` runs the
generated sketch's core with it. The library is built for QEMU's mps2-an386 from the Chirale tree
(`tflm_lib`), the sketch's core is the same `tinyml_tflm.cpp` the board compiles, and QEMU runs it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tinyml
from tinyml.artifacts import atomic_dir, copy_runtime, copy_sources, keep_build_cache, prepare_out_dir, render_tree
from tinyml.artifacts import write_json, write_marker
from tinyml.c_names import comment_text
from tinyml.codegen.ops import RESOLVER_METHODS
from tinyml.codegen.tflm_core import core_values
from tinyml.errors import BadInput, expected
from tinyml.host import tflm_lib
from tinyml.host.platformio import build
from tinyml.host.qemu import connect, emulator_env, running
from tinyml.paths import FIRMWARE_DIR, RUNTIME_SOURCES
from tinyml.protocol import Device, DeviceError
from tinyml.quantize import flatbuffer

# Chirale_TensorFLowLite releases -> the TFLM they were generated from (measured: the tree's files
# against tflite-micro's history; ../shared/reference/tflm_arduino/README.md).
TFLM_OF = {"2.0.0": "TFLM of 2023-01"}
# The arena a measuring build reserves: as much as the nRF52840's 256 KB of RAM leaves beside the
# firmware's own data and stack. A model that needs more cannot run on the board.
PROBE_ARENA_BYTES = 224 * 1024
BOOT_TIMEOUT_S = 20.0
EMULATOR_SOURCES = ("mps2.c", "mps2.h", "tflm_main.cpp")  # firmware/emulator/: the TFLM app on QEMU


def measuring_firmware() -> list[Path]:
    """Every source of the firmware that measures the arena (write_project's): a key of the cache."""
    return (sorted((FIRMWARE_DIR / "templates" / "tflm").glob("*"))
            + [FIRMWARE_DIR / "emulator" / n for n in EMULATOR_SOURCES]
            + [FIRMWARE_DIR / "runtime" / n for n in RUNTIME_SOURCES])


@dataclass(frozen=True)
class ArenaNeed:
    arena_bytes: int  # the smallest arena AllocateTensors accepts (16-byte steps), on the emulated Cortex-M4
    arena_used_bytes: int  # what the interpreter reports with a large arena (can be less than it needs)
    self_check: bool  # the start-up self-check matched the host's outputs
    log: tuple[str, ...]


def builtin_methods(tree: tflm_lib.Tree) -> dict[str, str]:
    """{BUILTIN_OP: "AddMethod"} as this version's MicroMutableOpResolver registers them."""
    header = (tree.src / "tensorflow" / "lite" / "micro" / "micro_mutable_op_resolver.h").read_text(errors="replace")
    found = {}
    for method, body in re.findall(r"TfLiteStatus\s+(Add\w+)\s*\(.*?\{(.*?)\n  \}", header, re.S):
        for op in re.findall(r"BuiltinOperator_(\w+)", body):
            found.setdefault(op, method)
    return found


class BoardLibrary:
    """The board's TFLM (a Chirale tree), or the reason it cannot be used here (`unavailable`)."""

    def __init__(self, tree: tflm_lib.Tree | None, unavailable: str = "", kernels: str = "cmsis-nn",
                 reporter=None, target: tflm_lib.Target = tflm_lib.MPS2):
        self.tree, self.unavailable, self.kernels, self.reporter = tree, unavailable, kernels, reporter
        self.target = target

    @classmethod
    def find(cls, project: Path | None = None, kernels: str = "cmsis-nn", reporter=None,
             required: bool = False, target: tflm_lib.Target = tflm_lib.MPS2) -> "BoardLibrary":
        """The library, or (unless `required`) an unavailable one saying why: codegen then falls back to
        the host's figures, which it says."""
        try:
            tree = tflm_lib.find_tree(project)
            for tool in ("arm-none-eabi-g++", "qemu-system-arm"):
                if shutil.which(tool) is None:
                    raise BadInput(f"Expected {tool} to measure the board's TFLM. Received: not installed. "
                                   "Run `make setup`.")
        except BadInput as exc:
            if required:
                raise
            return cls(None, str(exc), kernels, reporter, target)
        return cls(tree, "", kernels, reporter, target)

    @property
    def label(self) -> str:
        if self.tree is None:
            return f"{tflm_lib.LIBRARY_NAME} (not measured here)"
        return f"{self.tree.label} ({TFLM_OF.get(self.tree.version, 'TFLM of unknown date')})"

    def methods(self) -> dict[str, str]:
        if self.tree is None:
            return dict(RESOLVER_METHODS)
        return builtin_methods(self.tree)

    def check_ops(self, info) -> dict[str, str]:
        """{op: resolver method} for the model; refuses an op the board's library cannot register."""
        methods = self.methods()
        custom = sorted({o.op for o in info.operators if o.custom})
        if custom:
            raise expected("builtin TFLite ops", f"'{info.path}' uses the custom op {', '.join(custom)}",
                           "TFLM cannot run it; convert the original model without it.")
        missing = [op for op in info.ops if op not in methods]
        if missing:
            raise expected(f"ops the board's library ({self.label}) registers",
                           f"'{info.path}' uses {', '.join(missing)}, which it has no MicroMutableOpResolver method for",
                           "The host's newer TFLM runs it, the board's does not: replace the op (or a newer "
                           "library with TINYML_TFLM_DIR).")
        return {op: methods[op] for op in info.ops}

    def library(self) -> Path:
        return tflm_lib.build_library(self.tree, self.kernels, self.target, reporter=self.reporter)

    def arena(self, model_path: Path, seed: int = 0) -> ArenaNeed | None:
        """What the board's library allocates for the model on a 32-bit Cortex-M4 (None if unavailable).

        Measured once per model, library and seed (cached in ~/.cache/tinyml/tflm/arena); refuses, in one
        line, a model the library cannot run, with what TFLM said."""
        if self.tree is None:
            return None
        raw = Path(model_path).read_bytes()
        archive = self.library()
        h = hashlib.sha256(raw + f"\0{self.kernels}\0{archive.parent.name}\0{seed}\0".encode())
        for source in measuring_firmware():  # a change to the firmware that measures measures again
            h.update(source.read_bytes())
        key = h.hexdigest()[:24]
        cached = tflm_lib.cache_root() / "tflm" / "arena" / f"{key}.json"
        if cached.is_file():
            data = json.loads(cached.read_text())
            return ArenaNeed(data["arena_bytes"], data["arena_used_bytes"], data["self_check"], tuple(data["log"]))
        with tempfile.TemporaryDirectory(prefix="tinyml-arena-") as tmp:
            work = Path(tmp) / "project"
            write_project(Path(model_path), work, self, PROBE_ARENA_BYTES, seed=seed, probe=True)
            need = _measure(work, self, Path(model_path))  # a refusal is not cached: measured again next time
        _write_cache(cached, {"arena_bytes": need.arena_bytes, "arena_used_bytes": need.arena_used_bytes,
                              "self_check": need.self_check, "log": list(need.log)})
        return need


def _write_cache(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, data)


def _boot(elf: Path, arena_bytes: int) -> tuple[dict | None, list[str], str]:
    """One boot of the measuring firmware with `arena_bytes`: (hello or None, log lines, why it failed)."""
    with running(elf) as (url, proc):
        link = connect(url, proc)
        device = Device(link, BOOT_TIMEOUT_S)
        try:
            link.write(f"A {arena_bytes}\n".encode())
            hello = device.until("hello")[-1]
            device.quit()
            return hello, device.log, ""
        except (DeviceError, OSError) as exc:  # refused, faulted, hung or crashed: this arena does not do
            return None, device.log, str(exc)
        finally:
            link.close()


def _measure(work: Path, lib: BoardLibrary, model_path: Path) -> ArenaNeed:
    """The smallest arena (to 16 bytes) the model allocates in, booting once per size tried.

    arena_used_bytes() is not it: preparing takes temporary space it does not count (hello_world
    reports 820 B and needs 1,152 B here). A too-small arena may make a kernel write through a null
    pointer, so each size gets a fresh boot."""
    elf = Path(build(work, "emulator", quiet=True)["elf"])
    hello, log, why = _boot(elf, PROBE_ARENA_BYTES)
    if hello is None:
        said = "; ".join(line for line in log if line.startswith("tflm:")) or why
        raise BadInput(f"Expected a model the board's library ({lib.label}) can run in the nRF52840's RAM. "
                       f"Received: '{model_path}' fails there with a {PROBE_ARENA_BYTES:,} B arena: {said}. The host's "
                       "newer TFLM runs it; change the op or type it names, or make the model smaller.")
    used = int(hello["arena_bytes"])
    matched = any("output matches" in line for line in log)
    lo, step = (used - 1) // 16 * 16, 256  # lo never allocates (below what the interpreter keeps)
    hi = None
    while hi is None:  # from what it reports, upwards, then bisect
        trial = min(PROBE_ARENA_BYTES, lo + step)
        if _boot(elf, trial)[0] is not None:
            hi = trial
        elif trial == PROBE_ARENA_BYTES:
            hi = PROBE_ARENA_BYTES
        else:
            lo, step = trial, step * 4
    while hi - lo > 16:
        mid = (lo + hi) // 32 * 16
        if _boot(elf, mid)[0] is not None:
            hi = mid
        else:
            lo = mid
    return ArenaNeed(hi, used, matched, tuple(log))


def tflm_flags(lib: BoardLibrary, arena_bytes: int | None, probe: bool = False,
               extra_flags: tuple[str, ...] = ()) -> tuple[str, ...]:
    """build_flags of the emulator environment: the library's headers, defines and archive."""
    archive = lib.library()
    flags = [*tflm_lib.TFLM_DEFINES, *(f"-I{d}" for d in lib.tree.include_dirs),
             f"-L{archive.parent}", f"-l{archive.stem[3:]}"]
    if arena_bytes is not None:
        flags.append(f"-DTINYML_ARENA_BYTES={arena_bytes}")
    if probe:
        flags.append("-DTINYML_ARENA_PROBE")
    return (*flags, *extra_flags)


def write_project(model_path: Path, out: Path, lib: BoardLibrary, arena_bytes: int, seed: int = 0,
                  values: dict | None = None, probe: bool = False, extra_flags: tuple[str, ...] = ()) -> dict:
    """An emulator-only PlatformIO project running the TFLM sketch's core with the board's library
    (`extra_flags`: more build flags, such as -DTINYML_PROFILE)."""
    info = flatbuffer.read(model_path)
    methods = lib.check_ops(info)
    if values is None:
        values = core_values(model_path, info, info.ops, methods, arena_bytes, f"{arena_bytes} B.", "g_model", seed,
                             lib.label)
    prepare_out_dir(out, "emulator")
    banner = f"Generated by tinyml {tinyml.__version__} from {comment_text(model_path.name)}. Do not edit."
    env = emulator_env(model_path.stem, tflm_flags(lib, arena_bytes, probe, extra_flags),
                       source_dirs=("emulator", "tflm", "runtime"))
    with atomic_dir(out) as tmp:
        render_tree("tflm", tmp / "src" / "tflm", values)
        copy_runtime(tmp / "src" / "runtime")
        copy_sources("emulator", EMULATOR_SOURCES, tmp / "src" / "emulator")
        render_tree("emulator", tmp, {"banner": banner, "emulator_env": env})
        write_marker(tmp, "emulator", {"model": str(model_path), "backend": "tflm", "kernels": lib.kernels})
        keep_build_cache(out, tmp)
    return {"arena_bytes": arena_bytes, "library": lib.label, "kernels": lib.kernels}
