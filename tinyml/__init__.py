"""tinyml: a local, reproducible TinyML pipeline for the Arduino Nano 33 BLE Sense.

The stage packages (`tinyml.collect`, `tinyml.train`, `tinyml.quantize`,
`tinyml.codegen`, `tinyml.firmware`, `tinyml.evaluate`) live in the repository's
top-level folders of the same names; this package, below all of them, holds the shared
vocabulary (errors, configuration, artifact paths and generated folders, C names, the device
protocol and links, the keyword detector), the host code that builds and runs firmware (`host/`),
and what drives several stages: the command line, the demos and `tinyml tune` (`tune/`).
"""

__version__ = "0.1.0"
