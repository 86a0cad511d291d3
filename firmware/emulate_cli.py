"""`tinyml emulate`: run generated firmware on QEMU's Cortex-M4.

Not available in this version: the emulated firmware needs inference code we
can compile here, and TFLM's C++ sources are not installable on our machines.
It arrives with the interpreter-free C backend.
"""

from __future__ import annotations

from tinyml.errors import BadInput


def add_arguments(p) -> None:
    p.add_argument("model", nargs="?", help="int8 .tflite model")


def run(args, reporter) -> int:
    raise BadInput("Expected a command this version provides. Received: `tinyml emulate`, which needs the "
                   "interpreter-free C backend that is not built yet. For now use `tinyml inspect` (arena) and "
                   "`tinyml evaluate` (accuracy in the TFLM interpreter).")
