"""Compile-only check of a generated board project against the real Arduino mbed core.

PlatformIO cannot install the `nordicnrf52` platform offline, so nothing here can build the
board firmware the way a user does. What can be done is compile every translation unit of a
board environment with the flags the board build uses: the Nano 33 BLE variant's own flag files
(`defines.txt`, `cflags.txt`, `cxxflags.txt`, read with `@file`, then `-iprefix` and
`@includes.txt` for the mbed headers), plus the environment's `build_flags`, with the core's
`-Wall -Wextra` left on. That catches what a board build would reject (a missing include, an
API the core lacks, a type that differs on 32-bit ARM) and every warning, without a board. It
also reads each object for printf float formats, which compile cleanly and print nothing on the
board (`float_formats`).

Two flavours, because users build both ways (`../shared/reference/arduino_mbed/README.md`):
  pio          PlatformIO's builder: `-DARDUINO=10810`, `-mfloat-abi=soft` appended, the
               board's `extra_flags`, `-DPLATFORMIO=...`, `-I src`, the flag files split into
               common and per-language sets
  arduino-cli  platform.txt's recipe: `-DARDUINO=10607`, `-g3`, `-mfloat-abi=softfp`

Which files: every .c/.cc/.cpp under `src/` that the env's `build_src_filter` keeps, plus the
top-level .ino files merged into one unit (as both tools do). Which libraries: the env's
`lib_deps` and every library whose headers the sources include (followed through the library's
own headers, as PlatformIO's dependency finder does); each adds its include folder.

A warning inside a third-party header (core, mbed, a library) is not the project's to fix; it
is counted apart, with the project file that included it, so it is visible but does not fail
the check. Linking cannot be complete: `libmbed.a` is not public, so `link_check` links all the
rest and checks that only mbed-os symbols are left undefined.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tinyml.errors import BadInput, TinymlError
from tinyml.host import tflm_lib
from tinyml.host.tflm_lib import Target
from tinyml.log import Reporter
from tinyml.paths import checkout_reference

ENV_CORE = "TINYML_ARDUINO_CORE_DIR"
FLAVOURS = ("pio", "arduino-cli")
VARIANT = "ARDUINO_NANO33BLE"
SOURCE_SUFFIXES = (".c", ".cc", ".cpp")
CC, CXX = "arm-none-eabi-gcc", "arm-none-eabi-g++"
# boards.txt `nano33ble` / PlatformIO's boards/nano33ble.json
BOARD_DEFINES = ("-DARDUINO_ARDUINO_NANO33BLE", "-DARDUINO_ARCH_NRF52840")
CPU = ("-mcpu=cortex-m4", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16")
# Plain, parseable diagnostics: no colour, no caret lines, one line per message.
DIAGNOSTICS = ("-fdiagnostics-color=never", "-fno-diagnostics-show-caret", "-fmessage-length=0")

_DIAG = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)? "
                   r"(?P<kind>warning|error|fatal error): (?P<message>.*?)(?: \[(?P<option>-W[^\]]+)\])?$")
_INCLUDED = re.compile(r"^(?:In file included|\s+) from (?P<file>.+?):(?P<line>\d+)[:,]$")
_REQUIRED = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):\d+:\s+required from ")
# A printf conversion of a float (%f, %.9f, %e, %g, %a ...).
_FLOAT_CONVERSION = re.compile(rb"%[-+ #0]*(?:\d+|\*)?(?:\.(?:\d+|\*)?)?[lL]?[fFeEgGaA]")
_INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


@dataclass(frozen=True)
class Library:
    """An Arduino library: its registry name and the folder its headers are included from."""

    name: str
    include_dir: Path

    @property
    def sources(self) -> list[Path]:
        return sorted(p for p in self.include_dir.rglob("*") if p.suffix in SOURCE_SUFFIXES)


@dataclass(frozen=True)
class Core:
    """The ArduinoCore-mbed folder (cores/arduino, variants/ARDUINO_NANO33BLE, libraries)."""

    root: Path

    @property
    def core(self) -> Path:
        return self.root / "cores" / "arduino"

    @property
    def variant(self) -> Path:
        return self.root / "variants" / VARIANT

    def flag_file(self, name: str) -> Path:
        return self.variant / f"{name}.txt"

    def flag_lines(self, name: str) -> list[str]:
        return [ln.strip() for ln in self.flag_file(name).read_text().splitlines() if ln.strip()]

    @cached_property
    def libraries(self) -> dict[str, Library]:
        """The core's libraries and the board's TFLM (Chirale), by lower-case name."""
        found = {}
        for folder in sorted((self.root / "libraries").iterdir()):
            props = folder / "library.properties"
            m = re.search(r"^name=(.+)$", props.read_text(errors="replace"), re.M) if props.is_file() else None
            name = m.group(1).strip() if m else folder.name
            found[name.lower()] = Library(name, folder / "src" if (folder / "src").is_dir() else folder)
        tree = tflm_lib.tree_or_none()
        if tree is not None:
            found[tflm_lib.LIBRARY_NAME.lower()] = Library(tflm_lib.LIBRARY_NAME, tree.src)
        return found

    def origin(self, path: Path, libs: list[Library]) -> str:
        """Who owns a header outside the project (for the third-party warnings' explanation)."""
        path = path.resolve()
        for lib in libs:
            if path.is_relative_to(lib.include_dir):
                return f"library {lib.name}"
        for folder, name in ((self.core / "mbed", "mbed-os"), (self.core / "api", "ArduinoCore-API"),
                             (self.root, "ArduinoCore-mbed")):
            if path.is_relative_to(folder):
                return name
        return "the compiler's headers"

    def command(self, flavour: str, cxx: bool, defines: list[str], includes: list[Path],
                others: list[str]) -> list[str]:
        """The compiler and flags for one language, with the project's flags where each tool puts them."""
        compiler = CXX if cxx else CC
        core_incs = [f"-I{self.core}", f"-I{self.variant}"]
        deprecated = [f"-I{self.core}/api/deprecated", f"-I{self.core}/api/deprecated-avr-comp"]
        incs = [f"-I{d}" for d in includes]
        if flavour == "arduino-cli":  # platform.txt's recipe.{c,cpp}.o.pattern
            head = ["-c", "-g3", "-nostdlib", f"@{self.flag_file('defines')}",
                    f"@{self.flag_file('cxxflags' if cxx else 'cflags')}", "-DARDUINO_ARCH_NRF52840", *CPU,
                    "-DARDUINO=10607", "-DARDUINO_ARDUINO_NANO33BLE", "-DARDUINO_ARCH_MBED",
                    "-DARDUINO_LIBRARY_DISCOVERY_PHASE=0"]
            extra = others + defines
            body = core_incs + incs + extra + deprecated if cxx else extra + deprecated + core_incs + incs
            return [compiler, *head, *body, f"-iprefix{self.core}", f"@{self.flag_file('includes')}"]
        # PlatformIO: SCons orders them $CFLAGS/$CXXFLAGS $CCFLAGS $CPPDEFINES (-U last) $CPPPATH.
        common, c_only, cxx_only = self.pio_flags()
        before, after = self.pio_macros()
        macros = before + [d for d in defines if d.startswith("-D")] + after + [d for d in defines if d[:2] == "-U"]
        return [compiler, "-c", *(cxx_only if cxx else c_only), *common, *others, *macros, *incs,
                *core_incs[:1], *deprecated, *core_incs[1:]]

    def pio_flags(self) -> tuple[list[str], list[str], list[str]]:
        """(CCFLAGS, CFLAGS, CXXFLAGS) as PlatformIO's mbed builder makes them: what both flag files share,
        then each file's own, as sorted sets; then `-iprefix` + `@includes.txt` and the float ABI forced
        to soft (builder-framework-arduino-core-mbed)."""
        c, cxx = set(self.flag_lines("cflags")) - {"-c"}, set(self.flag_lines("cxxflags")) - {"-c"}
        common = [*sorted(c & cxx), f"-iprefix{self.core}", f"@{self.flag_file('includes')}", "-nostdlib",
                  "-mfloat-abi=soft", "-mfpu=fpv4-sp-d16"]
        return common, sorted(c - cxx), sorted(cxx - c)

    def pio_macros(self) -> tuple[list[str], list[str]]:
        """PlatformIO's defines around the env's -D flags: its own and the board's before, the variant's after."""
        return ([f"-DPLATFORMIO={_platformio_version()}", *BOARD_DEFINES],
                [f"@{self.flag_file('defines')}", "-DARDUINO=10810", "-DARDUINO_ARCH_MBED"])

    def tflm_target(self):
        """The board's PlatformIO flags as a `tflm_lib.Target`, to build Chirale's TFLM as `pio run` does:
        no TFLM defines of its own (the library's generator rewrote its guards to ARDUINO), `-w` since
        the library's warnings are not the project's."""
        common, c_only, cxx_only = self.pio_flags()
        before, after = self.pio_macros()
        return Target("nano33ble-pio", CC, CXX, common=(*common, "-w"), cflags=tuple(c_only),
                      cxxflags=tuple(cxx_only), defines=(*before, *after),
                      includes=(f"-I{self.core}", f"-I{self.core}/api/deprecated",
                                f"-I{self.core}/api/deprecated-avr-comp", f"-I{self.variant}"))


def _platformio_version() -> int:
    """PlatformIO's PLATFORMIO macro: 6.2.0 -> 60200."""
    try:
        from platformio import VERSION
    except ImportError:
        return 60200
    major, minor, patch = (int(re.match(r"\d+", str(v)).group()) for v in VERSION[:3])
    return major * 10000 + minor * 100 + patch


def find_core() -> Core:
    """The Arduino mbed core: TINYML_ARDUINO_CORE_DIR, else the reference copy beside the checkout."""
    path = Path(os.environ.get(ENV_CORE) or checkout_reference("arduino_mbed"))
    if not (path / "variants" / VARIANT / "includes.txt").is_file():
        source = f"{ENV_CORE}='{path}'" if os.environ.get(ENV_CORE) else f"'{path}'"
        raise BadInput(f"Expected the Arduino mbed core (cores/arduino, variants/{VARIANT}/includes.txt). "
                       f"Received: {source} without it. Set {ENV_CORE} to an ArduinoCore-mbed folder.")
    return Core(path.resolve())


# ---- the project: which env, which units, which flags ----

@dataclass
class BuildFlags:
    """An env's build_flags, split the way PlatformIO's ParseFlags splits them."""

    defines: list[str]  # -D...
    undefines: list[str]  # -U...
    includes: list[Path]  # -I, absolute
    other: list[str]  # compiler flags (-ffp-contract=off, -Wshadow, ...)
    link: list[str]  # -l, -L, -Wl,...: the link's, not the compiler's

    @classmethod
    def parse(cls, entries: list[str], project: Path) -> "BuildFlags":
        flags = cls([], [], [], [], [])
        tokens = iter(shlex.split(" ".join(entries)))
        for tok in tokens:
            opt = tok[:2]
            if opt in ("-D", "-U", "-I", "-L"):
                value = tok[2:] or next(tokens, "")
                if opt == "-I":
                    flags.includes.append((project / value).resolve())
                elif opt == "-L":
                    flags.link.append(f"-L{(project / value).resolve()}")
                else:
                    (flags.defines if opt == "-D" else flags.undefines).append(opt + value)
            elif opt == "-l" or tok.startswith("-Wl,"):
                flags.link.append(tok)
            else:
                flags.other.append(tok)
        return flags


@dataclass
class Project:
    """One env of a generated project, or a plain folder of C sources (the AOT backend's output)."""

    root: Path
    env: str
    src: Path
    files: list[Path]  # translation units (absolute), before .ino merging
    flags: BuildFlags
    lib_deps: list[str]

    @classmethod
    def load(cls, root: Path, env: str) -> "Project":
        root = Path(root).resolve()
        ini = root / "platformio.ini"
        if not ini.is_file():
            if not root.is_dir():
                raise BadInput(f"Expected a generated project folder. Received: '{root}' (no such folder).")
            files = sorted(p for p in root.iterdir() if p.suffix in SOURCE_SUFFIXES)
            if not files:
                raise BadInput(f"Expected a PlatformIO project or C sources. Received: '{root}' with neither.")
            return cls(root, env, root, files, BuildFlags([], [], [root], [], []), [])
        from platformio import fs
        from platformio.project.config import ProjectConfig
        from platformio.project.exception import UnknownEnvNamesError

        config = ProjectConfig(str(ini))
        try:
            config.validate([env], silent=True)
        except UnknownEnvNamesError:
            raise BadInput(f"Expected an environment of {ini} ({', '.join(config.envs())}). "
                           f"Received: '{env}'.") from None
        section = f"env:{env}"
        src = root / "src"
        keep = config.get(section, "build_src_filter") or ["+<*>"]
        exts = [s.lstrip(".") for s in SOURCE_SUFFIXES + (".ino",)]
        files = [src / f for f in fs.match_src_files(str(src), keep, exts)]
        flags = BuildFlags.parse(config.get(section, "build_flags") or [], root)
        return cls(root, env, src, files, flags, list(config.get(section, "lib_deps") or []))

    def owns(self, path: str | Path) -> bool:
        try:
            Path(path).resolve().relative_to(self.root)
            return True
        except ValueError:
            return False

    def include_dirs(self, flavour: str) -> list[Path]:
        """The project's own -I folders: build_flags, and PlatformIO's `include/` and `src/`."""
        dirs = list(self.flags.includes)
        if flavour == "pio" and self.src != self.root:
            dirs += [d for d in (self.root / "include", self.src) if d.is_dir()]
        return dirs

    def libraries(self, core: Core) -> list[Library]:
        """lib_deps plus every library whose headers the sources reach (PlatformIO's chain mode)."""
        wanted = []
        for dep in self.lib_deps:
            name = re.split(r"[@=<>^~ ]", dep.strip().split("/")[-1])[0].lower()
            if name not in core.libraries:
                raise BadInput(f"Expected lib_deps among {', '.join(lib.name for lib in core.libraries.values())}. "
                               f"Received: '{dep}' in [env:{self.env}]. The core's libraries are in "
                               f"{core.root / 'libraries'}; Chirale's TFLM is found as tinyml finds it "
                               f"(TINYML_TFLM_DIR).")
            wanted.append(core.libraries[name])
        own = self.include_dirs("pio")
        todo, seen = list(self.files), set()
        while todo:
            path = todo.pop()
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            for quote, name in _INCLUDE.findall(path.read_text(errors="replace")):
                local = [path.parent] if quote == '"' else []
                hit = next((d / name for d in local + own if (d / name).is_file()), None)
                if hit is None:
                    lib = next((lib for lib in core.libraries.values() if (lib.include_dir / name).is_file()), None)
                    if lib is None:
                        continue  # the core, mbed or the compiler's own headers
                    if lib not in wanted:
                        wanted.append(lib)
                    hit = lib.include_dir / name
                todo.append(hit)
        return wanted


def _ino_unit(inos: list[Path], out: Path) -> Path:
    """The .ino files as one C++ unit, as both tools make it: Arduino.h, prototypes, the sketch."""
    main = next((p for p in inos if re.search(r"void\s+(setup|loop)\s*\(", p.read_text())), inos[0])
    ordered = [main] + [p for p in inos if p != main]
    proto = re.compile(r"^([A-Za-z_][\w:<>\s\*&]*?\b(\w+)\s*\([^;{)]*\))\s*\{", re.M)
    bodies = [p.read_text() for p in ordered]
    protos = [m.group(1).strip() + ";" for text in bodies for m in proto.finditer(text)
              if m.group(2) not in ("if", "for", "while", "switch")]
    parts = ["#include <Arduino.h>", *protos]
    parts += [f'#line 1 "{p}"\n{text}' for p, text in zip(ordered, bodies)]
    out.write_text("\n".join(parts) + "\n")
    return out


# ---- compiling and reading gcc's diagnostics ----


def _merge_chain(previous: list[str], printed: list[str]) -> list[str]:
    """The whole include chain (innermost first): gcc prints only the part that changed since the
    last diagnostic, down to the first file the two chains share."""
    files = [c.rsplit(":", 1)[0] for c in previous]
    last = printed[-1].rsplit(":", 1)[0]
    return printed + previous[files.index(last) + 1:] if last in files else printed


def _diagnostics(stderr: str, project: Project, origin) -> tuple[list[dict], list[dict], list[dict]]:
    """(errors, the project's warnings, third-party warnings) in gcc's output for one unit.

    A third-party warning names its origin and the project line that reached it: the innermost
    project file in its include chain, or the project line a template was instantiated from."""
    errors, own, third = [], [], []
    chain: list[str] = []
    printed: list[str] = []
    waiting: dict | None = None  # the last third-party warning, until its "required from" line
    for line in stderr.splitlines():
        inc = _INCLUDED.match(line)
        if inc:
            printed = ([] if line.startswith("In file") else printed) + [f"{inc['file']}:{inc['line']}"]
            if line.endswith(":"):
                chain, printed = _merge_chain(chain, printed), []
            continue
        req = _REQUIRED.match(line)
        if req and waiting is not None and project.owns(req["file"]):
            waiting["reached_from"] = waiting["reached_from"] or f"{_rel(project, req['file'])}:{req['line']}"
            continue
        m = _DIAG.match(line)
        if not m:
            continue
        diag = {"file": _rel(project, m["file"]), "line": int(m["line"]), "kind": m["kind"],
                "message": m["message"], "option": m["option"]}
        waiting = None
        if m["kind"] != "warning":
            errors.append(diag)
        elif project.owns(m["file"]):
            own.append(diag)
        else:
            via = next((c for c in chain if project.owns(c.rsplit(":", 1)[0])), None)
            diag.update(origin=origin(Path(m["file"])), reached_from=via and _rel(project, via))
            third.append(waiting := diag)
    return errors, own, third


def float_formats(obj: Path) -> list[str]:
    """The float printf formats of an object that calls a printf-family function.

    PlatformIO links the board with newlib-nano (`--specs=nano.specs`) and without
    `-u _printf_float`, so `%f` and friends print nothing there: a JSON number becomes empty text.
    gcc cannot warn about that (the format is valid C), so the check reads the object instead."""
    from elftools.elf.elffile import ELFFile

    with open(obj, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        calls = symtab is not None and any(sym["st_shndx"] == "SHN_UNDEF" and "printf" in sym.name
                                           for sym in symtab.iter_symbols())
        if not calls:
            return []
        found = []
        for section in elf.iter_sections():
            if section.name.startswith(".rodata"):
                found += [text.decode(errors="replace") for text in section.data().split(b"\0")
                          if _FLOAT_CONVERSION.search(text)]
    return found


def _rel(project: Project, path: str) -> str:
    try:
        return Path(path).resolve().relative_to(project.root).as_posix()
    except ValueError:
        return path


def compile_command(core: Core, project: Project, libs: list[Library], flavour: str, source: Path,
                    obj: Path) -> list[str]:
    """The compiler command for one unit: the tool's flags, the env's build_flags, the libraries."""
    f = project.flags
    includes = project.include_dirs(flavour) + [lib.include_dir for lib in libs]
    cmd = core.command(flavour, source.suffix != ".c", f.defines + f.undefines, includes, f.other)
    return [*cmd, *DIAGNOSTICS, str(source), "-o", str(obj)]


def _check_flavour(flavour: str) -> None:
    if flavour not in FLAVOURS:
        raise BadInput(f"Expected a flavour in {{{', '.join(FLAVOURS)}}}. Received: '{flavour}'.")


def compile_project(project: Path, env: str = "nano33ble", flavour: str = "pio", jobs: int = 2,
                    obj_dir: Path | None = None) -> dict:
    """Compile every translation unit of `env` for the board; per-unit errors and warnings.

    Objects go to `obj_dir` when given (`link_check` links them), else to a temporary folder."""
    _check_flavour(flavour)
    core = find_core()
    proj = Project.load(Path(project), env)
    libs = proj.libraries(core)
    if shutil.which(CXX) is None:
        raise TinymlError(f"Expected {CXX} to compile for the board. Received: not installed. Run `make setup`.")
    with tempfile.TemporaryDirectory(prefix="tinyml-board-") as tmp:
        out = Path(obj_dir) if obj_dir else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        units = [(f, _rel(proj, str(f))) for f in proj.files if f.suffix != ".ino"]
        inos = [f for f in proj.files if f.suffix == ".ino" and f.parent == proj.src]
        if inos:  # named after the sketch; its #line directives send diagnostics to the .ino files
            units.append((_ino_unit(inos, Path(tmp) / f"{inos[0].stem}.ino.cpp"), _rel(proj, str(inos[0]))))

        def one(unit: tuple[Path, str]) -> dict:
            src, rel = unit
            obj = out / (re.sub(r"[^A-Za-z0-9_.]", "_", rel) + ".o")
            proc = subprocess.run(compile_command(core, proj, libs, flavour, src, obj), capture_output=True,
                                  text=True)
            errors, own, third = _diagnostics(proc.stderr, proj, lambda path: core.origin(path, libs))
            if proc.returncode != 0 and not errors:
                errors = [{"file": rel, "line": 0, "kind": "error", "message": proc.stderr.strip()[-400:],
                           "option": None}]
            return {"source": rel, "object": str(obj) if obj_dir else None, "ok": proc.returncode == 0,
                    "errors": errors, "warnings": own, "third_party_warnings": third,
                    "float_printf": float_formats(obj) if proc.returncode == 0 else []}

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(one, units))
    totals = {"units": len(results), "errors": sum(len(r["errors"]) for r in results),
              "warnings": sum(len(r["warnings"]) for r in results),
              "third_party_warnings": sum(len(r["third_party_warnings"]) for r in results),
              "float_printf": sum(len(r["float_printf"]) for r in results)}
    return {"project": str(proj.root), "env": env, "flavour": flavour, "core": str(core.root),
            "libraries": [lib.name for lib in libs], **totals, "results": results}


# ---- link check: everything the board links, except libmbed.a ----

# What tflm_lib's bare-metal build leaves out of Chirale but the board build compiles (they need Arduino.h).
TFLM_ARDUINO_ONLY = ("tensorflow/lite/micro/system_setup.cpp", "tensorflow/lite/micro/micro_time.cpp", "peripherals/")
# Not the core's own code: mbed-os sources are inside libmbed.a, as_mbed_library builds mbed-os itself.
CORE_SKIP = ("mbed/", "as_mbed_library/")
# Where a symbol the link leaves undefined lives, judged by its (demangled) name. Every group is part
# of the precompiled mbed-os (libmbed.a, libcc_310_*.a) that is not public; anything else is a defect.
LIBMBED_GROUPS = (
    ("USB stack", r"USB|usb_|AsyncOp|OperationList|EndpointResolver"),
    ("mbed::, events:: (drivers, platform, event queue)", r"^(mbed|events|mstd)::"),
    ("rtos:: (Thread, Mutex, ThisThread, ...)", r"^rtos::"),
    ("mbed C API (mbed_*, core_util_*, HAL)", r"^(mbed_|core_util_|gpio_|pin_|pinmap_|i2c_|spi_|serial_|us_ticker|"
                                              r"lp_ticker|ticker_|sleep_|hal_|analogin_|analogout_|pwmout_|port_|"
                                              r"flash_|trng_|wait_|error\b)"),
    ("nRF SDK / nrfx", r"^(nrfx?_|NRF|nrf5)"),
    ("CMSIS-RTOS2 / RTX", r"^(os[A-Z]|osRtx|svcRtx)"),
    ("__wrap_* (ldflags.txt wraps the allocator, main, exit)", r"^__wrap_"),
    ("mbed-os start-up", r"^(Reset_Handler|SystemInit|__isr_vector|mbed_start)$"),
)


def _compile_quiet(core: Core, proj: Project, libs: list[Library], sources: list[Path], out: Path,
                   jobs: int) -> list[Path]:
    """Third-party sources with the env's PlatformIO flags and `-w` (their warnings are not the project's)."""
    out.mkdir(parents=True, exist_ok=True)

    def one(src: Path) -> Path:
        obj = out / (re.sub(r"[^A-Za-z0-9_.]", "_", src.as_posix().lstrip("/")[-120:]) + ".o")
        cmd = compile_command(core, proj, libs, "pio", src, obj)
        proc = subprocess.run([cmd[0], "-w", *cmd[1:]], capture_output=True, text=True)
        if proc.returncode != 0:
            raise TinymlError(f"Compiling {src} for the board failed: {proc.stderr.strip()[-400:]}")
        return obj

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, sources))


def _archive(objects: list[Path], path: Path) -> Path:
    path.unlink(missing_ok=True)
    subprocess.run(["arm-none-eabi-ar", "rcs", str(path), *map(str, objects)], check=True, capture_output=True)
    return path


def _group(symbol: str) -> str | None:
    name = re.sub(r"^(vtable for |VTT for |typeinfo for |non-virtual thunk to |guard variable for )", "", symbol)
    return next((group for group, pattern in LIBMBED_GROUPS if re.search(pattern, name)), None)


def link_check(project: Path, env: str = "nano33ble", jobs: int = 2, reporter: Reporter | None = None) -> dict:
    """Link an env as PlatformIO links it, minus libmbed.a, and say what is left undefined.

    PlatformIO links the project's objects, the core (cores/arduino, the variant) and every library
    inside `--whole-archive` with `--gc-sections`, the variant's linker script and ldflags.txt,
    newlib-nano and libstdc++. Here the same, with the core and the libraries compiled from source
    (Chirale's TFLM through `tflm_lib.build_library`, cached) and `-u main` standing in for libmbed's
    start-up, which calls the core's `main` (setup, loop). ld then names every symbol still undefined in
    the sections the firmware keeps, and any symbol defined twice; each undefined one must belong to
    libmbed.a (LIBMBED_GROUPS), else it is reported as `unknown`: a link error on the real board."""
    core = find_core()
    proj = Project.load(Path(project), env)
    libs = proj.libraries(core)
    with tempfile.TemporaryDirectory(prefix="tinyml-link-") as tmp:
        tmp = Path(tmp)
        built = compile_project(project, env, "pio", jobs, obj_dir=tmp / "project")
        if built["errors"]:
            raise TinymlError(f"Expected [env:{env}] of {proj.root} to compile before linking. "
                              f"Received: {built['errors']} error(s). Run the compile check first.")
        archives = []
        core_sources = [p for p in sorted(core.core.rglob("*")) if p.suffix in SOURCE_SUFFIXES
                        and not p.relative_to(core.core).as_posix().startswith(CORE_SKIP)]
        core_sources += sorted(p for p in core.variant.iterdir() if p.suffix in SOURCE_SUFFIXES)
        if reporter:
            reporter.info(f"link check: compiling the core ({len(core_sources)} units) and {len(libs)} libraries")
        archives.append(_archive(_compile_quiet(core, proj, libs, core_sources, tmp / "core", jobs),
                                 tmp / "libFrameworkArduino.a"))
        for lib in libs:
            sources = lib.sources
            if lib.name == tflm_lib.LIBRARY_NAME:
                tree = tflm_lib.find_tree(proj.root)
                archives.append(tflm_lib.build_library(tree, "cmsis-nn", target=core.tflm_target(),
                                                       reporter=reporter, jobs=jobs))
                sources = [p for p in sources
                           if p.relative_to(lib.include_dir).as_posix().startswith(TFLM_ARDUINO_ONLY)]
            objects = _compile_quiet(core, proj, libs, sources, tmp / lib.name, jobs)
            if objects:
                archives.append(_archive(objects, tmp / f"lib{lib.name}_arduino.a"))
        flags = core.flag_lines("ldflags")
        script = tmp / "linker_script.ld"
        subprocess.run([CXX, "-E", "-P", "-x", "c", *[f for f in flags if f.startswith("-D")],
                        str(core.variant / "linker_script.ld"), "-o", str(script)], check=True)
        objects = [r["object"] for r in built["results"]]
        cmd = [CXX, *flags, "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--as-needed", "-mfloat-abi=soft",
               "-mfpu=fpv4-sp-d16", f"-T{script}", "-Wl,-u,main", "-o", str(tmp / "firmware.elf"), *objects,
               "-Wl,--whole-archive", *map(str, archives), "-Wl,--no-whole-archive",
               *proj.flags.link, "-lstdc++", "-lsupc++", "-lm", "-lc", "-lgcc", "-lnosys"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    undefined = sorted(set(re.findall(r"undefined reference to `(.+?)'", proc.stderr)))
    multiple = sorted(set(re.findall(r"multiple definition of `(.+?)'", proc.stderr)))
    groups: dict[str, list[str]] = {}
    for symbol in undefined:
        groups.setdefault(_group(symbol) or "unknown", []).append(symbol)
    other = [ln for ln in proc.stderr.splitlines() if re.search(r"\berror\b|overflow|will not fit", ln)
             and "undefined reference" not in ln and "multiple definition" not in ln and "ld returned" not in ln]
    return {"project": str(proj.root), "env": env, "archives": [str(a) for a in archives],
            "undefined": len(undefined), "groups": groups, "unknown": groups.get("unknown", []),
            "multiple_definitions": multiple, "other_errors": other}


def board_envs(project: Path) -> list[str]:
    """The envs of a project that build for the Nano 33 BLE (a plain C folder has one, `nano33ble`)."""
    ini = Path(project) / "platformio.ini"
    if not ini.is_file():
        return ["nano33ble"]
    from platformio.project.config import ProjectConfig

    config = ProjectConfig(str(ini))
    return [e for e in config.envs() if config.get(f"env:{e}", "board", None) == "nano33ble"]


def failures(report: dict) -> int:
    """What fails the check: errors, the project's own warnings, float printf formats."""
    return report["errors"] + report["warnings"] + report["float_printf"]


def _table(reports: list[dict]) -> list[str]:
    head = ("project", "env", "flavour", "units", "warnings", "errors", "float printf", "third-party warnings")
    rows = [(Path(r["project"]).name, r["env"], r["flavour"], *(str(r[k]) for k in
             ("units", "warnings", "errors", "float_printf", "third_party_warnings"))) for r in reports]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in [head, *rows]]
    seen = set()
    for r in reports:
        where = f"{Path(r['project']).name} [{r['env']}, {r['flavour']}]"
        for u in r["results"]:
            for d in u["errors"] + u["warnings"]:
                lines.append(f"{where} {d['file']}:{d['line']}: {d['kind']}: {d['message']}"
                             + (f" [{d['option']}]" if d["option"] else ""))
            for fmt in u["float_printf"]:
                conversions = sorted(set(m.decode() for m in _FLOAT_CONVERSION.findall(fmt.encode())))
                lines.append(f"{where} {u['source']}: printf float conversion {', '.join(conversions)} "
                             f"(PlatformIO's newlib-nano prints nothing for it)")
            for d in u["third_party_warnings"]:
                key = (d["file"], d["line"], d["message"])
                if key not in seen:
                    seen.add(key)
                    lines.append(f"third-party ({d['origin']}): {d['file']}:{d['line']}: {d['message']} "
                                 f"[{d['option']}], reached from {d['reached_from'] or '?'}")
    if seen:
        lines.append("third-party warnings are in headers the project includes but does not own: the board "
                     "build shows them too, the project cannot fix them, so they do not fail the check")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tinyml.host.board_check",
                                description="Compile generated board projects against the Arduino mbed core "
                                            "(compile only, warnings on).")
    p.add_argument("projects", nargs="+", type=Path, help="generated PlatformIO projects or AOT C folders")
    p.add_argument("--env", help="one environment (default: every env for board nano33ble)")
    p.add_argument("--flavour", choices=FLAVOURS + ("both",), default="both",
                   help="whose flags: PlatformIO's, arduino-cli's, or both (default)")
    p.add_argument("-j", "--jobs", type=int, default=2, help="parallel compiles (default: 2)")
    p.add_argument("--link", action="store_true",
                   help="also link each env as PlatformIO does, minus libmbed.a, and list what stays undefined")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    args = p.parse_args(argv)
    flavours = FLAVOURS if args.flavour == "both" else (args.flavour,)
    try:
        targets = [(project, env) for project in args.projects
                   for env in ([args.env] if args.env else board_envs(project))]
        reports = [compile_project(project, env, flavour, args.jobs) for project, env in targets
                   for flavour in flavours]
        links = [link_check(project, env, args.jobs, Reporter()) for project, env in targets] if args.link else []
    except TinymlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps({"compile": reports, "link": links}, indent=2))
    else:
        print("\n".join(_table(reports) + [line for r in links for line in _link_lines(r)]))
    bad_links = [r for r in links if r["unknown"] or r["multiple_definitions"] or r["other_errors"]]
    return 1 if bad_links or any(failures(r) for r in reports) else 0


def _link_lines(r: dict) -> list[str]:
    lines = [f"link {Path(r['project']).name} [{r['env']}]: {r['undefined']} symbols undefined without libmbed.a, "
             f"{len(r['unknown'])} of them not mbed-os'; {len(r['multiple_definitions'])} defined twice"]
    for group, symbols in r["groups"].items():
        lines.append(f"  {group} ({len(symbols)}): {', '.join(symbols)}")
    lines += [f"  defined twice: {s}" for s in r["multiple_definitions"]] + [f"  {e}" for e in r["other_errors"]]
    return lines


if __name__ == "__main__":
    sys.exit(main())
