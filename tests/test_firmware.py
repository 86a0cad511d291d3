import subprocess

import pytest

from tinyml.cli import main
from tinyml.errors import BadInput
from tinyml.host.platformio import check_budget, elf_sizes
from tinyml.link import find_board_port

from conftest import one_error_line, tool

FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-Os", "--specs=nosys.specs"]


def _elf(tmp_path, const_bytes: int, ram_bytes: int):
    src = tmp_path / "prog.c"
    src.write_text(f"const unsigned char table[{const_bytes}] = {{1}};\n"
                   f"unsigned char buffer[{ram_bytes}];\n"
                   "int counter = 3;\n"
                   "int main(void) { buffer[counter] = table[counter]; return buffer[3]; }\n")
    elf = tmp_path / "prog.elf"
    subprocess.run([tool("arm-none-eabi-gcc"), *FLAGS, str(src), "-o", str(elf)], check=True)
    return elf


def test_sizes_match_binutils(tmp_path):
    elf = _elf(tmp_path, 5000, 3000)
    out = subprocess.run([tool("arm-none-eabi-size"), "-B", str(elf)], capture_output=True, text=True, check=True)
    text, data, bss = (int(v) for v in out.stdout.splitlines()[1].split()[:3])
    sizes = elf_sizes(elf)
    assert (sizes.text, sizes.data, sizes.bss) == (text, data, bss)
    assert sizes.flash == text + data and sizes.ram == data + bss


def test_too_large_for_the_nrf52840_is_refused_with_numbers(tmp_path):
    elf = _elf(tmp_path, 1_100_000, 100)
    with pytest.raises(BadInput, match=r"flash 1,1\d\d,\d\d\d B > 983,040 B"):
        check_budget(elf_sizes(elf), "nano33ble")
    elf = _elf(tmp_path, 100, 300_000)
    with pytest.raises(BadInput, match=r"RAM 30\d,\d\d\d B > 262,144 B"):
        check_budget(elf_sizes(elf), "nano33ble")


def test_fitting_firmware_passes(tmp_path):
    report = check_budget(elf_sizes(_elf(tmp_path, 20_000, 8_000)), "nano33ble")
    assert report["flash_budget"] == 983_040 and report["ram_budget"] == 262_144


def test_build_needs_a_platformio_project(tmp_path, capsys):
    assert main(["build", str(tmp_path)]) == 2
    assert "platformio.ini" in one_error_line(capsys.readouterr().err)


def test_no_board_on_usb_is_one_line(monkeypatch):
    from serial.tools import list_ports

    monkeypatch.setattr(list_ports, "comports", lambda: [])
    with pytest.raises(BadInput, match="serial ports: none"):
        find_board_port()
