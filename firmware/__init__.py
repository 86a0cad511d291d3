"""firmware stage: the C/C++ sources and Jinja2 templates that generated projects are made of.

`templates/<board>/` mirrors the generated PlatformIO project tree; a file named
`x.j2` is rendered to `x`.
"""

from pathlib import Path

FIRMWARE_DIR = Path(__file__).resolve().parent
TEMPLATES = FIRMWARE_DIR / "templates"
AOT_SOURCES = FIRMWARE_DIR / "aot"  # the AOT backend's kernels, copied as they are
# runtime/: the protocol (version, event lines) and the model firmware's core, copied as they are
RUNTIME_SOURCES = ("tinyml_protocol.h", "tinyml_runtime.h", "tinyml_runtime.c")


def template_env(folder: str):
    """The Jinja2 environment for templates/<folder>: undefined values are errors."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES / folder)),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def render_tree(folder: str, out: Path, values: dict) -> list[Path]:
    """Render every templates/<folder>/**/x.j2 to out/**/x."""
    env = template_env(folder)
    written = []
    for template in sorted((TEMPLATES / folder).rglob("*.j2")):
        rel = template.relative_to(TEMPLATES / folder)
        target = out / rel.with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(env.get_template(rel.as_posix()).render(**values))
        written.append(target)
    return written
