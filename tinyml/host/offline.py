"""PlatformIO without the network, for the emulator environment.

PlatformIO normally downloads its SCons package and a toolchain. Here both come
from what is already installed: a `tool-scons` package whose `scons.py` runs
PyPI's SCons (a requirement of tinyml), and a `toolchain-gccarmnoneeabi`
package whose `bin/` links to Debian's arm-none-eabi-gcc. They live in a
PlatformIO core folder of tinyml's own (`$TINYML_PLATFORMIO_DIR`, by default
~/.cache/tinyml/platformio), so the user's own PlatformIO set-up is untouched.

It also holds tinyml's QEMU plugin (firmware/emulator/icount_plugin.c), compiled
here, which counts instructions exactly.

`python -m tinyml.host.offline` prepares it (the README's setup step runs this);
`tinyml build`/`emulate` prepare it on demand as well.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tinyml.errors import TinymlError
from tinyml.paths import FIRMWARE_DIR

SCONS_VERSION = "4.41101.0"  # what PlatformIO 6.2 asks for ("~4.41101.0")
TOOLCHAIN_VERSION = "1.120201.0"  # Debian 12's arm-none-eabi-gcc 12.2.1
PLATFORM_DIR = FIRMWARE_DIR / "platformio" / "tinyml-qemu"
TOOLS = ("gcc", "g++", "as", "ar", "ld", "nm", "objcopy", "objdump", "ranlib", "size", "strip", "gdb", "cpp",
         "gcc-ar", "readelf")

_SCONS_SHIM = '''"""tool-scons for tinyml's offline PlatformIO: runs SCons installed from PyPI."""
import sys

import SCons.Script

if __name__ == "__main__":
    sys.exit(SCons.Script.main())
'''


def core_dir() -> Path:
    return Path(os.environ.get("TINYML_PLATFORMIO_DIR", Path.home() / ".cache" / "tinyml" / "platformio"))


def toolchain_dir() -> Path:
    return core_dir() / "toolchain-gccarmnoneeabi"


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


def _install_scons(core: Path) -> None:
    scons = core / "packages" / "tool-scons"
    scons.mkdir(parents=True, exist_ok=True)
    _write_json(scons / "package.json", {"name": "tool-scons", "version": SCONS_VERSION,
                                         "description": "SCons from PyPI, for tinyml's offline builds"})
    _write_json(scons / ".piopm", {"type": "tool", "name": "tool-scons", "version": SCONS_VERSION,
                                   "spec": {"owner": "platformio", "id": None, "name": "tool-scons",
                                            "requirements": None, "uri": None}})
    (scons / "scons.py").write_text(_SCONS_SHIM)


def icount_plugin() -> Path:
    return core_dir() / "libtinyml_icount.so"


def build_icount_plugin() -> Path | None:
    """Compile the QEMU plugin that counts instructions exactly (None without a host C compiler)."""
    source = FIRMWARE_DIR / "emulator" / "icount_plugin.c"
    target = icount_plugin()
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.so")
    proc = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(tmp), str(source)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinymlError(f"Compiling the QEMU instruction-count plugin failed: {proc.stderr.strip()[:500]}")
    os.replace(tmp, target)
    return target


def prepare() -> dict[str, str]:
    """Create (or refresh) the offline packages; return the environment PlatformIO must run with."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        raise TinymlError("Expected arm-none-eabi-gcc on PATH for the emulator build. Received: none. "
                          "Run `make setup` (it installs Debian's gcc-arm-none-eabi).")
    try:
        import SCons  # noqa: F401
    except ImportError:
        raise TinymlError("Expected the scons Python package for offline PlatformIO builds. Received: none. "
                          "Run `make setup`.") from None
    from platformio.util import get_systype

    core = core_dir()
    _install_scons(core)
    # A plain `pio run -e emulator` uses PlatformIO's default core: give it SCons too, unless it has one.
    default_core = Path(os.environ.get("PLATFORMIO_CORE_DIR", Path.home() / ".platformio"))
    if not (default_core / "packages" / "tool-scons").exists():
        _install_scons(default_core)

    toolchain = toolchain_dir()
    bin_dir = toolchain / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    _write_json(toolchain / "package.json", {"name": "toolchain-gccarmnoneeabi", "version": TOOLCHAIN_VERSION,
                                             "description": "links to the system's arm-none-eabi toolchain",
                                             "system": [get_systype()]})
    source = Path(gcc).resolve().parent
    for tool in TOOLS:
        target = source / f"arm-none-eabi-{tool}"
        link = bin_dir / f"arm-none-eabi-{tool}"
        if target.exists() and not link.exists():
            link.symlink_to(target)
    build_icount_plugin()
    env = dict(os.environ)
    env.update(PLATFORMIO_CORE_DIR=str(core), PLATFORMIO_DISABLE_UPGRADE_CHECK="true",
               PLATFORMIO_SETTING_ENABLE_TELEMETRY="false", PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL="3650")
    return env


if __name__ == "__main__":
    prepare()
    print(f"offline PlatformIO ready in {core_dir()}", file=sys.stderr)
