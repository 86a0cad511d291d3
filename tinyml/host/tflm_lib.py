"""The board's TensorFlow Lite Micro, built for a Cortex-M4 target and cached.

The Nano 33 BLE gets TFLM from the Chirale_TensorFLowLite Arduino library (TFLM of
2023-01 with CMSIS-NN kernels), not from the `tflite-micro` wheel tinyml runs on the
host. To measure what the board gets (arena bytes on a 32-bit core, instructions per
inference, which ops and types it has), tinyml compiles that library's own sources:

- `find_tree()` locates a Chirale tree: `TINYML_TFLM_DIR`, else a copy PlatformIO
  installed for a generated project (`.pio/libdeps/nano33ble/Chirale_TensorFLowLite`),
  else the reference copy beside a source checkout (`../shared/reference/tflm_arduino`).
- `build_library(tree, kernels, target)` compiles every translation unit the interpreter
  needs (in parallel, one object per source, cached by the tree's contents, the flags
  and the compiler) and archives them as `libtflm_<kernels>.a`. A second call with the
  same inputs costs nothing; `cmsis-nn` and `reference` builds share every object but
  the kernels.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tinyml.errors import BadInput, TinymlError
from tinyml.paths import checkout_reference

LIBRARY_NAME = "Chirale_TensorFLowLite"  # its registry name (sic)
KERNELS = ("cmsis-nn", "reference")
ENV_TREE = "TINYML_TFLM_DIR"

# Not part of a bare-metal interpreter build (measured: ../shared/reference/tflm_arduino/README.md).
_EXCLUDED = ("tensorflow/lite/micro/system_setup.cpp", "tensorflow/lite/micro/micro_time.cpp", "peripherals/",
             "tensorflow/lite/experimental/microfrontend/", "third_party/kissfft/")
_CMSIS_ONLY = ("tensorflow/lite/micro/kernels/cmsis_nn/", "third_party/cmsis_nn/")
_SUFFIXES = (".c", ".cc", ".cpp")


@dataclass(frozen=True)
class Tree:
    """A Chirale_TensorFLowLite library folder (the one with `library.properties` and `src/`)."""

    root: Path

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def reference_kernels(self) -> Path:
        return self.root / "reference_kernels"

    @cached_property
    def version(self) -> str:
        props = self.root / "library.properties"
        text = props.read_text(errors="replace") if props.is_file() else ""
        m = re.search(r"^version=(.+)$", text, re.M)
        return m.group(1).strip() if m else "unknown"

    @property
    def label(self) -> str:
        return f"{LIBRARY_NAME} {self.version}"

    @property
    def include_dirs(self) -> list[Path]:
        tp = self.src / "third_party"
        return [self.src, tp / "flatbuffers" / "include", tp / "gemmlowp", tp / "ruy"]

    def sources(self, kernels: str) -> list[Path]:
        if kernels not in KERNELS:
            raise BadInput(f"Expected --kernels {' or '.join(KERNELS)}. Received: '{kernels}'.")
        found = []
        for path in sorted(self.src.rglob("*")):
            rel = path.relative_to(self.src).as_posix()
            if path.suffix not in _SUFFIXES or any(rel.startswith(p) for p in _EXCLUDED):
                continue
            if kernels == "reference" and any(rel.startswith(p) for p in _CMSIS_ONLY):
                continue
            found.append(path)
        if kernels == "reference":
            if not self.reference_kernels.is_dir():
                raise BadInput(f"Expected TFLM's reference kernels in {self.reference_kernels} for --kernels reference. "
                               f"Received: no such folder in {self.root}. Use --kernels cmsis-nn (what the board runs).")
            found += sorted(self.reference_kernels.glob("*.cc"))
        return found

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of every file the build can read (sources and headers)."""
        h = hashlib.sha256()
        for folder in (self.src, self.reference_kernels):
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    h.update(path.relative_to(self.root).as_posix().encode() + b"\0")
                    h.update(path.read_bytes())
        return h.hexdigest()


def _is_tree(path: Path) -> bool:
    return (path / "src" / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file()


def candidates(project: Path | None = None) -> list[Path]:
    found = []
    if os.environ.get(ENV_TREE):
        return [Path(os.environ[ENV_TREE])]
    if project is not None:
        found += sorted((Path(project) / "build").glob(f"*/.pio/libdeps/*/{LIBRARY_NAME}"))
    found.append(Path.home() / ".platformio" / "lib" / LIBRARY_NAME)
    found.append(checkout_reference("tflm_arduino"))
    return found


def find_tree(project: Path | None = None) -> Tree:
    """The board's TFLM sources, or a one-line error saying how to point tinyml at them."""
    places = candidates(project)
    for path in places:
        if _is_tree(path):
            return Tree(path.resolve())
    if os.environ.get(ENV_TREE):
        raise BadInput(f"Expected {ENV_TREE} to name a {LIBRARY_NAME} folder (with src/tensorflow/lite/micro). "
                       f"Received: '{places[0]}'. Point it at the library's folder.")
    raise BadInput(f"Expected the board's TensorFlow Lite Micro sources ({LIBRARY_NAME}, the library the board build "
                   f"installs). Received: none in {', '.join(str(p) for p in places)}. Run `pio run -e nano33ble` in a "
                   f"generated project once (online), or set {ENV_TREE} to a copy of the library's folder.")


def tree_or_none(project: Path | None = None) -> Tree | None:
    try:
        return find_tree(project)
    except BadInput:
        return None


@dataclass(frozen=True)
class Target:
    """How a TFLM tree is compiled for one target: compilers and flags."""

    name: str
    cc: str
    cxx: str
    common: tuple[str, ...]  # both languages
    cflags: tuple[str, ...] = ()
    cxxflags: tuple[str, ...] = ()
    defines: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()  # before the tree's own include dirs
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def command(self, tree: Tree, source: Path, obj: Path, cmsis: bool) -> list[str]:
        cxx = source.suffix in (".cc", ".cpp")
        lang = self.cxxflags if cxx else self.cflags
        defines = list(self.defines) + (["-DCMSIS_NN"] if cmsis else [])
        incs = list(self.includes) + [f"-I{d}" for d in tree.include_dirs]
        return [self.cxx if cxx else self.cc, *self.common, *lang, *defines, *incs, "-c", str(source), "-o", str(obj)]


# What a board build defines for the library: only `ARDUINO` (PlatformIO's value; the library's generator
# rewrote TFLM's static-memory and kernel-variant guards to it). Not TF_LITE_STATIC_MEMORY or TFLM's other
# MCU defines: nothing in an Arduino build sets them, and TF_LITE_STATIC_MEMORY changes TfLiteTensor, so
# the arena.
TFLM_DEFINES = ("-DARDUINO=10810",)
CORTEX_M4F = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")
# The code-generation flags of the Nano 33 BLE variant (variants/ARDUINO_NANO33BLE/c*flags.txt).
BOARD_CODEGEN = ("-Os", "-ffunction-sections", "-fdata-sections", "-fno-exceptions", "-fomit-frame-pointer",
                 "-funsigned-char")
CXX_FLAGS = ("-std=gnu++14", "-fno-rtti", "-fno-threadsafe-statics", "-fno-use-cxa-atexit")

# QEMU mps2-an386: the board's code generation with the hard-float ABI of tinyml's emulator platform, and no
# fused multiply-add (every tinyml firmware build, the board's included), so float models compute what the
# host computes.
MPS2 = Target("mps2", "arm-none-eabi-gcc", "arm-none-eabi-g++",
              common=CORTEX_M4F + BOARD_CODEGEN + ("-ffp-contract=off", "-g0", "-w"),
              cflags=("-std=gnu11",), cxxflags=CXX_FLAGS, defines=TFLM_DEFINES)


def cache_root() -> Path:
    return Path(os.environ.get("TINYML_CACHE_DIR", Path.home() / ".cache" / "tinyml"))


def _compiler_id(exe: str) -> str:
    path = shutil.which(exe)
    if path is None:
        raise TinymlError(f"Expected {exe} to build TensorFlow Lite Micro. Received: not installed. Run `make setup`.")
    out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else path


def build_key(tree: Tree, target: Target) -> str:
    h = hashlib.sha256()
    for part in (tree.fingerprint, target.name, repr(target.common), repr(target.cflags), repr(target.cxxflags),
                 repr(target.defines), repr(target.includes), _compiler_id(target.cc), _compiler_id(target.cxx)):
        h.update(part.encode() + b"\n")
    return h.hexdigest()[:20]


def library_dir(tree: Tree, target: Target) -> Path:
    return cache_root() / "tflm" / f"{target.name}-{build_key(tree, target)}"


def build_library(tree: Tree, kernels: str = "cmsis-nn", target: Target = MPS2, reporter=None,
                  jobs: int | None = None) -> Path:
    """`libtflm_<kernels>.a` for `target` (built once, then taken from the cache)."""
    out_dir = library_dir(tree, target)
    archive = out_dir / f"libtflm_{kernels.replace('-', '_')}.a"
    if archive.is_file():
        return archive
    sources = tree.sources(kernels)
    cmsis = kernels == "cmsis-nn"
    obj_dir = out_dir / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)

    def obj_for(src: Path) -> Path:
        rel = src.relative_to(tree.root).as_posix()
        # CMSIS_NN only changes the CMSIS-NN kernels; every other object is shared by both builds.
        tag = "cmsis" if cmsis and any(rel.startswith("src/" + p) for p in _CMSIS_ONLY) else "any"
        return obj_dir / (re.sub(r"[^A-Za-z0-9_.]", "_", rel) + f".{tag}.o")

    todo = [s for s in sources if not obj_for(s).is_file()]
    if todo and reporter:
        reporter.info(f"building {tree.label} (TFLM, {kernels} kernels) for {target.name}: {len(todo)} of "
                      f"{len(sources)} sources to compile, once (cached in {out_dir})")

    def compile_one(src: Path) -> Path:
        obj = obj_for(src)
        tmp = obj.with_suffix(f".{os.getpid()}.tmp")
        proc = subprocess.run(target.command(tree, src, tmp, cmsis), capture_output=True, text=True)
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise TinymlError(f"Compiling {src.relative_to(tree.root)} for {target.name} failed: "
                              f"{proc.stderr.strip()[-600:]}")
        os.replace(tmp, obj)
        return obj

    done = len(sources) - len(todo)
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        futures = [pool.submit(compile_one, s) for s in todo]
        for i, fut in enumerate(as_completed(futures), 1):
            fut.result()
            if reporter:
                reporter.progress("  TFLM sources", done + i, len(sources), every=i % 25 == 0)
    with tempfile.NamedTemporaryFile(dir=out_dir, suffix=".a", delete=False) as f:
        tmp_archive = Path(f.name)
    tmp_archive.unlink()
    objects = [str(obj_for(s)) for s in sources]
    proc = subprocess.run(["arm-none-eabi-ar", "rcs", str(tmp_archive), *objects], capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinymlError(f"Archiving the TFLM library failed: {proc.stderr.strip()[-300:]}")
    os.replace(tmp_archive, archive)
    return archive
