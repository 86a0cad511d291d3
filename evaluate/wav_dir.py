"""`tinyml evaluate MODEL.tflite --wav-dir DIR`: a keyword-spotting model on a folder of labelled
recordings, such as real speech nobody trained on.

DIR holds one folder per spoken word, with that word's WAVs in it (Speech Commands' layout). A word
that is one of the model's labels counts as that label, `_silence_` and `_background_noise_` as
`silence`, `_unknown_` and every other word as `unknown`; `--map WORD=LABEL,...` overrides any of
them. The result is each label's accuracy (the share of its recordings answered with it), their
mean (the balanced accuracy, which a class with many clips cannot dominate), the confusion matrix,
and each word's accuracy, so a user sees which unknown words pass for keywords.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyml.errors import expected
from tinyml.evaluate.accuracy import confusion_rows, per_class_accuracy
from tinyml.log import SILENT
from tinyml.quantize.tflm import confusion_matrix

# Speech Commands' folder names: its test set's _silence_ and _unknown_, and the training archive's noise
FOLDER_LABELS = {"_silence_": "silence", "_background_noise_": "silence", "_unknown_": "unknown"}


def parse_map(text: str | None) -> dict[str, str]:
    """`--map WORD=LABEL,...` as a dict."""
    mapping: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        word, sep, label = (part.strip() for part in item.partition("="))
        if not sep or not word or not label:
            raise expected("--map WORD=LABEL,... (e.g. --map _noise_=silence,learn=unknown)", f"'{item.strip()}'")
        mapping[word] = label
    return mapping


def labelled_wavs(root: Path, labels: list[str],
                  mapping: dict[str, str]) -> tuple[list[tuple[Path, str]], dict[str, str]]:
    """The recordings under `root` as (path, word) in a fixed order, and each word's label."""
    if not root.is_dir():
        raise expected("--wav-dir: a folder with one folder of WAVs per spoken word", f"'{root}'",
                       "Pass the folder that holds yes/, no/, _silence_/, ...")
    items: list[tuple[Path, str]] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        items += [(wav, folder.name) for wav in sorted(folder.rglob("*.wav"))]
    if not items:
        raise expected("--wav-dir: a folder with one folder of WAVs per spoken word", f"no WAVs in folders of '{root}'",
                       "Pass the folder that holds yes/, no/, _silence_/, ...")
    words = sorted({word for _, word in items})
    unused = sorted(set(mapping) - set(words))
    if unused:
        raise expected(f"--map words that are folders of '{root}' ({', '.join(words)})", ", ".join(unused))
    word_label = {w: mapping.get(w, w if w in labels else FOLDER_LABELS.get(w, "unknown")) for w in words}
    missing = sorted({w for w, label in word_label.items() if label not in labels})
    if missing:
        shown = ", ".join(f"{w} -> {word_label[w]}" for w in missing)
        raise expected(f"every word to map to one of the model's labels ({', '.join(labels)})", shown,
                       "Pass --map WORD=LABEL for those words.")
    return items, word_label


def evaluate_wav_dir(classify, root: Path, mapping: dict[str, str] | None = None, reporter=SILENT) -> dict:
    """`classify` is an evaluate.wav.Classifier (a path -> its answer)."""
    labels = list(classify.labels)
    items, word_label = labelled_wavs(root, labels, mapping or {})
    truth, pred, clips = [], [], []
    for i, (path, word) in enumerate(items, 1):
        answer = classify(path)
        truth.append(labels.index(word_label[word]))
        pred.append(labels.index(answer["label"]))
        clips.append({"wav": str(path.relative_to(root)), "word": word, "label": word_label[word],
                      "answer": answer["label"], "int8_scores": answer["int8_scores"]})
        reporter.progress("classifying", i, len(items))
    truth_a, pred_a = np.array(truth), np.array(pred)
    matrix = confusion_matrix(truth_a, pred_a, len(labels))
    per_class = per_class_accuracy(matrix, labels)
    measured = [a for a in per_class.values() if a is not None]
    per_word = {}
    for word, label in word_label.items():
        hits = [c["answer"] == label for c in clips if c["word"] == word]
        per_word[word] = {"label": label, "clips": len(hits), "accuracy": float(np.mean(hits))}
    return {"dir": str(root), "labels": labels, "clips": len(items), "accuracy": float(np.mean(truth_a == pred_a)),
            "balanced_accuracy": float(np.mean(measured)), "per_class_accuracy": per_class, "confusion": matrix,
            "words": per_word, "results": clips}


def render(result: dict) -> str:
    labels = result["labels"]
    width = max(7, *(len(label) for label in labels))
    lines = [f"{result['clips']} recordings in {result['dir']}: balanced accuracy {result['balanced_accuracy']:.3f} "
             f"(mean of the labels' accuracies), accuracy {result['accuracy']:.3f}",
             "confusion (rows: true, columns: answered) and per-label accuracy",
             *confusion_rows(labels, result["confusion"], result["per_class_accuracy"], width, "- (no recordings)")]
    words = result["words"]
    wide = max(len(w) for w in words)
    lines.append("per word (the share answered with its label):")
    lines += [f"  {w:<{wide}} -> {v['label']:<{width}} {v['accuracy']:.3f} of {v['clips']}"
              for w, v in sorted(words.items(), key=lambda kv: (kv[1]["label"], kv[0]))]
    return "\n".join(lines)
