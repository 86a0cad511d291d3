"""`tinyml collect` end to end without a board: tinyml's streaming firmware on QEMU, over socket://."""

import argparse
import json
import socket
import threading
import time
import wave

import numpy as np
import pytest
import serial

from tinyml.cli import main
from tinyml.collect import synthetic_stream
from tinyml.collect.dataset import load
from tinyml.collect.session import collect
from tinyml.log import Reporter

from conftest import one_error_line, tool
from transports import FaultyPort


@pytest.fixture(autouse=True)
def _tools():
    tool("qemu-system-arm")
    tool("arm-none-eabi-gcc")


def test_imu_and_audio_arrive_sample_for_sample(tmp_path):
    assert main(["--quiet", "collect", "--emulate", "--sensor", "imu", "--label", "wave", "--seconds", "4",
                 "-o", str(tmp_path / "imu")]) == 0
    assert main(["--quiet", "collect", "--emulate", "--sensor", "mic", "--label", "yes", "--seconds", "3",
                 "-o", str(tmp_path / "mic")]) == 0
    (imu,), (mic,) = load(tmp_path / "imu").recordings, load(tmp_path / "mic").recordings
    out = tmp_path / "mic"
    assert (imu.samples, mic.samples) == (4 * 119, 3 * 16000)
    for rec in (imu, mic):
        assert rec.quality == {"frames": rec.quality["frames"], "frames_lost": 0, "frames_corrupted": 0,
                               "frames_duplicated": 0, "samples_missing": 0}
    scale = np.array([0.000122] * 3 + [0.07] * 3)
    raw = np.round(load(tmp_path / "imu").read(imu).astype(np.float64) / scale).astype(np.int64)
    np.testing.assert_array_equal(raw, synthetic_stream.expected(1, imu.samples))
    with wave.open(str(out / mic.file)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    np.testing.assert_array_equal(pcm, synthetic_stream.expected(2, mic.samples)[:, 0])


def _args(**kw):
    base = dict(sensor="imu", label="punch", seconds=2.0, count=3, split="train", strict=False, format="binary",
                rate=None, timeout=5.0)
    base.update(kw)
    return argparse.Namespace(**base)


def test_faults_are_counted_and_completed_recordings_survive(tmp_path):
    from tinyml.collect.emulated import emulated_streamer

    out = tmp_path / "data"
    with emulated_streamer() as url:
        link = serial.serial_for_url(url, timeout=0.2)
        port = FaultyPort(link, corrupt=[(0, 3), (0, 11)], drop=[(1, 5), (1, 6), (1, 20)], disconnect=(2, 9))
        code = collect(_args(), out, Reporter(quiet=True), port=port)
        link.close()
    assert code == 1  # the link died during the third recording
    assert port.injected == {"dropped": 3, "corrupted": 2}
    ds = load(out)
    assert [r.file for r in ds.recordings] == ["punch/punch-0000.csv", "punch/punch-0001.csv"]
    first, second = ds.recordings
    assert (first.quality["frames_corrupted"], first.quality["frames_lost"]) == (2, 2)
    assert (second.quality["frames_corrupted"], second.quality["frames_lost"]) == (0, 3)
    assert first.quality["samples_missing"] == 2 * 8 and second.quality["samples_missing"] == 3 * 8
    # What was written is intact: hashes match and every sample that arrived is the right one.
    scale = np.array([0.000122] * 3 + [0.07] * 3)
    want = synthetic_stream.expected(1, 238)
    for rec, missing in ((first, (3, 11)), (second, (5, 6, 20))):
        keep = np.ones(238, dtype=bool)
        for seq in missing:
            keep[seq * 8:(seq + 1) * 8] = False
        raw = np.round(ds.read(rec).astype(np.float64) / scale).astype(np.int64)
        np.testing.assert_array_equal(raw, want[keep])
    assert not [p for p in out.rglob(".*")]  # no temporary files left


def test_ctrl_c_keeps_completed_recordings(tmp_path):
    from tinyml.collect.emulated import emulated_streamer

    out = tmp_path / "data"
    with emulated_streamer() as url:
        link = serial.serial_for_url(url, timeout=0.2)
        code = collect(_args(count=3), out, Reporter(quiet=True), port=FaultyPort(link, interrupt=(1, 4)))
        link.close()
    assert code == 130
    assert [r.file for r in load(out).recordings] == ["punch/punch-0000.csv"]


def test_strict_refuses_a_lossy_recording(tmp_path):
    from tinyml.collect.emulated import emulated_streamer

    out = tmp_path / "data"
    with emulated_streamer() as url:
        link = serial.serial_for_url(url, timeout=0.2)
        with pytest.raises(Exception, match="lossless"):
            collect(_args(count=1, strict=True), out, Reporter(quiet=True),
                    port=FaultyPort(link, drop=[(0, 2)]))
        link.close()
    assert not (out / "manifest.json").exists() or not load_or_empty(out)


def load_or_empty(out):
    try:
        return load(out).recordings
    except Exception:
        return ()


def _serve_lines(rate_hz: float, seconds: float):
    """A sketch printing 'ax,ay,az,gx,gy,gz' lines at rate_hz, behind a real TCP socket."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def run():
        conn, _ = server.accept()
        time.sleep(0.3)  # a sketch booting; pyserial's socket:// drops bytes that beat open()
        conn.sendall(b"Started\r\nax,ay,az,gx,gy,gz\r\n")
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < seconds:
            due = start + i / rate_hz
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                conn.sendall(f"{i * 0.001:.3f}\t-0.5 1.0,{i},2,3\r\n".encode())
            except OSError:
                break
            i += 1
        conn.close()
        server.close()

    threading.Thread(target=run, daemon=True).start()
    return f"socket://127.0.0.1:{port}"


def test_lines_format_measures_the_rate(tmp_path):
    url = _serve_lines(100.0, 6.0)
    out = tmp_path / "data"
    assert main(["--quiet", "collect", "--port", url, "--format", "lines", "--label", "tilt", "--seconds", "1",
                 "-o", str(out)]) == 0
    rec = load(out).recordings[0]
    assert abs(rec.sample_rate - 100) <= 5 and rec.samples == rec.sample_rate
    assert rec.quality["lines_skipped"] == 2
    values = load(out).read(rec)
    assert values.shape[1] == 6 and np.all(np.diff(values[:, 3]) == 1)  # consecutive lines, none lost


def test_lines_rate_can_be_given(tmp_path):
    url = _serve_lines(200.0, 3.0)
    out = tmp_path / "data"
    assert main(["--quiet", "collect", "--port", url, "--format", "lines", "--rate", "50", "--label", "t",
                 "--seconds", "2", "-o", str(out)]) == 0
    rec = load(out).recordings[0]
    assert rec.sample_rate == 50 and rec.samples == 100


def test_a_port_that_does_not_exist_is_one_line(tmp_path, capsys):
    assert main(["collect", "--port", "/dev/ttyNOPE0", "--label", "x", "-o", str(tmp_path / "d")]) == 2
    assert "ttyNOPE0" in one_error_line(capsys.readouterr().err)


def test_a_dataset_takes_one_kind_of_recording(tmp_path, capsys):
    out = str(tmp_path / "d")
    assert main(["--quiet", "collect", "--emulate", "--sensor", "imu", "--label", "a", "--seconds", "1", "-o", out]) == 0
    capsys.readouterr()
    assert main(["collect", "--emulate", "--sensor", "mic", "--label", "b", "--seconds", "1", "-o", out]) == 2
    assert "another dataset folder" in capsys.readouterr().err.strip().splitlines()[-1]
    assert len(load(tmp_path / "d").recordings) == 1


def test_label_is_required(tmp_path, capsys):
    assert main(["collect", "--emulate", "-o", str(tmp_path / "d")]) == 2
    assert "--label" in one_error_line(capsys.readouterr().err)


def test_streamer_firmware_project_is_written_and_valid(tmp_path):
    from platformio.project.config import ProjectConfig

    assert main(["--quiet", "collect", "--firmware", str(tmp_path / "fw")]) == 0
    cfg = ProjectConfig(str(tmp_path / "fw" / "platformio.ini"))
    assert cfg.validate() is True and cfg.envs() == ["nano33ble", "emulator"]
    assert (tmp_path / "fw" / "src" / "board" / "main.cpp").is_file()


def test_a_stream_left_running_by_an_earlier_session_does_not_leak_in(tmp_path):
    from tinyml.collect import frames as fr
    from tinyml.collect.emulated import emulated_streamer

    out = tmp_path / "data"
    with emulated_streamer() as url:
        link = serial.serial_for_url(url, timeout=0.2)
        link.write(fr.command(fr.CMD_START, fr.IMU))  # as if a previous collect died without stopping
        time.sleep(0.3)
        assert collect(_args(count=1), out, Reporter(quiet=True), port=link) == 0
        link.close()
    (rec,) = load(out).recordings
    assert rec.quality["frames_lost"] == 0 and rec.samples == 238
    scale = np.array([0.000122] * 3 + [0.07] * 3)
    raw = np.round(load(out).read(rec).astype(np.float64) / scale).astype(np.int64)
    np.testing.assert_array_equal(raw, synthetic_stream.expected(1, 238))


def test_device_clock_wrap_keeps_timestamps_increasing():
    from tinyml.collect import frames as fr
    from tinyml.collect.stream import StreamInfo, Streamer

    info = StreamInfo(1, "imu", 119, 6, 8, ["ax", "ay", "az", "gx", "gy", "gz"], ["g"] * 3 + ["dps"] * 3, [1.0] * 6)
    port = serial.serial_for_url("loop://", timeout=0.05)
    streamer = Streamer(port, timeout_s=2)
    # Frames 0..3 straddle the 2^32 microsecond wrap, then the device confirms the stop.
    canned = b"".join(fr.encode(fr.Frame(fr.DATA, fr.IMU, fr.FORMAT_INT16, s, (2**32 - 100_000 + s * 67_226) % 2**32,
                                         8, 6, bytes(96))) for s in range(4))
    canned += fr.encode(fr.Frame(fr.STOPPED, fr.IMU, fr.FORMAT_NONE, 4, 0, 0, 0, (32).to_bytes(4, "little")))
    streamer._queue.extend(fr.FrameParser().feed(canned))  # the device's answer, already on the wire
    capture = streamer.record(info, 32)
    assert np.all(np.diff(capture.timestamps_us) > 0)


@pytest.mark.parametrize("label", ["../escape", "a/b", "", "_x"])
def test_labels_that_are_not_names_are_refused(tmp_path, capsys, label):
    assert main(["collect", "--emulate", "--label", label, "-o", str(tmp_path / "d")]) == 2
    assert "--label" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "d").exists()
