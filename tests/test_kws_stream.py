"""Keyword spotting on a stream: the host reference (evaluate/kws_stream.py), the C core
(firmware/kws/) compiled for the host, and the whole app on QEMU against the host.

Integer logic (windows, scores, smoothing, detections) must agree exactly; the only float
step is the front end, where librosa and the C code agree to a stated tolerance.
"""

import ctypes
import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import serial

from tinyml.detector import Detection, Detector, StreamParams, check_kws_model, time_ms
from tinyml.errors import BadInput
from tinyml.evaluate.kws_stream import pad_for_stream, stream_logmel
from tinyml.train.frontend import FrontendParams, logmel, normalized, quantize_features

from conftest import tool

LABELS = ["silence", "unknown", "yes", "no"]
CLIPS = {"yes": "yes", "no": "no", "noise": "unknown", "silence": "silence"}  # WAV -> the label it teaches
FE = FrontendParams(normalize="mean")  # a project's default
RAW = FrontendParams()  # frontend.normalize = "none"
SCALE, ZERO_POINT = 0.0627, 92  # an input quantization for the log-mel range, for the tests without a model


def stream_features(pcm, fe, scale, zero_point):
    """stream_logmel's frames, each quantized to int8 on its own (the model's input without normalization)."""
    feats, silent = stream_logmel(pcm, fe)
    return quantize_features(feats, scale, zero_point), quantize_features(silent[None, :], scale, zero_point)[0]


def _wav(reference, name):
    from tinyml.evaluate.wav import read_wav

    return read_wav(reference / "micro_speech" / f"{name}_1000ms.wav", FE.sample_rate)


# ---- the test model: a small KWS CNN trained in seconds on windows of the reference clips ----


def _training_windows(reference):
    """Windows of each padded clip as the stream produces them: the clip's label while the window
    holds at least 0.8 s of it, "silence" while it holds at most 0.1 s."""
    xs, ys = [], []
    silent = logmel(np.zeros(FE.fft_size, np.int16), FE)[0]
    for name, label in CLIPS.items():
        pcm = _wav(reference, name)
        for gain in (0.5, 1.0, 2.0):
            stream = pad_for_stream(np.clip(pcm * gain, -32768, 32767).astype(np.int16), FE)
            feats = logmel(np.concatenate([np.zeros(FE.fft_size - FE.hop, np.int16), stream]), FE)
            rows = np.concatenate([np.repeat(silent[None], FE.frames, 0), feats])
            for k in range(1, len(feats) + 1):
                end = time_ms(k, FE.hop, FE.sample_rate)
                overlap = max(0, min(end, 1500) - max(end - FE.frames * 20, 500))  # the clip is 500..1500 ms
                if overlap >= 800 or overlap <= 100:
                    xs.append(normalized(rows[k:k + FE.frames], FE))
                    ys.append(LABELS.index(label) if overlap >= 800 else 0)
    return np.stack(xs)[..., None].astype(np.float32), np.array(ys)


@pytest.fixture(scope="module")
def kws_model(reference, tmp_path_factory) -> Path:
    from tinyml import tf as tfload
    from tinyml.quantize.ptq import convert_int8

    x, y = _training_windows(reference)
    tf, keras = tfload.load()
    tfload.set_seed(7)  # seeds and deterministic ops: the same model on every run
    L = keras.layers
    layers = [L.Conv2D(8, (10, 4), strides=(2, 2), padding="same", activation="relu"),
              L.DepthwiseConv2D((3, 3), padding="same", activation="relu"),
              L.Conv2D(16, (1, 1), activation="relu"),
              L.AveragePooling2D(pool_size=(13, 10)), L.Flatten(),
              L.Dense(len(LABELS), activation="softmax")]

    def build(batch):
        inputs = x_ = keras.Input(shape=FE.input_shape, batch_size=batch)
        for layer in layers:
            x_ = layer(x_)
        return keras.Model(inputs, x_)

    trainer = build(None)  # trains in batches; the batch-1 model shares its layers and converts cleanly
    trainer.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    trainer.fit(x, y, epochs=20, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("kws") / "kws_int8.tflite"
    path.write_bytes(convert_int8(build(1), x[::7]))
    return path


# ---- framing: what the stream's k-th frame is ----

@pytest.mark.parametrize("hop_ms", [20.0, 40.0])  # hop 320 < fft_size 512, and hop 640 > fft_size
def test_frame_k_is_the_last_fft_size_samples_after_k_hops(hop_ms):
    fe = FrontendParams(hop_ms=hop_ms)
    pcm = (np.random.default_rng(1).normal(0, 3000, 7 * fe.hop + 123)).astype(np.int16)
    feats, silent = stream_features(pcm, fe, SCALE, ZERO_POINT)
    assert len(feats) == 7  # one frame per whole hop; the 123 samples left wait for the next hop
    heard = np.concatenate([np.zeros(fe.fft_size, np.int16), pcm])  # zeros before the stream
    for k in range(1, 8):
        last = heard[fe.fft_size + k * fe.hop - fe.fft_size:fe.fft_size + k * fe.hop]
        want = quantize_features(logmel(last, fe), SCALE, ZERO_POINT)[0]
        np.testing.assert_array_equal(feats[k - 1], want)
    np.testing.assert_array_equal(silent, quantize_features(logmel(np.zeros(fe.fft_size, np.int16), fe),
                                                            SCALE, ZERO_POINT)[0])


def test_a_stream_shorter_than_one_hop_has_no_frames():
    feats, _ = stream_features(np.ones(FE.hop - 1, np.int16), FE, SCALE, ZERO_POINT)
    assert feats.shape == (0, FE.mel_bands)


def test_pad_for_stream_puts_the_clip_between_zeros():
    clip = np.arange(1, 16001, dtype=np.int16)
    s = pad_for_stream(clip, FE)
    assert len(s) == 8000 + 16000 + 16000 and not s[:8000].any() and not s[24000:].any()
    np.testing.assert_array_equal(s[8000:24000], clip)


# ---- smoothing and detection on constructed score sequences ----


def _run(scores, params, labels=LABELS, hop_ms=20):
    """Feed int8 score vectors, one per inference at hops infer_every, 2*infer_every, ..."""
    det = Detector(list(labels), params)
    out = []
    for i, s in enumerate(scores):
        k = (i + 1) * params.infer_every
        out.append(det.update(k, k * hop_ms, s))
    return out


def q(*uint8):  # scores as the model writes them: int8 = uint8 - 128
    return [v - 128 for v in uint8]


def test_smoothing_is_the_integer_mean_of_the_scores_held():
    p = StreamParams(infer_every=1, average=3, threshold=256 - 1, suppression_ms=0)
    got = [inf.smoothed for inf, _ in _run([q(10, 0, 1, 0), q(11, 0, 2, 0), q(0, 0, 0, 0), q(0, 0, 0, 255)], p)]
    assert got == [(10, 0, 1, 0), (10, 0, 1, 0), (7, 0, 1, 0), (3, 0, 0, 85)]  # floor of the mean of 1, 2, 3, 3


def test_a_keyword_is_detected_at_the_threshold_not_below():
    p = StreamParams(infer_every=5, average=1, threshold=160, suppression_ms=0)
    res = _run([q(0, 0, 159, 0), q(0, 0, 160, 0)], p)
    assert res[0][1] is None
    assert res[1][1] == Detection("yes", 160, 200, 1)  # hop 10 of 20 ms


def test_silence_and_unknown_are_never_detected_and_ties_go_to_the_lower_index():
    p = StreamParams(infer_every=1, average=1, threshold=0, suppression_ms=0)
    res = _run([q(255, 0, 0, 0), q(0, 255, 0, 0), q(0, 200, 200, 0), q(0, 0, 90, 90), q(0, 0, 0, 0)], p)
    assert [d.label if d else None for _, d in res] == [None, None, None, "yes", None]
    # the last: all zero, "silence" (index 0) wins the tie, so no keyword even at threshold 0


def test_suppression_counts_stream_time_since_the_last_detection_of_any_label():
    p = StreamParams(infer_every=5, average=1, threshold=100, suppression_ms=300)  # inferences 100 ms apart
    res = _run([q(0, 0, 200, 0)] * 4 + [q(0, 0, 0, 200)] * 4, p)
    # again exactly 300 ms later; "no" waits for 300 ms after the last "yes" too
    assert [(d.label, d.time_ms) for _, d in res if d] == [("yes", 100), ("yes", 400), ("no", 700)]
    p = StreamParams(infer_every=5, average=1, threshold=100, suppression_ms=1000)
    res = _run([q(0, 0, 200, 0)] * 3 + [q(0, 0, 0, 200)] * 10, p)
    assert [(d.label, d.time_ms) for _, d in res if d] == [("yes", 100), ("no", 1100)]


def test_stream_params_are_checked_with_one_line():
    for bad in (StreamParams(infer_every=0), StreamParams(average=0), StreamParams(average=17),
                StreamParams(threshold=256), StreamParams(suppression_ms=-1)):
        with pytest.raises(BadInput, match=r"^Expected kws\.\w+ .*Received: -?\d+\.$"):
            bad.checked()


# ---- the C core on the host: same windows, same decisions ----

class _Params(ctypes.Structure):
    _fields_ = [("infer_every", ctypes.c_uint32), ("average", ctypes.c_uint32), ("threshold", ctypes.c_uint32),
                ("suppression_ms", ctypes.c_uint32)]


class _Inference(ctypes.Structure):
    _fields_ = [("index", ctypes.c_uint32), ("hop", ctypes.c_uint32), ("time_ms", ctypes.c_uint32),
                ("status", ctypes.c_int), ("scores", ctypes.POINTER(ctypes.c_int8)),
                ("smoothed", ctypes.POINTER(ctypes.c_uint8))]


class _Detection(ctypes.Structure):
    _fields_ = [("label", ctypes.c_int), ("score", ctypes.c_uint32), ("time_ms", ctypes.c_uint32),
                ("index", ctypes.c_uint32), ("hop", ctypes.c_uint32)]


_INVOKE = ctypes.CFUNCTYPE(ctypes.c_int)
_STAGE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)
_ON_INFERENCE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_Inference))
_ON_DETECTION = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_Detection))


class _Model(ctypes.Structure):
    _fields_ = [("input", ctypes.c_void_p), ("output", ctypes.c_void_p), ("invoke", _INVOKE)]


class _Hooks(ctypes.Structure):
    _fields_ = [("user", ctypes.c_void_p), ("stage", _STAGE), ("inference", _ON_INFERENCE),
                ("detection", _ON_DETECTION)]


class HostKws:
    """firmware/kws/tinyml_kws.c and the generated front end, compiled for the host (the firmware's
    flags: -ffp-contract=off, warnings as errors). The model is a Python function of the window."""

    def __init__(self, workdir: Path, params: StreamParams, model, fe=FE, scale=SCALE, zero_point=ZERO_POINT,
                 raw_params: tuple[int, int, int, int] | None = None):
        from tinyml.codegen.aot.host import HOST_FLAGS
        from tinyml.codegen.frontend import write_frontend
        from tinyml.codegen.kws import write_kws_core

        files = write_frontend(fe, workdir, scale, zero_point) + write_kws_core(workdir, LABELS, params)
        # One library per content: never rewrite a library already loaded.
        lib = workdir / f"libkws_{hashlib.sha256(b''.join(f.read_bytes() for f in files)).hexdigest()[:16]}.so"
        if not lib.exists():
            proc = subprocess.run([tool("gcc"), *HOST_FLAGS, "-shared", "-fPIC", "-I", str(workdir),
                                   *[str(f) for f in files if f.suffix == ".c"], "-o", str(lib), "-lm"],
                                  capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
        self.lib = ctypes.CDLL(str(lib))
        self.fe, self.model = fe, model
        self.window = (ctypes.c_int8 * (fe.frames * fe.mel_bands))()
        self.scores = (ctypes.c_int8 * len(LABELS))()
        self.windows, self.inferences, self.detections, self.stages = [], [], [], []
        self._callbacks = (_INVOKE(self._invoke), _STAGE(lambda u, s, b: self.stages.append((s, b))),
                           _ON_INFERENCE(self._inference), _ON_DETECTION(self._detection))
        self._model = _Model(ctypes.cast(self.window, ctypes.c_void_p), ctypes.cast(self.scores, ctypes.c_void_p),
                             self._callbacks[0])
        self._hooks = _Hooks(None, *self._callbacks[1:])
        self.app = ctypes.create_string_buffer(1 << 20)  # tm_kws is a few KB
        p = _Params(*(raw_params or (params.infer_every, params.average, params.threshold, params.suppression_ms)))
        self.init_status = self.lib.tm_kws_init(self.app, ctypes.byref(p), ctypes.byref(self._model),
                                                ctypes.byref(self._hooks))

    def _invoke(self) -> int:
        window = np.frombuffer(self.window, dtype=np.int8).reshape(self.fe.frames, self.fe.mel_bands).copy()
        self.windows.append(window)
        self.scores[:] = [int(v) for v in self.model(window)]
        return 0

    def _inference(self, _, e):
        e = e.contents
        self.inferences.append((e.index, e.hop, e.time_ms, tuple(e.scores[i] for i in range(len(LABELS))),
                                tuple(e.smoothed[i] for i in range(len(LABELS)))))

    def _detection(self, _, d):
        d = d.contents
        self.detections.append(Detection(LABELS[d.label], d.score, d.time_ms, d.index))

    def push(self, pcm: np.ndarray) -> int:
        pcm = np.ascontiguousarray(pcm, dtype=np.int16)
        return self.lib.tm_kws_push(self.app, pcm.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(len(pcm)))


def _random_scores(rng, n):
    """Score sequences with plateaus, ties and values near a threshold."""
    base = rng.integers(0, 256, size=(n, len(LABELS)))
    base[rng.random(n) < 0.3] = base[0]  # repeated vectors
    ties = rng.random(n) < 0.25
    base[ties, 3] = base[ties, 2]
    near = rng.random(n) < 0.3
    base[near, 2] = 150 + rng.integers(0, 20, near.sum())
    return (base - 128).astype(np.int8)


@pytest.mark.parametrize("params", [StreamParams(), StreamParams(infer_every=1, average=1, threshold=0, suppression_ms=0),
                                    StreamParams(infer_every=2, average=16, threshold=140, suppression_ms=60),
                                    StreamParams(infer_every=3, average=2, threshold=190, suppression_ms=120)])
def test_c_core_decides_as_the_host_on_constructed_scores(tmp_path, params):
    rng = np.random.default_rng(params.infer_every * 100 + params.average)
    sequence = _random_scores(rng, 120)
    it = iter(sequence)
    app = HostKws(tmp_path, params, lambda window: next(it))
    assert app.init_status == 0
    hops = 0
    while len(app.inferences) < len(sequence):  # silence, in chunks of every size
        n = int(rng.integers(1, 3 * FE.hop))
        hops += app.push(np.zeros(n, np.int16))
    det = Detector(LABELS, params)
    host_inf, host_det = [], []
    for i, scores in enumerate(sequence):
        k = (i + 1) * params.infer_every
        inf, d = det.update(k, time_ms(k, FE.hop, FE.sample_rate), scores)
        host_inf.append((inf.index, inf.hop, inf.time_ms, inf.scores, inf.smoothed))
        host_det += [d] if d else []
    assert host_det, "the sequence should make detections"
    assert app.inferences == host_inf
    assert app.detections == host_det
    # front end per hop, network per inference, each bracketed begin/end
    fe_spans = [b for s, b in app.stages if s == 0]
    assert fe_spans == [1, 0] * hops and [b for s, b in app.stages if s == 1] == [1, 0] * len(sequence)


@pytest.mark.parametrize("raw", [(0, 3, 160, 1000), (5, 0, 160, 1000), (5, 17, 160, 1000), (5, 3, 256, 1000)])
def test_c_core_refuses_params_out_of_range(tmp_path, raw):
    assert HostKws(tmp_path, StreamParams(), lambda w: np.zeros(4), raw_params=raw).init_status == -1
    assert HostKws(tmp_path, StreamParams(), lambda w: np.zeros(4), raw_params=(1, 16, 255, 0)).init_status == 0


@pytest.mark.parametrize("fe", [FE, RAW], ids=["normalized", "raw"])
def test_c_core_windows_are_the_streams_frames(reference, tmp_path, fe):
    """The window the C core hands the model equals the host's window of the same stream: bit for bit
    against the same C front end framed and normalized by the host, within one step against librosa."""
    from tinyml.codegen.frontend import HostFrontend
    from tinyml.evaluate.kws_stream import window_input

    params = StreamParams(infer_every=3)
    app = HostKws(tmp_path / "app", params, lambda window: np.full(len(LABELS), -128), fe=fe)
    stream = pad_for_stream(_wav(reference, "yes"), fe)
    rng = np.random.default_rng(5)
    start = 0
    while start < len(stream):  # chunks of 1 to 1000 samples
        n = int(rng.integers(1, 1001))
        app.push(stream[start:start + n])
        start += n
    hops = len(stream) // fe.hop
    assert len(app.windows) == hops // params.infer_every

    host_c = HostFrontend(fe, SCALE, ZERO_POINT, tmp_path / "fe")
    frames = host_c.features(np.concatenate([np.zeros(fe.fft_size - fe.hop, np.int16), stream]))
    silent = host_c.features(np.zeros(fe.fft_size, np.int16))
    rows = np.concatenate([np.repeat(silent, fe.frames, 0), frames])
    librosa_frames, librosa_silent = stream_logmel(stream, fe)
    librosa_rows = np.concatenate([np.repeat(librosa_silent[None], fe.frames, 0), librosa_frames])
    steps = []
    for i, window in enumerate(app.windows):
        k = (i + 1) * params.infer_every
        np.testing.assert_array_equal(window, window_input(rows[k:k + fe.frames], fe, SCALE, ZERO_POINT),
                                      err_msg=f"window at hop {k}")
        steps.append(window.astype(int) - window_input(librosa_rows[k:k + fe.frames], fe, SCALE, ZERO_POINT))
    diff = np.abs(np.stack(steps))
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.999  # float rounding may flip a half step
    raw = [window_input(rows[k:k + fe.frames], RAW, SCALE, ZERO_POINT)
           for k in range(params.infer_every, hops + 1, params.infer_every)]
    assert np.mean([np.array_equal(w, r) for w, r in zip(app.windows, raw)]) == (fe.normalize == "none")


def test_normalized_windows_do_not_change_with_the_level():
    """A gain on the audio adds one constant to every log-mel value (above the floor), which the mean takes away."""
    from tinyml.evaluate.kws_stream import window_input

    pcm = (np.random.default_rng(2).normal(0, 2000, 16000)).astype(np.int16)
    feats = [stream_features(np.clip(pcm * g, -32768, 32767).astype(np.int16), FE, SCALE, ZERO_POINT)
             for g in (1, 4)]
    a, b = (window_input(stream_logmel(np.clip(pcm * g, -32768, 32767).astype(np.int16), FE)[0][:FE.frames], FE,
                         SCALE, ZERO_POINT) for g in (1, 4))
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    raw = [f[0][:FE.frames].astype(int) for f in feats]
    assert np.abs(raw[0] - raw[1]).mean() > 10  # 12 dB louder moves the raw features by 2.77 / 0.0627 steps


# ---- the model checks ----


def test_a_model_of_another_shape_is_refused_and_nothing_is_written(reference, tmp_path):
    from tinyml.codegen.kws import write_kws_project

    out = tmp_path / "kws"
    with pytest.raises(BadInput, match=r"input int8 \[1, 49, 40, 1\].*Received: int8 \[1, 1960\]") as e:
        write_kws_project(reference / "micro_speech" / "micro_speech_quantized.tflite", out, LABELS, FE)
    assert "\n" not in str(e.value) and not out.exists()


@pytest.mark.slow
def test_an_output_that_is_not_an_int8_softmax_is_refused(kws_model, tmp_path):
    from tinyml.codegen.kws import write_kws_project
    from tinyml.quantize import flatbuffer

    model = flatbuffer.unpack(kws_model.read_bytes())
    graph = model.subgraphs[0]
    graph.tensors[graph.outputs[0]].quantization.zeroPoint = [0]
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(flatbuffer.pack(model))
    with pytest.raises(BadInput, match=r"scale 1/256 and zero point -128\. Received: scale 0\.00390625, zero point 0"):
        check_kws_model(flatbuffer.read(bad), FE, LABELS)
    with pytest.raises(BadInput, match=r"output int8 \[1, 3\]"):
        write_kws_project(kws_model, tmp_path / "kws", LABELS[:3], FE)
    assert not (tmp_path / "kws").exists()


# ---- the host side of the protocol, on canned bytes ----


def test_kws_device_reads_torn_lines_and_keeps_log_lines():
    from tinyml.protocol import DeviceError
    from tinyml.protocol import KwsDevice

    port = serial.serial_for_url("loop://", timeout=0.05)
    dev = KwsDevice(port, timeout_s=1)
    lines = (b'booting\nTINYML {"v":1,"event":"infer', b'ence","index":0,"scores":[1,-2]}\n',
             b'TINYML {"v":1,"event":"detection","label":"yes"}\nTINYML {"v":1,"event":"reset","hops":5}\n')
    for chunk in lines:
        port.write(chunk)
    events = dev.until("reset")
    assert [e["event"] for e in events] == ["inference", "detection", "reset"] and dev.log == ["booting"]
    assert events[0]["scores"] == [1, -2]
    port.write(b'TINYML {"v":1,"event":"error","message":"malformed audio line"}\n')
    with pytest.raises(DeviceError, match="malformed audio line"):
        dev.until("reset")
    port.write(b'TINYML {"v":1,"event":"detec\n')  # corrupted
    with pytest.raises(DeviceError, match="Expected a JSON event"):
        dev.until("reset")
    with pytest.raises(DeviceError, match="within 1 s"):
        dev.until("reset")


# ---- the app on QEMU against the host ----

@pytest.mark.slow
def test_device_scores_and_detections_equal_the_host_on_real_recordings(kws_model, reference, tmp_path):
    tool("qemu-system-arm")
    tool("arm-none-eabi-gcc")
    from tinyml.evaluate.emulate_kws import emulate_kws

    wavs = [reference / "micro_speech" / f"{name}_1000ms.wav" for name in CLIPS]
    # 0.6 s of each stream over the UART (0.1 s of the recording in it), the rest through semihosting
    params = StreamParams(infer_every=5, average=3)  # every 100 ms: many inferences per stream to compare
    r = emulate_kws(kws_model, wavs, tmp_path / "kws", LABELS, FE, params, uart_ms=600, seed=3)
    print(json.dumps({k: v for k, v in r.items() if k != "streams"}, indent=1))
    assert r["timing_match"] and r["detections_match"]
    assert r["scores_identical_fraction"] == 1.0 and r["max_score_diff"] == 0
    assert all(s["smoothed_identical"] == s["inferences"] == 25 for s in r["streams"])
    # Not vacuous: the tiny model detects something (which words is test_host_reference_detects_...'s job).
    assert any(s["detections_device"] for s in r["streams"])
    assert r["frames"] == 4 * 125 and r["inferences"] == 100
    assert r["instruction_counter"] == "QEMU plugin, exact"
    # SysTick brackets the plugin's span plus a few calls, to its 40-instruction tick
    assert 0 <= r["frontend_instructions_per_frame_systick"] - r["frontend_instructions_per_frame"] <= 80
    assert 0 <= r["network_instructions_per_inference_systick"] - r["network_instructions_per_inference"] <= 80
    assert r["frontend_instructions_per_frame"] > FE.fft_size * 9  # at least a log2(N) FFT's worth
    assert 0 < r["stack_bytes"] < 4096 and r["flash_bytes"] < r["flash_budget"]
    assert r["ram_bytes"] + r["stack_bytes"] < r["ram_budget"]

    # The board environment (not buildable here: no nordicnrf52 platform offline) is at least valid.
    from platformio.project.config import ProjectConfig

    config = ProjectConfig(str(tmp_path / "kws" / "platformio.ini"))
    config.validate(["nano33ble", "emulator"])
    assert [config.get("env:nano33ble", k) for k in ("platform", "board", "framework")] == \
        ["nordicnrf52", "nano33ble", ["arduino"]]
    assert "-ffp-contract=off" in config.get("env:nano33ble", "build_flags")
    board_sources = config.get("env:nano33ble", "build_src_filter")
    assert all(f"+<{d}/>" in " ".join(board_sources) for d in ("board", "model", "frontend", "kws"))
    assert (tmp_path / "kws" / "src" / "board" / "kws_nano33ble.cpp").is_file()

    # The firmware side of the protocol: a bad line gets an error event; the samples before the
    # bad digit of an audio line were heard.
    from tinyml.host.qemu import connect, running
    from tinyml.protocol import DeviceError
    from tinyml.protocol import KwsDevice

    with running(tmp_path / "kws" / ".pio" / "build" / "emulator" / "firmware.elf") as (url, proc):
        link = connect(url, proc)
        dev = KwsDevice(link, timeout_s=10)
        assert dev.hello()["labels"] == LABELS
        for line, message in ((b"A 0100ff\n", "malformed audio line"), (b"A 01g0\n", "malformed audio line"),
                              (b"F 0 /x\n", "malformed file line"), (b"F 64 /no/such/file\n", "cannot open"),
                              (b"X\n", "unknown command")):
            link.write(line)
            with pytest.raises(DeviceError, match=message):
                dev.until("reset")
        link.write(b"A " + b"0100" * (FE.hop - 2) + b"\n")  # with the 0100 above, one sample short of a hop
        assert dev.end_stream()[-1] == {"v": 1, "event": "reset", "stream": 0, "hops": 0, "inferences": 0,
                                        "detections": 0}
        dev.send_audio(np.ones(5 * FE.hop, np.int16), [FE.hop * 5])
        events = dev.end_stream()
        assert [e["event"] for e in events] == ["inference", "reset"] and events[-1]["hops"] == 5
        assert dev.quit()["streams"] == 2
        link.close()
        assert proc.wait(timeout=10) == 0
