"""Cost of the built-in keyword data, per generated clip.

    python benchmarks/keywords.py [PER_CLASS]

Times the three steps one at a time on one thread (espeak-ng plus resampling and
trimming, BATCH words per call; room, noise and microphone; writing the WAV and
the manifest) for PER_CLASS (default 100) clips of each default label, then the
whole `write_keywords` as it runs (espeak-ng in WORKERS threads while the
calling thread augments and writes), and prints seconds per clip.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tinyml.collect import keywords as kw
from tinyml.collect.dataset import DatasetWriter


def main(argv: list[str]) -> int:
    per_class = int(argv[0]) if argv else 100
    exe = kw.espeak()
    start = time.perf_counter()
    recipes = kw.plan(per_class, seed=1, exe=exe)
    t_plan = time.perf_counter() - start
    t_render = t_write = 0.0
    speaking = sum(r.utterance is not None for r in recipes)
    utterances = [r.utterance for r in recipes if r.utterance is not None]
    start = time.perf_counter()
    words = [w for i in range(0, len(utterances), kw.BATCH) for w in kw.speak_all(utterances[i:i + kw.BATCH], exe)]
    t_speak = time.perf_counter() - start
    start = time.perf_counter()
    for u in utterances[:20]:
        kw.speak(u, exe)
    t_alone = (time.perf_counter() - start) / 20
    words.reverse()
    with tempfile.TemporaryDirectory() as tmp:
        writer = DatasetWriter(Path(tmp) / "serial")
        for recipe in recipes:
            word = words.pop() if recipe.utterance is not None else None
            start = time.perf_counter()
            pcm = kw.render(recipe, word)
            t_render += time.perf_counter() - start
            start = time.perf_counter()
            writer.add(name=recipe.name, label=recipe.label, split=recipe.split, sensor="mic",
                       sample_rate=kw.SAMPLE_RATE, signal=pcm.astype(np.float32) / 32768.0)
            t_write += time.perf_counter() - start
        start = time.perf_counter()
        kw.write_keywords(Path(tmp) / "whole", per_class=per_class, seed=1)
        t_whole = time.perf_counter() - start
    n = len(recipes)
    serial = t_plan + t_speak + t_render + t_write
    print(f"{n} clips ({per_class} per label, {speaking} spoken), one thread: {serial:.1f} s")
    print(f"  plan (phoneme check): {t_plan:6.2f} s")
    print(f"  espeak-ng + resample: {t_speak:6.2f} s = {1000 * t_speak / max(speaking, 1):5.1f} ms per spoken clip "
          f"({100 * t_speak / serial:.0f}%; {kw.BATCH} words per call, {1000 * t_alone:.1f} ms for a word alone)")
    print(f"  augmentation:         {t_render:6.2f} s = {1000 * t_render / n:5.1f} ms per clip "
          f"({100 * t_render / serial:.0f}%)")
    print(f"  writing WAV+manifest: {t_write:6.2f} s = {1000 * t_write / n:5.1f} ms per clip "
          f"({100 * t_write / serial:.0f}%)")
    print(f"write_keywords ({kw.WORKERS} espeak-ng threads): {t_whole:.1f} s = {1000 * t_whole / n:.1f} ms per clip "
          f"(writing per clip grows with the dataset: the manifest is rewritten after every clip)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
