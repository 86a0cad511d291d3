"""The keyword-spotting app on QEMU's Cortex-M4, fed real recordings, checked against the host.

`emulate_kws` generates the KWS project (codegen/kws.py), builds its emulator
environment offline, and runs it once under QEMU with tinyml's instruction-count
plugin. Each WAV is padded (evaluate/kws_stream.py pad_for_stream) and streamed
as one stream: optionally its first samples over the UART as "A" lines in seeded
chunk sizes, the rest from a file the firmware reads through semihosting (QEMU
moves only about 20 KB/s of hex over its emulated UART: 2.5 s of audio would take 8 s).
"R" ends each stream and resets the app. The device's inferences and detections
are compared with `stream_host` (librosa and the TFLM interpreter) on the same
samples.

The protocol is the one of firmware/emulator/kws_main.c; `tinyml.protocol.KwsDevice` is
its host side on any pyserial port.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from tinyml.codegen.kws import write_kws_project
from tinyml.detector import StreamParams
from tinyml.errors import TinymlError
from tinyml.evaluate.kws_stream import pad_for_stream, stream_host
from tinyml.evaluate.wav import read_wav
from tinyml.host.platformio import build
from tinyml.host.qemu import BOARD_HZ, MACHINE, connect, plugin_args, read_counts, running, wait_exit
from tinyml.protocol import DeviceError, KwsDevice

# The firmware's markers around each stage, as plugin spans: front end per frame, network per inference.
STAGE_SPANS = {"fe": ("tinyml_mark_fe_begin", "tinyml_mark_fe_end"),
               "net": ("tinyml_mark_begin", "tinyml_mark_end")}
MAX_FILE_CHUNK = 1024  # CHUNK in kws_main.c
MAX_LINE_SAMPLES = 700  # samples per "A" line at most (seeded sizes 1..this)


def _line_sizes(total: int, rng: np.random.Generator) -> list[int]:
    sizes = []
    while total > 0:
        n = int(min(total, rng.integers(1, MAX_LINE_SAMPLES + 1)))
        sizes.append(n)
        total -= n
    return sizes


def _compare(device: list[dict], host: dict) -> dict:
    """One stream: device events against the host reference."""
    dev_inf = [e for e in device if e["event"] == "inference"]
    dev_det = [e for e in device if e["event"] == "detection"]
    host_inf, host_det = host["inferences"], host["detections"]
    paired = list(zip(dev_inf, host_inf))
    identical = sum(1 for d, h in paired if tuple(d["scores"]) == h.scores)
    max_diff = max((int(np.max(np.abs(np.subtract(d["scores"], h.scores)))) for d, h in paired), default=0)
    timing_ok = all(d["hop"] == h.hop and d["time_ms"] == h.time_ms and d["status"] == 0 for d, h in paired)
    device_detections = [{"label": e["label"], "score": e["score"], "time_ms": e["time_ms"], "inference": e["index"]}
                         for e in dev_det]
    host_detections = [d.to_json() for d in host_det]
    return {
        "hops": host["hops"],
        "inferences": len(dev_inf), "host_inferences": len(host_inf),
        "scores_identical": identical, "max_score_diff": max_diff,
        "smoothed_identical": sum(1 for d, h in paired if tuple(d["smoothed"]) == h.smoothed),
        "timing_match": timing_ok and len(dev_inf) == len(host_inf),
        "detections_device": device_detections, "detections_host": host_detections,
        "detections_match": [(d["label"], d["time_ms"]) for d in device_detections]
        == [(d["label"], d["time_ms"]) for d in host_detections],
    }


def emulate_kws(model_path: Path, wavs: list, work: Path, labels: list[str], fe_params,
                stream_params=None, reporter=None, *, uart_ms: int = 0, seed: int = 0,
                timeout_s: float = 120.0, extra_flags: tuple[str, ...] = ()) -> dict:
    """Build the KWS app for QEMU, stream every WAV through it, compare with the host reference.

    `uart_ms` of each padded stream go over the UART ("A" lines, seeded sizes), the rest through
    semihosting in a seeded chunk size per stream; `seed` fixes both."""
    params = (stream_params or StreamParams()).checked()
    work = Path(work)
    # a WAV file, or (name, int16 samples) of a stream made on the host (evaluate/kws_quality.py)
    named = [w if isinstance(w, tuple) else (Path(w).name, read_wav(w, fe_params.sample_rate)) for w in wavs]
    streams = [(name, pad_for_stream(pcm, fe_params)) for name, pcm in named]
    if not streams:
        raise TinymlError("Expected at least one WAV file to stream. Received: none.")
    model_bytes = Path(model_path).read_bytes()
    wall = {}
    started = time.monotonic()
    project = write_kws_project(Path(model_path), work, labels, fe_params, params, extra_flags)
    if reporter:
        reporter.info(f"building the KWS firmware in {work}")
    sizes = build(work, "emulator", quiet=True)
    wall["generate_and_build_s"] = round(time.monotonic() - started, 2)

    rng = np.random.default_rng(seed)
    uart_samples = fe_params.sample_rate * uart_ms // 1000
    counts = work / ".pio" / "kws_instructions.txt"
    counts.unlink(missing_ok=True)
    plugin = plugin_args(Path(sizes["elf"]), counts, STAGE_SPANS)
    if reporter:
        reporter.info(f"streaming {len(streams)} recording(s) through QEMU {MACHINE} (-icount shift=0)")
    per_stream, device_events = [], []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tinyml-kws-") as tmp, running(Path(sizes["elf"]), plugin) as (url, proc):
        link = connect(url, proc)
        try:
            dev = KwsDevice(link, timeout_s)
            hello = dev.hello()
            _check_hello(hello, labels, fe_params, params)
            for i, (name, pcm) in enumerate(streams):
                head = pcm[:uart_samples]
                chunk = int(rng.integers(1, MAX_FILE_CHUNK + 1))
                dev.send_audio(head, _line_sizes(len(head), rng))
                events = []
                if len(pcm) > len(head):
                    path = Path(tmp) / f"stream{i}.raw"
                    pcm[len(head):].astype("<i2").tofile(path)
                    events += dev.send_file(path, chunk)
                events += dev.end_stream()
                device_events.append(events)
                per_stream.append({"wav": name, "samples": len(pcm), "uart_samples": len(head), "file_chunk": chunk})
            summary = dev.quit()
        finally:
            link.close()
        wait_exit(proc, timeout_s)
    wall["emulate_s"] = round(time.monotonic() - started, 2)

    started = time.monotonic()
    for entry, events, (_, pcm) in zip(per_stream, device_events, streams):
        entry.update(_compare(events, stream_host(pcm, model_bytes, labels, fe_params, params)))
    wall["host_s"] = round(time.monotonic() - started, 2)

    exact = read_counts(counts) if plugin else {}
    frames, inferences = summary["frames"], summary["inferences"]
    fe, net = exact.get("fe", []), exact.get("net", [])
    if plugin and len(fe) == frames and len(net) == inferences and frames and inferences:
        counter, fe_mean, fe_max, net_mean, net_max = ("QEMU plugin, exact", round(float(np.mean(fe))), max(fe),
                                                       round(float(np.mean(net))), max(net))
    else:
        counter = "SysTick under -icount shift=0 (40-instruction ticks)"
        fe_mean = round(summary["frontend_instructions"] / max(frames, 1))
        net_mean = round(summary["network_instructions"] / max(inferences, 1))
        fe_max, net_max = summary["frontend_max_instructions"], summary["network_max_instructions"]
    hop_cycles = BOARD_HZ * fe_params.hop / fe_params.sample_rate  # cycles between two frames at 64 MHz
    total_inf = sum(s["inferences"] for s in per_stream)
    return {
        "model": str(model_path), "labels": list(labels), "stream_params": params.to_json(),
        "streams": per_stream,
        "detections_match": all(s["detections_match"] for s in per_stream),
        "timing_match": all(s["timing_match"] for s in per_stream),
        "inferences": total_inf,
        "scores_identical_fraction": round(sum(s["scores_identical"] for s in per_stream) / max(total_inf, 1), 4),
        "max_score_diff": max(s["max_score_diff"] for s in per_stream),
        "frames": frames,
        "instruction_counter": counter,
        "frontend_instructions_per_frame": fe_mean, "frontend_instructions_max": fe_max,
        "network_instructions_per_inference": net_mean, "network_instructions_max": net_max,
        "frontend_instructions_per_frame_systick": round(summary["frontend_instructions"] / max(frames, 1)),
        "network_instructions_per_inference_systick": round(summary["network_instructions"] / max(inferences, 1)),
        "latency_ms_at_64mhz": {"frontend": round(fe_mean / BOARD_HZ * 1e3, 3),
                                "network": round(net_mean / BOARD_HZ * 1e3, 3)},
        # The share of a 64 MHz core the app needs in real time: one frame per hop, the model every infer_every.
        "realtime_load_at_64mhz": round((fe_mean + net_mean / params.infer_every) / hop_cycles, 4),
        # The smallest kws.infer_every that keeps up in real time (None: the front end alone cannot).
        "realtime_min_infer_every": math.ceil(net_mean / (hop_cycles - fe_mean)) if hop_cycles > fe_mean else None,
        "latency_assumption": "one instruction per cycle at 64 MHz",
        "flash_bytes": summary["flash_bytes"], "ram_bytes": summary["ram_bytes"],
        "stack_bytes": summary["stack_bytes"], "arena_bytes": summary["arena_bytes"],
        "app_bytes": hello.get("app_bytes"),
        "flash_budget": sizes["flash_budget"], "ram_budget": sizes["ram_budget"],
        "wall_s": wall, "project": str(work), "input_scale": project["input_scale"],
        "input_zero_point": project["input_zero_point"],
    }


def _check_hello(hello: dict, labels: list[str], fe_params, params) -> None:
    want = {"app": "kws", "labels": list(labels), "sample_rate": fe_params.sample_rate, "hop": fe_params.hop,
            "frames": fe_params.frames, "mel_bands": fe_params.mel_bands, "normalize": fe_params.normalize,
            "infer_every": params.infer_every,
            "average": params.average, "threshold": params.threshold, "suppression_ms": params.suppression_ms}
    got = {k: hello.get(k) for k in want}
    if got != want:
        raise DeviceError(f"Expected the KWS firmware built for {want}. Received: {got}.")
