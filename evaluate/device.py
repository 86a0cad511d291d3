"""Compare a model running on a device with the TFLM interpreter on the host.

The device is anything speaking the firmware protocol over a pyserial URL: the
board over USB, QEMU's or Renode's emulated UART over socket://.
"""

from __future__ import annotations

import numpy as np

from tinyml.errors import expected
from tinyml.protocol import Device
from tinyml.quantize.tflm import Runner, outputs_equal


def check(device: Device, model_bytes: bytes, samples: list[bytes]) -> dict:
    """Run every sample (every input's bytes, in order) on the device and on the host; report agreement
    and the device's numbers. The host interpreter is fresh and invoked in the device's order, so
    stateful models (SVDF, LSTM with state) see the same sequence on both."""
    # Ask for it: pyserial's socket:// discards what arrived before open() returned, which can be
    # the hello the firmware printed as the connection came up.
    hello = device.hello(ask=True)
    runner = Runner(model_bytes)
    want_inputs = [int(np.dtype(d["dtype"]).itemsize * np.prod(d["shape"])) for d in runner.inputs]
    if hello.get("inputs") != want_inputs:
        raise expected(f"a firmware whose model takes inputs of {want_inputs} bytes",
                       f"inputs {hello.get('inputs')} from model '{hello.get('model')}'",
                       "Flash the firmware generated from this model.")
    unit = hello.get("clock", "instructions")
    mismatches, elapsed = [], []
    for i, x in enumerate(samples):
        want = runner.invoke_bytes(x)
        got = device.infer(x)
        elapsed.append(int(got[unit]))
        if got.get("status") != 0 or not outputs_equal(runner, bytes.fromhex(got["output"]), want):
            mismatches.append(i)
    summary = device.quit()
    return {
        "model": hello.get("model"), "board": hello.get("board"), "clock": unit,
        f"{unit}_per_inference": max(elapsed), f"{unit}_min": min(elapsed),
        "flash_bytes": summary["flash_bytes"], "ram_bytes": summary["ram_bytes"],
        "arena_bytes": summary["arena_bytes"], "stack_bytes": summary["stack_bytes"],
        "outputs_match_host": not mismatches, "mismatched_inputs": mismatches, "inputs_checked": len(samples),
        "log": device.log[-20:],
    }
