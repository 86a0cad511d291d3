"""firmware stage: what gets built. The C/C++ sources, the Jinja2 templates generated projects are made of
(`templates/<folder>/` mirrors a generated tree; `x.j2` renders to `x`), the offline PlatformIO platform,
and the `build` and `flash` commands. Their locations are in tinyml.paths (FIRMWARE_DIR, TEMPLATES); the
host code that builds and runs firmware is tinyml.host.
"""
