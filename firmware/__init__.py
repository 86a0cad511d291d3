"""firmware stage: the C/C++ sources and Jinja2 templates that generated projects are made of.

`templates/<board>/` mirrors the generated PlatformIO project tree; a file named
`x.j2` is rendered to `x`.
"""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
AOT_SOURCES = Path(__file__).resolve().parent / "aot"  # the AOT backend's kernels, copied as they are
