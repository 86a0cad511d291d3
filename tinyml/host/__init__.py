"""Host code that builds and runs firmware, shared by every stage that does: PlatformIO with its offline
platform (platformio, offline), the board's TFLM library built for the emulated core (tflm_lib), the
compile checks against the board's real core and libraries (board_check), QEMU (qemu) and its per-op
instruction profile (profile). The firmware sources themselves are in firmware/.
"""
