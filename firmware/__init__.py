"""firmware stage: the C/C++ sources and Jinja2 templates that generated projects are made of.

`templates/<board>/` mirrors the generated PlatformIO project tree; a file named
`x.j2` is rendered to `x`.
"""

from pathlib import Path

FIRMWARE_DIR = Path(__file__).resolve().parent
TEMPLATES = FIRMWARE_DIR / "templates"
AOT_SOURCES = FIRMWARE_DIR / "aot"  # the AOT backend's kernels, copied as they are
