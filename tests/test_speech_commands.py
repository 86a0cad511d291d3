"""`tinyml collect --builtin speech-commands`: a small Speech Commands tree built here, imported offline
from its folder, a .tar.gz, a .tar and a local HTTP server."""

import functools
import http.server
import shutil
import tarfile
import threading
import wave
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import one_error_line
from tinyml import config
from tinyml.cli import main
from tinyml.collect import speech_commands
from tinyml.collect.dataset import load

WORDS = ("yes", "no", "bed", "cat", "dog")  # yes and no are labels; the others feed "unknown"
SPEAKERS = ("0a7c2a8d", "1b2c3d4e", "2c9f0e11", "3d5a7b90", "4e6b8c21", "5f7c9d32")
VAL_SPEAKER, TEST_SPEAKER = SPEAKERS[4], SPEAKERS[5]
TAKES = 2  # clips per speaker and word
NOISE = {"running_tap.wav": 7.0, "white_noise.wav": 10.0}  # seconds
# yes and no: 4 train speakers x 2 takes, 1 x 2 in val and in test; unknown and silence follow the average.
TRAIN, VAL, TEST = 8, 2, 2


def _wav(path: Path, pcm: np.ndarray, rate: int = 16000, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())


def _pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def build_tree(root: Path) -> Path:
    """A Speech Commands tree: word folders of short seeded clips, the lists, noise, README and LICENSE."""
    rng = np.random.default_rng(5)
    val, test = [], []
    for w, word in enumerate(WORDS):
        for speaker in SPEAKERS:
            for take in range(TAKES):
                n = int(rng.integers(3000, 8000))  # shorter than 1 s: kept as it is
                t = np.arange(n) / 16000
                tone = 6000 * np.sin(2 * np.pi * (300 + 100 * w) * t) + rng.normal(0, 800, n)
                rel = f"{word}/{speaker}_nohash_{take}.wav"
                _wav(root / rel, np.clip(tone, -32768, 32767))
                if speaker == VAL_SPEAKER:
                    val.append(rel)
                elif speaker == TEST_SPEAKER:
                    test.append(rel)
    for name, seconds in NOISE.items():
        _wav(root / "_background_noise_" / name, rng.normal(0, 3000, int(seconds * 16000)).clip(-32768, 32767))
    (root / "_background_noise_" / "README.md").write_text("noise\n")
    (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    (root / "README.md").write_text("Speech Commands (test tree)\n")
    (root / "LICENSE").write_text("CC BY 4.0\n")
    return root


def build_archive(tree: Path, path: Path, mode: str = "w:gz", dot: bool = True) -> Path:
    """The tree as a tar, word folders first and the lists last (as they may come in the real one)."""
    files = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
    files.sort(key=lambda rel: rel.endswith("_list.txt"))
    prefix = "./" if dot else ""
    with tarfile.open(path, mode) as tar:
        if dot:
            tar.add(tree, arcname=".", recursive=False)
        for rel in files:
            tar.add(tree / rel, arcname=prefix + rel)
    return path


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("source") / "speech_commands")


@pytest.fixture(scope="module")
def archive(tree, tmp_path_factory) -> Path:
    return build_archive(tree, tmp_path_factory.mktemp("archive") / "speech_commands_v0.02.tar.gz")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project") / "kws"
    assert main(["--quiet", "init", str(root), "--task", "kws"]) == 0
    return root


@pytest.fixture(scope="module")
def imported(project, archive, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("imported") / "data"
    assert _import(project, archive, out) == 0
    return out


@pytest.fixture
def server(tmp_path):
    """A local HTTP server for the files in tmp_path/www; yields its base URL."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _import(project: Path, source, out: Path, *extra: str, quiet: bool = True) -> int:
    argv = ["--quiet"] if quiet else []
    argv += ["collect", "-C", str(project), "--builtin", "speech-commands", "-o", str(out), *extra]
    if source is not None:
        argv += ["--from", str(source)]
    return main(argv)


def _contents(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _lists(tree: Path) -> dict[str, str]:
    split = {}
    for name, which in (("validation_list.txt", "val"), ("testing_list.txt", "test")):
        for line in (tree / name).read_text().split():
            split[line] = which
    return split


# ---- the dataset ----

def test_archive_folder_tar_and_url_give_the_same_dataset(project, tree, imported, server, tmp_path, capsys):
    www, url = server
    build_archive(tree, www / "x.tar", mode="w", dot=False)  # no './', not compressed
    assert _import(project, tree, tmp_path / "from_folder") == 0
    capsys.readouterr()
    assert _import(project, f"{url}/x.tar", tmp_path / "from_url", quiet=False) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(tmp_path / "from_url")
    assert "downloading" in err and "writing" in err and "imported 48 recordings" in err
    want = _contents(imported)
    assert len(want) == 1 + 4 * (TRAIN + VAL + TEST)
    assert _contents(tmp_path / "from_folder") == want
    assert _contents(tmp_path / "from_url") == want
    assert [p.name for p in imported.parent.iterdir()] == ["data"]  # no staging or temporary folder left


def test_splits_follow_the_lists_and_counts_follow_the_rules(imported, tree):
    ds = load(imported)
    official = _lists(tree)
    assert (ds.sensor, ds.sample_rate) == ("mic", 16000)
    counts = Counter((r.label, r.split) for r in ds.recordings)
    for label in ("silence", "unknown", "yes", "no"):
        assert (counts[label, "train"], counts[label, "val"], counts[label, "test"]) == (TRAIN, VAL, TEST), label
    speakers = {s: set() for s in ("train", "val", "test")}
    unknown = []
    for rec in ds.recordings:
        src = rec.source
        assert src["format"] == "speech-commands"
        if rec.label == "silence":
            continue
        assert rec.split == official.get(src["file"], "train")  # exactly the official split
        assert src["word"] == src["file"].split("/")[0] and src["file"].split("/")[1].startswith(src["speaker"])
        speakers[rec.split].add(src["speaker"])
        if rec.label == "unknown":
            unknown.append(src["file"])
            assert src["word"] in ("bed", "cat", "dog")
        else:
            assert src["word"] == rec.label
        # samples as they are: not padded, not scaled
        pcm = np.round(ds.read(rec)[:, 0] * 32768).astype(np.int16)
        np.testing.assert_array_equal(pcm, _pcm(tree / src["file"]))
    assert len(set(unknown)) == len(unknown)
    assert speakers["val"] == {VAL_SPEAKER} and speakers["test"] == {TEST_SPEAKER}
    assert VAL_SPEAKER not in speakers["train"] and TEST_SPEAKER not in speakers["train"]
    yes = sorted(r.source["file"] for r in ds.recordings if r.label == "yes")
    assert yes == sorted(f"yes/{s}_nohash_{t}.wav" for s in SPEAKERS for t in range(TAKES))


def test_silence_is_cut_from_noise_in_stretches_that_do_not_cross_splits(imported, tree):
    ds = load(imported)
    spans: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for rec in ds.recordings:
        if rec.label != "silence":
            continue
        src = rec.source
        assert src["file"].startswith("_background_noise_/") and rec.samples == 16000
        noise = _pcm(tree / src["file"])
        pcm = np.round(ds.read(rec)[:, 0] * 32768).astype(np.int16)
        np.testing.assert_array_equal(pcm, noise[src["start"]:src["start"] + 16000])
        spans.setdefault(src["file"], {}).setdefault(rec.split, []).append((src["start"], src["start"] + 16000))
    assert sorted(spans) == [f"_background_noise_/{n}" for n in sorted(NOISE)]  # both files are used
    for file, by_split in spans.items():
        assert set(by_split) == {"train", "val", "test"}, file
        train, val, test = (by_split[s] for s in ("train", "val", "test"))
        assert max(e for _, e in train) <= min(s for s, _ in val)
        assert max(e for _, e in val) <= min(s for s, _ in test)


def test_same_seed_same_bytes_other_seed_other_draw(project, archive, imported, tmp_path):
    assert _import(project, archive, tmp_path / "again") == 0
    assert _contents(tmp_path / "again") == _contents(imported)
    assert _import(project, archive, tmp_path / "other", "--seed", "99") == 0

    def drawn(root):
        return sorted((r.label, r.split, r.source["file"], r.source.get("start")) for r in load(root).recordings
                      if r.label in ("silence", "unknown"))

    assert drawn(tmp_path / "other") != drawn(imported)
    words = sorted(r.file for r in load(tmp_path / "other").recordings if r.label in ("yes", "no"))
    assert words == sorted(r.file for r in load(imported).recordings if r.label in ("yes", "no"))


def test_per_class_caps_the_train_split_only(project, archive, tmp_path):
    assert _import(project, archive, tmp_path / "d", "--per-class", "3") == 0
    counts = Counter((r.label, r.split) for r in load(tmp_path / "d").recordings)
    for label in ("silence", "unknown", "yes", "no"):
        assert (counts[label, "train"], counts[label, "val"], counts[label, "test"]) == (3, VAL, TEST), label


def test_train_reads_the_import(project, imported):
    from tinyml.train.audio import project_clips

    cfg = config.load(project)
    ds = load(imported)
    clips = project_clips(cfg, ds, "train")
    assert clips.x.shape == (4 * TRAIN, 49, 40, 1) and np.all(np.isfinite(clips.x))
    assert clips.labels == ("silence", "unknown", "yes", "no")
    assert sorted(Counter(clips.y.tolist()).values()) == [TRAIN] * 4


# ---- one line, exit 2, nothing written ----

def _refused(project, source, tmp_path, capsys, *extra) -> str:
    parent = tmp_path / "outs"
    code = _import(project, source, parent / "data", *extra)
    line = one_error_line(capsys.readouterr().err)
    assert code == 2, line
    assert not parent.exists() or list(parent.iterdir()) == []  # no dataset, no temporary folder
    return line


def test_an_unreachable_url_is_one_line(project, tmp_path, capsys):
    line = _refused(project, "http://127.0.0.1:9/x.tar.gz", tmp_path, capsys)
    assert "http://127.0.0.1:9/x.tar.gz" in line and "refused" in line.lower() and "--from FILE" in line


def test_the_default_url_unreachable_says_to_download_it_elsewhere(project, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(speech_commands, "OFFICIAL_URL", "http://127.0.0.1:9/speech_commands_v0.02.tar.gz")
    line = _refused(project, None, tmp_path, capsys)
    assert "speech_commands_v0.02.tar.gz" in line and "--from FILE" in line


def test_a_missing_file_on_the_server_is_one_line(project, tmp_path, capsys, server):
    _, url = server
    assert "404" in _refused(project, f"{url}/nothing.tar.gz", tmp_path, capsys)


def _damaged(tree: Path, archive: Path, tmp_path: Path, how: str) -> Path:
    data = archive.read_bytes()
    out = tmp_path / "damaged.tar.gz"
    if how == "truncated gzip":
        out.write_bytes(data[:len(data) // 2])
    elif how == "wrong gzip crc":  # every byte of the tar intact, the gzip trailer's CRC not
        out.write_bytes(data[:-8] + bytes(b ^ 0xFF for b in data[-8:-4]) + data[-4:])
    elif how == "not a tar":
        out.write_bytes(b"<html>Sorry, this page is not available</html>\n" * 20)
    elif how == "tar cut at a member":  # tarfile itself would read this as a shorter archive
        plain = build_archive(tree, tmp_path / "plain.tar", mode="w")
        with tarfile.open(plain) as tar:
            members = tar.getmembers()
        out = tmp_path / "damaged.tar"
        out.write_bytes(plain.read_bytes()[:members[len(members) // 2].offset])
    return out


@pytest.mark.parametrize("how", ["truncated gzip", "wrong gzip crc", "not a tar", "tar cut at a member"])
def test_a_damaged_archive_is_one_line(project, tree, archive, tmp_path, capsys, how):
    line = _refused(project, _damaged(tree, archive, tmp_path, how), tmp_path, capsys)
    assert "cut short or corrupt" in line and "damaged.tar" in line, line


def test_a_path_that_does_not_exist_is_one_line(project, tmp_path, capsys):
    assert "no such file or folder" in _refused(project, tmp_path / "nope.tar.gz", tmp_path, capsys)


def test_a_folder_without_word_folders_is_one_line(project, tree, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("validation_list.txt", "testing_list.txt", "README.md"):
        shutil.copy(tree / name, src / name)
    line = _refused(project, src, tmp_path, capsys)
    assert "word folders" in line and "README.md" in line


@pytest.mark.parametrize("archived", [False, True])
def test_missing_lists_are_one_line(project, tree, tmp_path, capsys, archived):
    src = shutil.copytree(tree, tmp_path / "src")
    (src / "testing_list.txt").unlink()
    if archived:
        src = build_archive(src, tmp_path / "src.tar.gz")
    line = _refused(project, src, tmp_path, capsys)
    assert "testing_list.txt" in line and "official split" in line


@pytest.mark.parametrize("rate, channels, archived", [(16000, 2, False), (8000, 1, True)])
def test_a_clip_in_another_format_is_one_line(project, tree, tmp_path, capsys, rate, channels, archived):
    src = shutil.copytree(tree, tmp_path / "src")
    _wav(src / "yes" / f"{SPEAKERS[0]}_nohash_1.wav", np.zeros(4000 * channels), rate=rate, channels=channels)
    if archived:
        src = build_archive(src, tmp_path / "src.tar.gz")
    line = _refused(project, src, tmp_path, capsys)
    assert f"{channels} channel(s), 16-bit, {rate} Hz" in line and f"yes/{SPEAKERS[0]}_nohash_1.wav" in line


@pytest.mark.parametrize("archived", [False, True])
def test_a_label_the_source_does_not_have_is_one_line(tree, archive, tmp_path, capsys, archived):
    project = tmp_path / "p"
    project.mkdir()
    (project / "tinyml.toml").write_text('[project]\ntask = "kws"\nlabels = ["silence", "unknown", "yes", "maybe"]\n')
    line = _refused(project, archive if archived else tree, tmp_path, capsys)
    assert "'maybe'" in line and "bed, cat, dog, no, yes" in line and "project.labels" in line


def test_from_needs_speech_commands(project, tmp_path, capsys):
    assert main(["collect", "-C", str(project), "--builtin", "gestures", "--from", "x.tar.gz",
                 "-o", str(tmp_path / "d")]) == 2
    assert "--builtin speech-commands" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "d").exists()
