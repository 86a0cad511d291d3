"""The C log-mel front end (firmware/frontend/, tables from codegen/frontend.py) against librosa (train/frontend.py).

Features are float, so they agree within a stated tolerance; the model's int8 input
must agree byte for byte.
"""

import ctypes
import subprocess

import numpy as np
import pytest

from tinyml.codegen.frontend import HostFrontend, write_frontend
from tinyml.errors import BadInput
from tinyml.evaluate.wav import read_wav
from tinyml.train.frontend import FrontendParams, logmel, mel_matrix, quantize_features, to_float, window

from conftest import tool

CLIPS = ("yes", "no", "noise", "silence")
EPS = 2.0 ** -24  # float32 unit roundoff

# The model's input quantization for the features' range [log(1e-6), 2.17] (the loudest frame of these
# clips is 1.98) in 256 steps: scale (2.17 + 13.8155) / 255 = 0.0627, zero point -128 + round(13.8155 / 0.0627).
SCALE, ZERO_POINT = 0.0627, 92

# |C - librosa| in the log domain. Measured on the four clips: at most 2.9e-5 (yes), 1.8e-5 (no),
# 2.9e-6 (noise), 0 (silence: every band at the floor). Float32 rounding explains it (error_bound below:
# each difference is checked against it too): a difference is a relative error of the mel power, and
# the FFT's rounding, about eps * log2(N) of the frame's energy per bin, weighs most in a band far below
# its frame's loudest, here a yes frame's highest bands. 1e-4 leaves 3x the largest measurement; it is
# still 600x finer than one int8 step (0.0627).
ABS_TOLERANCE = 1e-4

M4F = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-O2", "-ffp-contract=off",
       "-std=c99", "-Wall", "-Wextra", "-Werror", "-Wdouble-promotion"]


def error_bound(pcm: np.ndarray, params: FrontendParams) -> np.ndarray:
    """What float32 rounding allows between the C features and librosa's, per value [frames, bands].

    Computed in float64 from the exact spectrum. A relative error r of a band's mel power moves its log
    by r. The FFT's rounding error is at most ~6 eps log2(N) of the spectrum's norm (Higham's radix-2
    bound); spread over the bins it is about 6 eps log2(N) |x| per bin (Parseval), and a bin of
    magnitude |X_k| gets 2 |X_k| times that in its power. Over a band (weights w, power P, weight sum W)
    Cauchy-Schwarz gives sum w |X| <= sqrt(W P): r_fft = 12 eps log2(N) |x| sqrt(W / P). The window
    product, the squares and the band sum add eps (count + 3) on each side, and logf and numpy's log
    each round to within an ulp of the result."""
    y = to_float(pcm).astype(np.float64)
    frames = 1 + (len(y) - params.fft_size) // params.hop
    x = np.stack([y[t * params.hop:t * params.hop + params.fft_size] for t in range(frames)])
    x *= window(params).astype(np.float64)
    mel = mel_matrix(params).astype(np.float64)
    power = (np.abs(np.fft.rfft(x, axis=1)) ** 2) @ mel.T
    weight_sum, count = mel.sum(axis=1), (mel > 0).sum(axis=1)
    norm = np.sqrt(np.sum(x * x, axis=1, keepdims=True))
    fft = 12 * EPS * np.log2(params.fft_size) * norm * np.sqrt(weight_sum / np.maximum(power, params.log_floor))
    want = np.log(np.maximum(power, params.log_floor))
    return fft + 2 * EPS * (count + 3) + 2 * np.spacing(np.abs(want).astype(np.float32))


@pytest.fixture(scope="module")
def params() -> FrontendParams:
    return FrontendParams().checked()


@pytest.fixture(scope="module")
def host(params, tmp_path_factory) -> HostFrontend:
    tool("gcc")
    return HostFrontend(params, SCALE, ZERO_POINT, tmp_path_factory.mktemp("frontend"))


@pytest.fixture(scope="module")
def clips(reference) -> dict:
    return {name: read_wav(reference / "micro_speech" / f"{name}_1000ms.wav", 16000) for name in CLIPS}


def test_features_match_librosa_on_real_speech(host, params, clips):
    above_floor = 0
    for name, pcm in clips.items():
        want, got = logmel(pcm, params), host.features(pcm)
        assert got.shape == want.shape == (params.frames, params.mel_bands)
        diff = np.abs(got.astype(np.float64) - want)
        at = np.unravel_index(diff.argmax(), diff.shape)
        assert diff.max() < ABS_TOLERANCE, f"{name}: max |C - librosa| {diff.max():.3g} at frame, band {at}"
        bound = error_bound(pcm, params)
        worst = np.unravel_index(np.argmax(diff / bound), diff.shape)
        assert np.all(diff <= bound), f"{name}: {diff[worst]:.3g} > {bound[worst]:.3g} at frame, band {worst}"
        above_floor += int(np.sum(want > np.log(np.float32(params.log_floor))))
    assert above_floor > 2 * params.frames * params.mel_bands  # real signal, not only the floor


def test_int8_input_identical_on_real_speech(host, params, clips):
    for name, pcm in clips.items():
        want = quantize_features(logmel(pcm, params), SCALE, ZERO_POINT)
        got = host.quantized(pcm)
        assert got.dtype == np.int8 and got.shape == want.shape
        assert np.array_equal(got, want), f"{name}: {int(np.sum(got != want))} of {want.size} bytes differ"
        assert len(np.unique(want)) > 1 or name == "silence"  # the scale resolves the features


def test_quantize_rounds_half_to_even_and_saturates(params, tmp_path):
    tool("gcc")
    scale, zero_point = 0.5, -3  # x / 0.5 is exact, so the ties below are exact ties
    host = HostFrontend(params, scale, zero_point, tmp_path)
    ties = (np.arange(params.mel_bands) - params.mel_bands // 2) * 0.5 + 0.25
    edges = np.resize(np.array([1e30, -1e30, 65.25, 65.75, -62.25, -62.75, 191.9, -192.1, 0.0, -0.0],
                               dtype=np.float32), params.mel_bands)
    features = np.stack([ties, edges, -ties]).astype(np.float32)
    got, want = host.quantize(features), quantize_features(features, scale, zero_point)
    assert np.array_equal(got, want), np.argwhere(got != want)
    assert got[1, 0] == 127 and got[1, 1] == -128


def test_tables_are_librosas(host, params):
    n, half = params.fft_size, params.fft_size // 2

    def table(name, ctype, size):
        return np.ctypeslib.as_array((ctype * size).in_dll(host.lib, name)).copy()

    assert np.array_equal(table("tm_fe_window", ctypes.c_float, n).view(np.uint32), window(params).view(np.uint32))
    mel = mel_matrix(params)
    starts = table("tm_fe_mel_start", ctypes.c_uint16, params.mel_bands)
    counts = table("tm_fe_mel_count", ctypes.c_uint16, params.mel_bands)
    weights = table("tm_fe_mel_weights", ctypes.c_float, int(counts.sum()))
    dense, offset = np.zeros_like(mel), 0
    for band, (start, count) in enumerate(zip(starts, counts)):
        dense[band, start:start + count] = np.ldexp(weights[offset:offset + count], 32)
        offset += count
    assert np.array_equal(dense.view(np.uint32), mel.view(np.uint32))  # bit for bit, zeros outside the runs
    twiddle = table("tm_fe_twiddle", ctypes.c_float, n).reshape(half, 2)
    exact = np.exp(-2j * np.pi * np.arange(half) / n)
    assert np.max(np.abs(twiddle[:, 0] - exact.real)) <= EPS and np.max(np.abs(twiddle[:, 1] - exact.imag)) <= EPS
    bits = half.bit_length() - 1
    reversed_bits = [sum(((i >> b) & 1) << (bits - 1 - b) for b in range(bits)) for i in range(half)]
    assert table("tm_fe_bitrev", ctypes.c_uint16, half).tolist() == reversed_bits


@pytest.mark.parametrize("band", [2, 12, 25, 37])
def test_a_sine_lands_in_its_mel_band(host, params, band):
    import librosa

    centre = librosa.mel_frequencies(n_mels=params.mel_bands + 2, fmin=params.fmin, fmax=params.fmax)[band + 1]
    t = np.arange(params.fft_size + params.hop)
    pcm = np.round(16000 * np.sin(2 * np.pi * centre * t / params.sample_rate)).astype(np.int16)
    want, got = logmel(pcm, params), host.features(pcm)
    assert np.argmax(want[0]) == band  # librosa's own answer: the test tone is right
    assert [int(np.argmax(f)) for f in got] == [band, band]
    assert np.all(np.abs(got - want) <= error_bound(pcm, params))


@pytest.mark.parametrize("other", [
    FrontendParams(window_ms=25.0, hop_ms=10.0, fft_size=1024, mel_bands=64, fmin=60.0, fmax=8000.0),
    FrontendParams(window_ms=16.0, hop_ms=16.0, fft_size=256, mel_bands=32, log_floor=1e-8),
], ids=["fft1024_64bands", "fft256_32bands"])
def test_other_parameters_match_librosa(other, clips, tmp_path):
    tool("gcc")
    host = HostFrontend(other, SCALE, ZERO_POINT, tmp_path)
    pcm = clips["yes"]
    want, got = logmel(pcm, other), host.features(pcm)
    assert got.shape == want.shape == (other.frames, other.mel_bands)
    assert np.all(np.abs(got.astype(np.float64) - want) <= error_bound(pcm, other))


@pytest.mark.parametrize("params, scale, zero_point, message", [
    (FrontendParams(window_ms=40.0), SCALE, ZERO_POINT, "1..fft_size=512 samples. Received: 640 samples"),
    (FrontendParams(fft_size=500), SCALE, ZERO_POINT, "power of two"),
    (FrontendParams(kind="tflm"), SCALE, ZERO_POINT, "frontend.kind = \"logmel\""),
    (FrontendParams(), 0.0, ZERO_POINT, "positive, finite input scale"),
    (FrontendParams(), float("nan"), ZERO_POINT, "positive, finite input scale"),
    (FrontendParams(), SCALE, 128, "int8 input zero point"),
    (FrontendParams(), SCALE, 1.5, "int8 input zero point"),
], ids=["window_over_fft", "fft_not_pow2", "tflm_kind", "zero_scale", "nan_scale", "zp_range", "zp_fraction"])
def test_bad_parameters_are_refused(params, scale, zero_point, message, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(BadInput, match="^Expected ") as err:
        write_frontend(params, out, scale, zero_point)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not out.exists()


def test_generated_c_compiles_for_cortex_m4(params, tmp_path):
    gcc, nm = tool("arm-none-eabi-gcc"), tool("arm-none-eabi-nm")
    files = write_frontend(params, tmp_path, SCALE, ZERO_POINT)
    objects = []
    for src in (p for p in files if p.suffix == ".c"):
        obj = src.with_suffix(".o")
        proc = subprocess.run([gcc, *M4F, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        objects.append(str(obj))
    symbols = subprocess.run([nm, *objects], capture_output=True, text=True, check=True).stdout.split("\n")
    undefined = {ln.split()[-1] for ln in symbols if ln.strip().startswith("U ")}
    defined = {ln.split()[-1] for ln in symbols if len(ln.split()) == 3}
    assert undefined - defined == {"logf"}  # no heap, no stdio, no sin/cos, no soft double helpers


# ---- frontend.normalize ----

def test_normalize_is_a_projects_default_and_none_for_models_from_before_it():
    from tinyml import config

    cfg = config.load(".", flags={"project.task": "kws"}, read_file=False, environ={})
    assert FrontendParams.from_config(cfg).normalize == "mean"
    doc = FrontendParams.from_config(cfg).to_json()
    assert FrontendParams.from_json(doc).normalize == "mean"
    del doc["normalize"]  # a sidecar written before the option
    assert FrontendParams.from_json(doc).normalize == "none"
    tflm = config.load(".", flags={"project.task": "kws", "frontend.kind": "tflm"}, read_file=False, environ={})
    assert FrontendParams.from_config(tflm).normalize == "none"  # TFLM's preprocessor has its own gain control
    with pytest.raises(BadInput, match="frontend.normalize") as err:
        FrontendParams(kind="tflm", normalize="mean").checked()
    assert "\n" not in str(err.value)
    with pytest.raises(BadInput, match="frontend.normalize"):
        FrontendParams(normalize="max").checked()


@pytest.mark.parametrize("normalize, flag", [("mean", 1), ("none", 0)])
def test_the_generated_config_says_whether_the_device_normalizes(normalize, flag, tmp_path):
    write_frontend(FrontendParams(normalize=normalize), tmp_path, SCALE, ZERO_POINT)
    assert f"#define TM_FE_NORMALIZE_MEAN {flag}\n" in (tmp_path / "tinyml_frontend_config.h").read_text()
