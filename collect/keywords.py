"""Built-in keyword-spotting data: words spoken by espeak-ng, flite, festival and SVOX Pico, offline, seeded.

Every recording is 1 s of 16 kHz, 16-bit mono audio, as the Nano 33 BLE Sense's
microphone delivers it to the model:

- a keyword label ("yes", "no", or any other word) is that word, spoken by
  espeak-ng (Debian package `espeak-ng`) in one of its eight English accents
  and one of ~75 voice variants, at a random speed (110-230 words per minute)
  and pitch (10-90 on espeak-ng's -p scale), ending in ".", "!", "?" or ","
  (each gives another intonation); or, for OTHER_VOICES_SHARE of the words, by
  one of flite's, festival's and SVOX Pico's voices, which are made from recordings
  of real speakers (collect/voices.py: a duration stretch, then resampled to move pitch,
  formants and tempo together). espeak-ng alone gave a model that called most
  real "yes" unknown; with half of the words from the other voices, 0.92 of them
  are yes (docs/kws.md, "Measured");
- "unknown" is another word spoken the same way: the Speech Commands words
  that are not labels (near misses such as "yet" or "nose" are listed but
  drawn with NEAR_MISS_SHARE = 0: see there why). A word espeak-ng pronounces
  exactly like a label ("know" for "no") is dropped, since no model could
  tell them apart;
- "silence" is background without speech: a quiet room (only the microphone's
  noise floor of a few LSB), or white-to-brown noise with a wandering level,
  mains hum, fan noise, running-water hiss, a machine's rhythm or clicks, from
  -60 dBFS RMS (where log-mel features bottom out) to -12 dBFS (loud).

Each spoken word is trimmed, placed whole at a random time inside the clip,
sometimes given a small room (reverb), mixed with one of the backgrounds at a
random signal-to-noise ratio of 3-30 dB (or left clean), coloured by a random
microphone response (first-order high-pass, low-pass, low or high shelf),
scaled to a random peak between -30 and -0.5 dBFS and given the microphone's
noise floor. espeak-ng's amplitude and word gap stay fixed: the level is set
afterwards, and there is one word per clip.

Same seed, same bytes: every random choice comes from a NumPy generator seeded
with (seed, label, index), and espeak-ng is deterministic for the same input.
To save espeak-ng's start-up (~20 ms a call), one call speaks BATCH words as
SSML with pauses between them, and the words are cut apart at the pauses. A
word spoken within a batch sounds the same as spoken alone, but is not
bit-identical to it (espeak-ng carries some state from word to word), so the
batches are part of what the seed fixes.

Splits are 70/15/15 % of each class by position (`split_for`, as for the
built-in gestures). Speakers do not cross splits: every split draws from all
eight accents and the same speeds and pitches, but from its own voice variants
(`VARIANTS`) and its own flite and festival speakers (`voices.SPEAKERS`).
Validation and test speak in variants training never hears (test,
for instance: female2, female4, Annie, male3, Paul, Klatt3), so the test split
measures how well a model generalizes to unseen voices.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from tinyml.artifacts import atomic_dir
from tinyml.collect.dataset import DatasetWriter
from tinyml.collect.synthetic import split_for
from tinyml.collect.voices import SHIFT, SPEAKERS, STRETCH, Spoken, shifted, synthesize
from tinyml.config import KWS_LABELS, SILENCE, UNKNOWN
from tinyml.errors import TinymlError, expected
from tinyml.log import SILENT, Reporter

SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE  # one second
ESPEAK_RATE = 22050  # espeak-ng's own output rate
DEFAULT_PER_CLASS = 800
KEYWORD_LABELS = KWS_LABELS
WORKERS = 2  # espeak-ng calls at a time

# Accents (espeak-ng's English voices; the mbrola ones are not installed by `make setup`).
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd")
# Voice variants (espeak-ng-data/voices/!v) per split; "" is the accent's own voice.
# Left out: the robotic, echoing, whispering and effect voices (robosoft*, RicishayMax*, UniRobot,
# anikaRobot, Demonic, announcer, whisper*, caleb, fast).
VARIANTS = {
    "train": ("", "f1", "f3", "f5", "Alicia", "Andrea", "aunty", "linda", "steph", "anika", "grandma", "zac",
              "m1", "m2", "m4", "m5", "m8", "Alex", "Andy", "Denis", "Gene", "Gene2", "Henrique", "Lee",
              "Marco", "Mario", "Michael", "Nguyen", "Storm", "antonio", "boris", "croak", "ed", "gustave",
              "iven", "iven3", "john", "michel", "pablo", "pedro", "quincy", "rob", "sandro", "travis",
              "victor", "grandpa", "klatt", "klatt2", "klatt4", "klatt6", "adam", "benjamin", "edward"),
    "val": ("belinda", "steph3", "shelby", "m6", "Diogo", "Hugo", "Jacky", "max", "norbert", "iven2",
            "klatt5", "david"),
    "test": ("f2", "f4", "Annie", "steph2", "m3", "m7", "Mike", "paul", "robert", "klatt3", "edward2"),
}
RATE = (63, 131)  # percent of 175 words per minute: 110..230 wpm
MAX_RATE = 260
PITCH = (10, 90)
AMPLITUDE = 60  # espeak-ng's -a; the level is set afterwards, this only keeps loud variants from clipping
ENDINGS = (".", "!", "?", ",")  # each gives espeak-ng another intonation of the same word
MAX_WORD_S = 0.9  # a longer synthesis is spoken again, faster
PAUSE_S = 0.6  # between the words of one espeak-ng call
BATCH = 16  # words per espeak-ng call

SPEECH_COMMANDS_WORDS = (
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "zero", "one", "two", "three",
    "four", "five", "six", "seven", "eight", "nine", "bed", "bird", "cat", "dog", "happy", "house", "marvin",
    "sheila", "tree", "wow", "learn", "follow", "forward", "backward", "visual")
NEAR_MISSES = (
    "yet", "yeah", "less", "guess", "mess", "dress", "yell", "yellow", "yesterday", "chess", "says",
    "know", "now", "snow", "toe", "nose", "note", "low", "new", "nod", "knee", "oh", "so", "though")
# Near misses ("yet", "guess") taught the model espeak-ng's fine phonetic detail: a DS-CNN trained with
# 35 % of "unknown" from them called the real Speech Commands "yes" unknown with score 1.00; without
# them, 0.89 (and yes once frequency warping was added, train/augment.py). Kept at 0 until real
# speech is part of the data; the list still removes words pronounced like a label.
NEAR_MISS_SHARE = 0.0
OTHER_VOICES_SHARE = 0.5  # spoken words from flite's, festival's and Pico's voices (collect/voices.py), not espeak-ng's


@dataclass(frozen=True)
class Utterance:
    """One word as espeak-ng speaks it."""

    text: str  # the word and an ending (".", "!", "?", ",")
    voice: str  # accent[+variant], e.g. "en-gb-scotland+f3"
    rate: int  # percent of espeak-ng's 175 words per minute (SSML prosody rate; -s = 1.75 * rate)
    pitch: int  # 0..99, espeak-ng's -p (SSML prosody pitch = 2 * pitch percent)

    def ssml(self) -> str:
        return (f"<voice name={quoteattr(self.voice)}><prosody rate=\"{self.rate}%\" pitch=\"{2 * self.pitch}%\">"
                f"{escape(self.text)}</prosody></voice>")


@dataclass(frozen=True)
class Recipe:
    """What makes one recording: the words spoken (None for silence) and the seed of its augmentation."""

    label: str
    index: int
    split: str
    utterance: Utterance | Spoken | None
    seed: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"{self.label}-{self.index:04d}"


def espeak() -> str:
    """The espeak-ng executable, or a one-line error saying how to install it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise TinymlError("Expected espeak-ng to speak the built-in keywords. Received: not installed. "
                          "Run `make setup` (it installs the Debian package espeak-ng).")
    return exe


def _run(argv: list[str], stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, check=False)
    except OSError as exc:
        raise TinymlError(f"Expected espeak-ng to run. Received: {exc.strerror} ({argv[0]}). "
                          "Run `make setup`.") from None
    if done.returncode != 0 or not done.stdout:
        why = (done.stderr.decode(errors="replace").strip().splitlines() or [f"exit code {done.returncode}"])[0]
        raise TinymlError(f"Expected espeak-ng to run {' '.join(argv[1:])!r}. Received: {why}. Run `make setup`.")
    return done.stdout


def _wav_samples(data: bytes) -> np.ndarray:
    """The samples of espeak-ng's streamed WAV (its header's sizes are placeholders, so read to the end)."""
    at = data.find(b"data", 12)
    if data[:4] != b"RIFF" or at < 0:
        raise TinymlError("Expected a WAV stream from espeak-ng --stdout. Received: other bytes. "
                          "Run `make setup`.")
    body = data[at + 8:]
    return np.frombuffer(body[:len(body) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0


def _spans(x: np.ndarray, count: int) -> list[tuple[int, int]] | None:
    """(start, stop) of each word in espeak-ng's output, split at the pauses between words (at least
    PAUSE_S / 2 of digital silence); None unless there are exactly `count`."""
    sound = np.flatnonzero(np.abs(x) > 2 / 32768)
    if len(sound) == 0:
        return None
    if count == 1:
        return [(int(sound[0]), int(sound[-1]) + 1)]
    gaps = np.flatnonzero(np.diff(sound) > PAUSE_S / 2 * ESPEAK_RATE)
    if len(gaps) != count - 1:
        return None
    starts = np.concatenate([[sound[0]], sound[gaps + 1]])
    stops = np.concatenate([sound[gaps], [sound[-1]]]) + 1
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


def _trim(x: np.ndarray, floor_db: float = -50.0) -> np.ndarray:
    """Cut the silence before and after the word (10 ms frames below `floor_db` of the loudest)."""
    hop = SAMPLE_RATE // 100
    frames = len(x) // hop
    if frames == 0:
        return x
    rms = np.sqrt(np.mean(x[:frames * hop].reshape(frames, hop) ** 2, axis=1))
    loud = np.nonzero(rms > rms.max() * 10 ** (floor_db / 20))[0]
    return x[max(0, (loud[0] - 1) * hop):min(len(x), (loud[-1] + 2) * hop)]


def speak_all(utterances: list[Utterance], exe: str | None = None) -> list[np.ndarray]:
    """Each utterance as float64 samples at 16 kHz, trimmed, peak 1, at most MAX_WORD_S long.

    One espeak-ng call speaks them all (SSML, a pause between words): starting espeak-ng
    costs ~20 ms, a word ~2 ms. Should a pause not split them as expected, each word is
    spoken alone. A word that comes out too long is spoken again, faster."""
    from scipy.signal import resample_poly

    exe = exe or espeak()
    document = "<speak>" + f'<break time="{int(PAUSE_S * 1000)}ms"/>'.join(u.ssml() for u in utterances) + "</speak>"
    raw = _wav_samples(_run([exe, "-m", "-a", str(AMPLITUDE), "--stdout", document]))
    spans = _spans(raw, len(utterances))
    if spans is None:
        if len(utterances) == 1:
            raise TinymlError(f"Expected espeak-ng to speak {utterances[0].text!r} in voice "
                              f"{utterances[0].voice}. Received: silence. Run `make setup`.")
        return [word for u in utterances for word in speak_all([u], exe)]  # sound inside a pause: one by one
    up, down = SAMPLE_RATE // 50, ESPEAK_RATE // 50  # 22050 -> 16000 Hz: 320/441
    audio = resample_poly(raw, up, down)
    margin = SAMPLE_RATE // 100  # the resampling filter spreads each word by a few ms
    words = []
    for u, (start, stop) in zip(utterances, spans):
        word = _trim(audio[max(0, start * up // down - margin):min(len(audio), -(-stop * up // down) + margin)])
        if len(word) > MAX_WORD_S * SAMPLE_RATE and u.rate < MAX_RATE:
            faster = int(np.ceil(u.rate * len(word) / (0.85 * MAX_WORD_S * SAMPLE_RATE)))
            word = speak_all([Utterance(u.text, u.voice, min(MAX_RATE, faster), u.pitch)], exe)[0]
        word = word[:int(MAX_WORD_S * SAMPLE_RATE)]
        words.append(word / np.max(np.abs(word)))
    return words


def speak(utterance: Utterance, exe: str | None = None) -> np.ndarray:
    """One utterance (see speak_all)."""
    return speak_all([utterance], exe)[0]


def speak_others(items: list[Spoken]) -> list[np.ndarray]:
    """Words of flite's, festival's and Pico's voices, shifted, trimmed, peak 1, at most MAX_WORD_S long (a longer
    one is spoken again with less duration stretch)."""
    limit = int(MAX_WORD_S * SAMPLE_RATE)

    def finish(x: np.ndarray, item: Spoken) -> np.ndarray:
        word = _trim(shifted(x, item.shift))
        if not np.any(np.abs(word) > 2 / 32768):
            raise TinymlError(f"Expected {item.engine} to speak {item.text!r} in voice {item.voice}. "
                              "Received: silence. Run `make setup`.")
        return word

    words = [finish(x, item) for x, item in zip(synthesize(items), items)]
    long = [i for i, w in enumerate(words) if len(w) > limit]
    again = [replace(items[i], stretch=round(items[i].stretch * 0.85 * limit / len(words[i]), 3)) for i in long]
    for i, x, item in zip(long, synthesize(again), again):
        words[i] = finish(x, item)
    return [w[:limit] / np.max(np.abs(w[:limit])) for w in words]


def speak_mixed(items: list[Utterance | Spoken], exe: str | None = None) -> list[np.ndarray]:
    """speak_all for espeak-ng's utterances and speak_others for the rest, in the order given."""
    mine = [u for u in items if isinstance(u, Utterance)]
    theirs = [u for u in items if not isinstance(u, Utterance)]
    ours, others = iter(speak_all(mine, exe) if mine else []), iter(speak_others(theirs) if theirs else [])
    return [next(ours) if isinstance(u, Utterance) else next(others) for u in items]


def phonemes(words: Iterable[str], exe: str | None = None) -> list[str]:
    """espeak-ng's en-us phonemes of each word (one call for all: it reads stdin a line at a time)."""
    words = list(words)
    out = _run([exe or espeak(), "-q", "-x", "-v", "en-us"], "\n".join(words).encode()).decode()
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    if len(lines) != len(words):
        raise TinymlError(f"Expected one phoneme line per word from espeak-ng -x. Received: {len(lines)} "
                          f"lines for {len(words)} words. Run `make setup`.")
    return lines


def spoken(label: str) -> str:
    """What espeak-ng says for a label ("turn_on" -> "turn on")."""
    return label.replace("_", " ").replace("-", " ").lower()


def unknown_words(labels: tuple[str, ...], exe: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(other words, near misses) for "unknown": neither a label nor pronounced like one."""
    keywords = [spoken(lb) for lb in labels if lb not in (SILENCE, UNKNOWN)]
    candidates = [w for w in dict.fromkeys(SPEECH_COMMANDS_WORDS + NEAR_MISSES) if w not in keywords]
    if keywords:
        said = phonemes(keywords + candidates, exe)
        taken = set(said[:len(keywords)])
        candidates = [w for w, p in zip(candidates, said[len(keywords):]) if p not in taken]
    others = tuple(w for w in candidates if w in SPEECH_COMMANDS_WORDS)
    near = tuple(w for w in candidates if w not in SPEECH_COMMANDS_WORDS)
    return others, near


def _label_key(label: str) -> int:
    return zlib.crc32(label.encode())


def plan(per_class: int, seed: int, labels: tuple[str, ...] = KEYWORD_LABELS,
         exe: str | None = None, other_voices: float = OTHER_VOICES_SHARE) -> list[Recipe]:
    """Every recording's recipe, in writing order (labels in the order given); `other_voices` of the
    spoken words come from flite's, festival's and Pico's voices."""
    speaking = any(lb != SILENCE for lb in labels)
    exe = (exe or espeak()) if speaking else None
    others, near = unknown_words(labels, exe) if UNKNOWN in labels else ((), ())
    recipes = []
    for label in labels:
        for i in range(per_class):
            split = split_for(i, per_class)
            key = (seed, _label_key(label), i)
            utterance = None
            if label != SILENCE:
                rng = np.random.default_rng(key + (0,))
                if label == UNKNOWN:
                    pool = near if near and (rng.random() < NEAR_MISS_SHARE or not others) else others
                    word = str(rng.choice(pool))
                else:
                    word = spoken(label)
                variant = str(rng.choice(VARIANTS[split]))
                accent = str(rng.choice(ACCENTS))
                utterance = Utterance(text=word + str(rng.choice(ENDINGS)),
                                      voice=accent + (f"+{variant}" if variant else ""),
                                      rate=int(rng.integers(RATE[0], RATE[1] + 1)),
                                      pitch=int(rng.integers(PITCH[0], PITCH[1] + 1)))
                if rng.random() < other_voices:
                    engine, voice = SPEAKERS[split][int(rng.integers(len(SPEAKERS[split])))]
                    utterance = Spoken(engine, voice, utterance.text, stretch=round(float(rng.uniform(*STRETCH)), 3),
                                       shift=round(float(rng.uniform(*SHIFT)), 2))
            recipes.append(Recipe(label, i, split, utterance, key + (1,)))
    return recipes


# --- backgrounds --------------------------------------------------------------------------------


def _colored(rng: np.random.Generator, n: int, alpha: float) -> np.ndarray:
    """Unit-RMS noise with power falling as 1/f^alpha (0 white, 1 pink, 2 brown, <0 blue)."""
    spectrum = rng.normal(size=n // 2 + 1) + 1j * rng.normal(size=n // 2 + 1)
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    f[0] = f[1]
    shape = np.maximum(f, 20.0) ** (-alpha / 2)  # flat below 20 Hz: no drift
    shape[0] = 0.0  # no DC
    x = np.fft.irfft(spectrum * shape, n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def _envelope(rng: np.random.Generator, n: int, depth: float, smooth_s: float) -> np.ndarray:
    """A slowly wandering gain around 1 (log-normal, `depth` in nepers)."""
    step = max(1, int(smooth_s * SAMPLE_RATE))
    knots = rng.normal(0.0, depth, size=n // step + 2)
    return np.exp(np.interp(np.arange(n), np.arange(len(knots)) * step, knots))


def _band(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """Unit-RMS white noise band-limited to [low, high] Hz."""
    spectrum = rng.normal(size=n // 2 + 1) + 1j * rng.normal(size=n // 2 + 1)
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum[(f < low) | (f > high)] = 0.0
    x = np.fft.irfft(spectrum, n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def _noise(rng, n):
    x = _colored(rng, n, rng.uniform(-0.5, 2.2))
    return x * _envelope(rng, n, rng.uniform(0.0, 0.7), rng.uniform(0.03, 0.3))


def _hum(rng, n):
    t = np.arange(n) / SAMPLE_RATE
    f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.995, 1.005)
    x = sum(rng.uniform(0, 1) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) for k in range(1, 9))
    return x + rng.uniform(0.01, 0.3) * _colored(rng, n, rng.uniform(0.0, 2.0))


def _fan(rng, n):
    t = np.arange(n) / SAMPLE_RATE
    center = np.exp(rng.uniform(np.log(80), np.log(3000)))
    width = rng.uniform(1.3, 4.0)
    x = _band(rng, n, center / width, center * width)
    blade = rng.uniform(60, 400)
    x += rng.uniform(0, 0.8) * sum(np.sin(2 * np.pi * k * blade * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3))
    return x * (1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * rng.uniform(2, 30) * t))


def _water(rng, n):
    x = _band(rng, n, rng.uniform(500, 2000), rng.uniform(5000, 8000))
    return x * _envelope(rng, n, rng.uniform(0.1, 0.5), rng.uniform(0.005, 0.03))


def _machine(rng, n):
    # A rhythm (an exercise bike, a washing machine): noise and thumps at 1-4 Hz.
    t = np.arange(n) / SAMPLE_RATE
    rate = rng.uniform(1.0, 4.0)
    pulse = (0.5 + 0.5 * np.sin(2 * np.pi * rate * t + rng.uniform(0, 6.3))) ** rng.uniform(1, 6)
    return _colored(rng, n, rng.uniform(0.5, 2.0)) * (0.3 + pulse)


def _clicks(rng, n):
    x = 0.05 * _colored(rng, n, rng.uniform(0.0, 1.5))
    for _ in range(int(rng.integers(1, 9))):
        length = int(rng.integers(16, 240))
        at = int(rng.integers(0, n - length))
        burst = rng.normal(size=length) * np.exp(-np.arange(length) / (length / rng.uniform(2, 8)))
        x[at:at + length] += rng.uniform(0.3, 3.0) * burst
    return x


BACKGROUNDS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "noise": _noise, "hum": _hum, "fan": _fan, "water": _water, "machine": _machine, "clicks": _clicks}
_BACKGROUND_WEIGHTS = np.array([0.4, 0.1, 0.15, 0.1, 0.15, 0.1])


def background(rng: np.random.Generator, n: int = CLIP_SAMPLES) -> np.ndarray:
    """Unit-RMS background sound of a random kind, sometimes two mixed."""
    names = list(BACKGROUNDS)
    x = BACKGROUNDS[names[rng.choice(len(names), p=_BACKGROUND_WEIGHTS)]](rng, n)
    x = x / (np.sqrt(np.mean(x ** 2)) + 1e-12)
    if rng.random() < 0.35:
        other = BACKGROUNDS[names[rng.choice(len(names), p=_BACKGROUND_WEIGHTS)]](rng, n)
        x = x + 10 ** (-rng.uniform(6, 20) / 20) * other / (np.sqrt(np.mean(other ** 2)) + 1e-12)
    return x / np.sqrt(np.mean(x ** 2))


# --- the microphone and the room ----------------------------------------------------------------


def _first_order(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of a first-order filter from its analog prototype by the bilinear transform."""
    if kind == "highpass":
        k = np.tan(np.pi * np.exp(rng.uniform(np.log(40), np.log(400))) / SAMPLE_RATE)
        return np.array([1.0, -1.0]), np.array([1 + k, k - 1])
    if kind == "lowpass":
        k = np.tan(np.pi * rng.uniform(2500, 7500) / SAMPLE_RATE)
        return np.array([k, k]), np.array([1 + k, k - 1])
    g = 10 ** (rng.uniform(-8, 8) / 20)
    k = np.tan(np.pi * np.exp(rng.uniform(np.log(150), np.log(4000))) / SAMPLE_RATE)
    if kind == "lowshelf":  # (s + g k) / (s + k): gain g at DC, 1 at high frequencies
        return np.array([1 + g * k, g * k - 1]), np.array([1 + k, k - 1])
    return np.array([g + k, k - g]), np.array([1 + k, k - 1])  # highshelf: (g s + k) / (s + k)


def microphone(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random, mild microphone response: some of high-pass, low-pass, low shelf, high shelf."""
    from scipy.signal import lfilter

    for kind, chance in (("highpass", 0.5), ("lowpass", 0.35), ("lowshelf", 0.3), ("highshelf", 0.3)):
        if rng.random() < chance:
            b, a = _first_order(rng, kind)
            x = lfilter(b, a, x)
    return x


def room(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A small room: the direct sound plus exponentially decaying noise (RT60 0.1-0.4 s)."""
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.1, 0.4)
    t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.normal(size=len(t)) * np.exp(-6.9 * t / rt60)
    tail[:int(rng.uniform(0.002, 0.01) * SAMPLE_RATE)] = 0.0  # first reflections arrive a little later
    tail *= rng.uniform(0.1, 0.6) / (np.sqrt(np.sum(tail ** 2)) + 1e-12)
    ir = np.concatenate([[1.0], tail[1:]])
    return fftconvolve(x, ir)[:len(x)]


def _floor(rng: np.random.Generator, n: int) -> np.ndarray:
    """The microphone's own noise: 0.5-3 LSB RMS, white to blue, sometimes on a small DC offset."""
    offset = rng.uniform(-60, 60) / 32768 if rng.random() < 0.5 else 0.0
    return offset + rng.uniform(0.5, 3.0) / 32768 * _colored(rng, n, rng.uniform(-2.0, 0.0))


def _to_pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def silence_clip(rng: np.random.Generator) -> np.ndarray:
    """One second without speech, int16."""
    n = CLIP_SAMPLES
    if rng.random() < 0.2:  # a quiet room: only the microphone's floor
        return _to_pcm(_floor(rng, n) * rng.uniform(0.5, 2.0))
    # RMS in dBFS: from just above where the log-mel features reach their floor (about -55) to loud
    # (the Speech Commands background noise clip: -24).
    level_db = rng.uniform(-60.0, -12.0)
    x = microphone(background(rng, n), rng) if rng.random() < 0.5 else background(rng, n)
    x = x / (np.sqrt(np.mean(x ** 2)) + 1e-12) * 10 ** (level_db / 20)
    peak = np.max(np.abs(x))
    if peak > 0.99:
        x *= 0.99 / peak
    return _to_pcm(x + _floor(rng, n))


def speech_clip(word: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One second holding `word` (from `speak`) somewhere inside, through a room and a microphone, int16."""
    n = CLIP_SAMPLES
    clip = np.zeros(n)
    start = int(rng.integers(0, n - len(word) + 1))
    clip[start:start + len(word)] = word
    if rng.random() < 0.3:
        clip = room(clip, rng)
    if rng.random() < 0.75:
        loud = np.abs(word) > 0.05
        speech_rms = np.sqrt(np.mean(word[loud] ** 2))
        snr_db = rng.uniform(3.0, 30.0)
        clip = clip + background(rng, n) * speech_rms * 10 ** (-snr_db / 20)
    clip = microphone(clip, rng)
    clip *= 10 ** (rng.uniform(-30.0, -0.5) / 20) / (np.max(np.abs(clip)) + 1e-12)
    return _to_pcm(clip + _floor(rng, n))


def render(recipe: Recipe, word: np.ndarray | None) -> np.ndarray:
    """The recording a recipe describes, int16 [CLIP_SAMPLES]; `word` is speak(recipe.utterance)."""
    rng = np.random.default_rng(recipe.seed)
    return silence_clip(rng) if recipe.utterance is None else speech_clip(word, rng)


# --- writing ------------------------------------------------------------------------------------

_END = object()


def _ahead(fn: Callable, items: list, workers: int, window: int) -> Iterator:
    """fn(item) for each item, in order, computed by `workers` threads at most `window` items ahead."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        it = iter(items)
        for item in it:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                break
        while pending:
            result = pending.popleft().result()
            item = next(it, _END)
            if item is not _END:
                pending.append(pool.submit(fn, item))
            yield result


def _check(labels: tuple[str, ...], per_class: int) -> None:
    if not labels or len(set(labels)) != len(labels):
        raise expected("distinct labels", ", ".join(labels) or "none")
    bad = [lb for lb in labels if not re.fullmatch(r"[A-Za-z][A-Za-z_-]*", lb)]
    if bad:
        raise expected("labels that are words (letters, - or _) to speak, or silence/unknown", ", ".join(bad))
    if per_class < 3:
        raise expected("at least 3 recordings per class (train, val and test need one each)", per_class)


def _words(recipes: list[Recipe], exe: str) -> Iterator[np.ndarray]:
    """speak_all over the spoken recipes in order, BATCH words per espeak-ng call, WORKERS calls at a time.

    Threads suffice: espeak-ng runs in its own process, and the GIL is free while we wait for it."""
    utterances = [r.utterance for r in recipes if r.utterance is not None]
    batches = [utterances[i:i + BATCH] for i in range(0, len(utterances), BATCH)]
    for words in _ahead(lambda batch: speak_mixed(batch, exe), batches, WORKERS, 2 * WORKERS + 2):
        yield from words


def write_keywords(root: str | Path, *, per_class: int = DEFAULT_PER_CLASS, seed: int = 1234,
                   labels: tuple[str, ...] = KEYWORD_LABELS, reporter: Reporter = SILENT,
                   other_voices: float = OTHER_VOICES_SHARE) -> Path:
    """Write the built-in keyword dataset to `root` (must not hold a dataset yet)."""
    labels = tuple(labels)
    _check(labels, per_class)
    root = Path(root)
    if (root / "manifest.json").exists():
        raise expected("an empty folder for the built-in dataset", f"'{root}' already holds a dataset",
                       "Choose another folder or delete it.")
    if root.is_dir() and any(root.iterdir()):
        raise expected("an empty or new folder for the built-in dataset", f"'{root}' holds other files",
                       "Choose another folder.")
    recipes = plan(per_class, seed, labels, other_voices=other_voices)
    words = _words(recipes, espeak()) if any(r.utterance for r in recipes) else iter(())
    with atomic_dir(root) as tmp:  # all clips or none: an interrupted run leaves no partial dataset
        writer = DatasetWriter(tmp, manifest_every=250)
        for done, recipe in enumerate(recipes, 1):
            pcm = render(recipe, next(words) if recipe.utterance is not None else None)
            writer.add(name=recipe.name, label=recipe.label, split=recipe.split, sensor="mic",
                       sample_rate=SAMPLE_RATE, signal=pcm.astype(np.float32) / 32768.0)
            reporter.progress("speaking", done, len(recipes))
        writer.flush()
    return root
