"""Writing artifacts: atomically, with a provenance manifest beside each.

A half-written file never carries a final name: everything is written to a
temporary name in the same folder and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import tinyml
from tinyml.errors import expected
from tinyml.paths import FIRMWARE_DIR, RUNTIME_SOURCES, TEMPLATES, sidecar

# Marks a folder tinyml generated, and as what (its JSON has a `kind`): tinyml replaces only those.
MARKER = ".tinyml-generated"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it into place on success."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes it private; the artifact is not
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(final: Path, data: bytes) -> None:
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def write_text(final: Path, text: str) -> None:
    write_bytes(final, text.encode())


def write_json(final: Path, obj: Any) -> None:
    write_text(final, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `final`; swap it into place on success."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_VERSIONED = ("numpy", "tensorflow", "tf-keras", "tflite-micro", "librosa", "jinja2", "platformio")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "tinyml": tinyml.__version__}
    for dist in _VERSIONED:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return found


def git_revision() -> str | None:
    """The git revision of the tinyml checkout, if it is one (None for an installed copy)."""
    here = Path(tinyml.__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=5).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def write_provenance(artifact: Path, *, seed: int | None, inputs: dict[str, str],
                     extra: dict[str, Any] | None = None) -> None:
    """Record how `artifact` was made: seed, input hashes, versions, git revision."""
    record = {
        "artifact": artifact.name,
        "sha256": sha256_file(artifact) if artifact.is_file() else None,
        "seed": seed,
        "inputs": inputs,
        "versions": versions(),
        "git_revision": git_revision(),
    }
    if extra:
        record.update(extra)
    write_json(sidecar(artifact), record)


def read_provenance(artifact: Path) -> dict | None:
    """The sidecar write_provenance wrote beside `artifact` (a JSON object), or None when there is none;
    one that cannot be read as a JSON object is refused in one line."""
    meta = sidecar(Path(artifact))
    if not meta.is_file():
        return None
    todo = f"Fix '{meta.name}' or delete it, and quantize the model again to write it."
    try:
        doc = json.loads(meta.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep
        raise expected("the model's sidecar as JSON", f"'{meta}' ({type(exc).__name__}: {exc})", todo) from None
    if not isinstance(doc, dict):
        raise expected("the model's sidecar as a JSON object", f"{json_type(doc)} in '{meta}'", todo)
    return doc


def json_type(value) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number") + f" ({value!r:.60})"


def write_marker(folder: Path, kind: str, summary: dict | None = None) -> None:
    """Mark `folder` as generated by tinyml, and as what kind of output."""
    (folder / MARKER).write_text(json.dumps({"kind": kind, **(summary or {})}, indent=2) + "\n")


def _marker_kind(folder: Path) -> str | None:
    try:
        return json.loads((folder / MARKER).read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def prepare_out_dir(out: Path, kind: str) -> None:
    """Refuse to replace anything but an empty folder or tinyml's own output of the same kind."""
    if not out.exists():
        return
    if not out.is_dir():
        raise expected("a folder to write into", f"'{out}', a file", "Choose another -o folder.")
    if not any(out.iterdir()):
        return
    if not (out / MARKER).exists():
        raise expected("an empty folder or one tinyml generated before", f"'{out}' holds other files",
                       "Choose another -o folder; tinyml does not overwrite what it did not write.")
    found = _marker_kind(out) or kind  # a marker without a kind comes from an earlier tinyml: its own output
    if found != kind:
        raise expected(f"a folder for a {kind} output", f"'{out}' holds tinyml's {found} output",
                       "Choose another -o folder.")


def template_env(folder: str):
    """The Jinja2 environment for firmware/templates/<folder>: undefined values are errors."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES / folder)),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def render_tree(folder: str, out: Path, values: dict) -> list[Path]:
    """Render every firmware/templates/<folder>/**/x.j2 to out/**/x."""
    env = template_env(folder)
    written = []
    for template in sorted((TEMPLATES / folder).rglob("*.j2")):
        rel = template.relative_to(TEMPLATES / folder)
        target = out / rel.with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(env.get_template(rel.as_posix()).render(**values))
        written.append(target)
    return written


def copy_sources(folder: str, names, dst: Path) -> None:
    """Copy firmware/<folder>/<name> for each name into `dst`, as they are."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(FIRMWARE_DIR / folder / name, dst / name)


def copy_runtime(dst: Path) -> None:
    """The firmware core (protocol, runtime) every generated firmware builds."""
    copy_sources("runtime", RUNTIME_SOURCES, dst)


def keep_build_cache(out: Path, tmp: Path) -> None:
    """Carry PlatformIO's build cache (.pio) from the folder being replaced into its replacement."""
    if (out / ".pio").is_dir():
        shutil.move(str(out / ".pio"), str(tmp / ".pio"))
