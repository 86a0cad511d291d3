"""Voices besides espeak-ng's for the built-in keywords: flite's, festival's and SVOX Pico's, offline.

espeak-ng is a formant synthesizer: its words have clean formant tracks and none of the
breath, fricative spread and glottal texture a microphone hears from a person. flite's CMU
voices (awb, rms, slt: statistical parametric voices built from recordings of real speakers,
and kal16, a diphone voice), festival's diphone voices (kal, ked) and HTS voice (slt), and SVOX
Pico's two English voices (en-US and en-GB, Android's synthesizer, both women: every flite and
festival voice training hears is a man's) are made from recordings of people, so they carry some
of it. Each speaker belongs to one split, as espeak-ng's voice variants do (`SPEAKERS`).

There are few of them, so every word is also resampled by a factor drawn from SHIFT (speed
perturbation: pitch, formants and tempo move together, as between a short and a tall speaker
talking faster or slower) after its own tempo was set by the synthesizer's duration stretch (Pico's
speaking rate).

Debian packages: flite, festival, festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts; the
Python package ttspico (requirements.txt). `make setup` installs them. All three synthesizers are
deterministic for the same input.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from tinyml.collect import pico
from tinyml.errors import TinymlError

SAMPLE_RATE = 16000
# (engine, voice) per split; kal speaks in both engines, slt too (another synthesis method), each
# in one split only. Pico's other voices (de-DE, es-ES, fr-FR, it-IT) speaking the English words
# were tried in training and made the real "no" worse (docs/kws.md).
SPEAKERS = {
    "train": (("flite", "awb"), ("flite", "rms"), ("flite", "kal16"), ("festival", "kal_diphone"),
              ("festival", "ked_diphone"), ("pico", "en-US"), ("pico", "en-GB")),
    "val": (("flite", "slt"),),
    "test": (("festival", "cmu_us_slt_arctic_hts"),),
}
STRETCH = (0.8, 1.35)  # duration stretch (>1 slower)
SHIFT = (0.85, 1.25)  # resampling factor: >1 raises pitch and formants and speaks faster
PACKAGES = "flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"


@dataclass(frozen=True)
class Spoken:
    """One word as flite or festival speaks it."""

    engine: str  # "flite" or "festival"
    voice: str
    text: str  # the word and an ending (".", "!", "?", ",")
    stretch: float  # duration stretch
    shift: float  # resampling factor applied afterwards


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise TinymlError(f"Expected {name} to speak the built-in keywords. Received: not installed. "
                          f"Run `make setup` (it installs the Debian packages {PACKAGES}).")
    return exe


def _run(argv: list[str]) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, check=False)
    except OSError as exc:
        raise TinymlError(f"Expected {argv[0]} to run. Received: {exc.strerror}. Run `make setup`.") from None
    if done.returncode != 0:
        why = (done.stderr.decode(errors="replace").strip().splitlines() or [f"exit code {done.returncode}"])[0]
        raise TinymlError(f"Expected {Path(argv[0]).name} to speak. Received: {why}. Run `make setup` "
                          f"(Debian packages {PACKAGES}).")


def _read(path: Path) -> np.ndarray:
    """A synthesizer's mono 16-bit WAV as float64 at SAMPLE_RATE."""
    from scipy.signal import resample_poly

    try:
        with wave.open(str(path), "rb") as w:
            rate, raw = w.getframerate(), w.readframes(w.getnframes())
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise wave.Error("not mono 16-bit")
    except (OSError, EOFError, wave.Error) as exc:
        raise TinymlError(f"Expected a mono 16-bit WAV from the synthesizer. Received: {exc}. Run `make setup`.") \
            from None
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    ratio = Fraction(SAMPLE_RATE, rate)
    return x if ratio == 1 else resample_poly(x, ratio.numerator, ratio.denominator)


def _festival_text(text: str) -> str:
    return text.replace("\\", "").replace('"', "")


PICO_VOLUME = 60  # percent: at Pico's default of 100 its loudest words clip


def _pico(s: Spoken) -> np.ndarray:
    """SVOX Pico (PyPI ttspico, Apache-2.0: Android's synthesizer with its en-US and en-GB voices) speaks
    at 16 kHz; its rate is a percentage of normal speed, so a stretch s is rate 100 / s. It speaks in a
    worker process, a fresh engine per word (collect/pico.py: its C library crashes the process it
    shares with other busy threads), so the same word gives the same samples every time."""
    if importlib.util.find_spec("ttspico") is None:
        raise TinymlError("Expected the Python package ttspico to speak the built-in keywords. Received: not "
                          "installed. Run `make setup`.")
    raw = pico.speak(s.voice, max(20, min(500, round(100 / s.stretch))), PICO_VOLUME, s.text)
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    # Pico ends every utterance with about half a second of near silence and faint clicks (-50 dB of the
    # peak, where trimming would keep them): cut 50 ms after the last sample within 40 dB of the peak.
    loud = np.flatnonzero(np.abs(x) > np.max(np.abs(x), initial=0.0) * 0.01)
    return x[:loud[-1] + SAMPLE_RATE // 20] if loud.size else x


def synthesize(items: list[Spoken]) -> list[np.ndarray]:
    """Each item as float64 samples at 16 kHz, before trimming and the shift. flite runs once per word
    (~15 ms); festival once for all of its words (one Scheme script: loading it costs ~0.1 s)."""
    out: list[np.ndarray | None] = [None] * len(items)
    with tempfile.TemporaryDirectory(prefix="tinyml-voices-") as tmp:
        script = []
        for i, s in enumerate(items):
            path = Path(tmp) / f"{i}.wav"
            if s.engine == "flite":
                _run([_tool("flite"), "-voice", s.voice, "--setf", f"duration_stretch={s.stretch:.3f}",
                      "-t", s.text, "-o", str(path)])
                out[i] = _read(path)
            elif s.engine == "pico":
                out[i] = _pico(s)
            else:
                script.append(f"(voice_{s.voice})\n(Parameter.set 'Duration_Stretch {s.stretch:.3f})\n"
                              f"(utt.save.wave (utt.synth (Utterance Text \"{_festival_text(s.text)}\")) "
                              f"\"{path}\" 'riff)\n")
        if script:
            (Path(tmp) / "say.scm").write_text("".join(script))
            _run([_tool("festival"), "--batch", str(Path(tmp) / "say.scm")])
            for i, s in enumerate(items):
                if s.engine == "festival":
                    out[i] = _read(Path(tmp) / f"{i}.wav")
    return out


def shifted(x: np.ndarray, factor: float) -> np.ndarray:
    """x resampled to 1/factor of its length: played at the same rate, everything is `factor` higher."""
    from scipy.signal import resample_poly

    ratio = Fraction(factor).limit_denominator(100)
    return resample_poly(x, ratio.denominator, ratio.numerator)
