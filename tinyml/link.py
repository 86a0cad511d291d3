"""Device links: a pyserial URL opened for the firmware protocols, and the board found by its USB IDs.

A link is any pyserial URL: the board's /dev/ttyACM0, QEMU's or Renode's socket://, loop:// in tests.
"""

from __future__ import annotations

from tinyml.errors import expected

BAUD = 115200
NANO33BLE_USB_VID = 0x2341
NANO33BLE_USB_PIDS = (0x005A, 0x805A)  # bootloader, sketch


def open_link(url: str, timeout_s: float, fix: str):
    """The open pyserial port at `url` (reads time out after `timeout_s`); one line, saying `fix`, if it
    does not open."""
    import serial

    try:
        port = serial.serial_for_url(url, do_not_open=True, baudrate=BAUD, timeout=timeout_s)
        port.open()
    except (serial.SerialException, ValueError) as exc:
        raise expected("a serial port or pyserial URL that opens", f"'{url}' ({exc})", fix) from None
    return port


def find_board_port() -> str:
    """The serial device of the Nano 33 BLE plugged in over USB."""
    from serial.tools import list_ports

    ports = list(list_ports.comports())
    for port in ports:
        if port.vid == NANO33BLE_USB_VID and port.pid in NANO33BLE_USB_PIDS:
            return port.device
    seen = ", ".join(f"{p.device} ({p.vid or 0:04x}:{p.pid or 0:04x})" for p in ports) or "none"
    raise expected("a Nano 33 BLE on USB (VID 2341, PID 005a or 805a)", f"serial ports: {seen}",
                   "Plug the board in (double-tap reset for the bootloader) or pass --port.")
