"""tinyml: a local, reproducible TinyML pipeline for the Arduino Nano 33 BLE Sense.

The stage packages (`tinyml.collect`, `tinyml.train`, `tinyml.quantize`,
`tinyml.codegen`, `tinyml.firmware`, `tinyml.evaluate`) live in the repository's
top-level folders of the same names; this package holds the shared vocabulary
(errors, configuration, artifact paths) and the command line.
"""

__version__ = "0.1.0"
