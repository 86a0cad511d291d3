"""`tinyml demo --task kws`: keyword spotting end to end on built-in data, with no board.

espeak-ng, flite and festival speak the keywords and other words (collect/keywords.py); a DS-CNN
learns them from librosa log-mel features, normalized per window; it is quantized to int8 twice
(post-training and quantization-aware); recordings passed with --wav are classified on the host, and
folders of labelled recordings passed with --wav-dir (real speech) measured; the KWS firmware (the C
front end, the AOT-compiled model and the streaming detector) runs on QEMU's Cortex-M4, fed the
recordings over its UART, and its detections are compared with the host's.
"""

from __future__ import annotations

from pathlib import Path

SMALL = {"per_class": 60, "epochs": 20, "qat_epochs": 2, "architecture": "dscnn_small", "batch_size": 32}
FULL = {"per_class": None, "epochs": None, "qat_epochs": None, "architecture": None,
        "batch_size": None}  # None: the stage's default


def run(args, reporter, root: Path) -> int:
    from tinyml import config
    from tinyml.artifacts import write_text
    from tinyml.collect.dataset import load
    from tinyml.collect.keywords import DEFAULT_PER_CLASS, write_keywords
    from tinyml.detector import stream_params
    from tinyml.evaluate.emulate_kws import emulate_kws
    from tinyml.evaluate.report import write_report
    from tinyml.evaluate.wav import classify_wavs
    from tinyml.log import Stopwatch
    from tinyml.paths import ProjectPaths
    from tinyml.quantize.inspect import inspect
    from tinyml.quantize.ptq import quantize_model
    from tinyml.train.frontend import FrontendParams
    from tinyml.train.train import read_history, train

    size = dict(SMALL if args.small else FULL)
    paths = ProjectPaths(root)
    clock = Stopwatch()
    flags = {"project.task": "kws", "project.seed": args.seed, "model.epochs": size["epochs"],
             "quantize.qat_epochs": size["qat_epochs"], "model.architecture": size["architecture"],
             "model.batch_size": size["batch_size"]}
    cfg = config.load(root, flags=flags, read_file=False)
    write_text(paths.config, config.render_toml(cfg.values))
    labels = list(cfg["project.labels"])
    params = FrontendParams.from_config(cfg)
    per_class = size["per_class"] or DEFAULT_PER_CLASS
    wavs = [Path(w) for w in args.wav or []]

    reporter.info(f"[1/7] collect: built-in keywords spoken by espeak-ng, flite, festival and Pico, {per_class} "
                  f"clips per class -> {paths.data}")
    write_keywords(paths.data, per_class=per_class, seed=cfg["project.seed"], labels=tuple(labels), reporter=reporter)
    reporter.info(f"[2/7] train: {cfg['model.architecture']} on {params.frames} x {params.mel_bands} log-mel, "
                  f"up to {cfg['model.epochs']} epochs")
    trained = train(cfg, paths.data, paths.keras_model, paths.history, reporter)
    reporter.info("[3/7] quantize: full int8 after training (PTQ), checked in the TFLM interpreter")
    ptq = quantize_model(cfg, paths.keras_model, paths.data, paths.int8_model, paths.quantize_report, reporter,
                         mode="ptq")
    qat_model = paths.build / "model_int8_qat.tflite"
    reporter.info(f"[4/7] quantize: quantization-aware training ({cfg['quantize.qat_epochs']} epochs), then int8")
    qat = quantize_model(cfg, paths.keras_model, paths.data, qat_model, paths.build / "quantize_qat.json", reporter,
                         mode="qat")
    deployed = qat_model if cfg["quantize.mode"] == "qat" else paths.int8_model
    recordings = {}
    if wavs:
        reporter.info(f"[5/7] evaluate: {len(wavs)} recording(s) through the log-mel front end and each int8 model")
        recordings = {"ptq": classify_wavs(paths.int8_model, wavs, labels, params),
                      "qat": classify_wavs(qat_model, wavs, labels, params)}
    real = {}
    if args.wav_dir:
        from tinyml.evaluate.wav import Classifier
        from tinyml.evaluate.wav_dir import evaluate_wav_dir

        reporter.info(f"[5/7] evaluate: the recordings of {args.wav_dir} through each int8 model")
        for mode, model in (("ptq", paths.int8_model), ("qat", qat_model)):
            result = evaluate_wav_dir(Classifier(model, labels, params), Path(args.wav_dir), reporter=reporter)
            real[mode] = {k: result[k] for k in ("dir", "clips", "accuracy", "balanced_accuracy",
                                                 "per_class_accuracy", "confusion", "words")}
    if not wavs and not args.wav_dir:
        reporter.info("[5/7] evaluate: no --wav recordings or --wav-dir given; skipped")
    stream_wavs = wavs or _builtin_examples(paths.data, labels, root / "build" / "examples")
    reporter.info(f"[6/7] emulate: the KWS firmware on QEMU's Cortex-M4, {len(stream_wavs)} recording(s) "
                  f"streamed over its UART")
    emulated = emulate_kws(deployed, stream_wavs, paths.firmware, labels, params, stream_params(cfg),
                           reporter=reporter, seed=cfg["project.seed"])
    reporter.info("[7/7] report")
    model_report = inspect(deployed)
    history = read_history(paths.history)
    dataset = load(paths.data)
    report = {
        "task": "kws",
        "project": str(root),
        "seed": cfg["project.seed"],
        "dataset": {"recordings": len(dataset.recordings), "labels": dataset.labels,
                    "sample_rate": dataset.sample_rate,
                    "source": "espeak-ng, flite and festival (collect/keywords.py)",
                    "splits": {s: len(dataset.split(s)) for s in ("train", "val", "test")}},
        "frontend": params.to_json(),
        "accuracy": {"float": ptq.float_accuracy, "int8": ptq.int8_accuracy, "int8_qat": qat.int8_accuracy,
                     "drop": ptq.float_accuracy - ptq.int8_accuracy,
                     "drop_qat": qat.float_accuracy - qat.int8_accuracy,
                     "test_windows": ptq.test_windows, "float_int8_agreement": ptq.agreement,
                     "validation_float": trained.val_accuracy, "deployed": cfg["quantize.mode"]},
        "confusion_int8": {"labels": ptq.labels, "matrix": ptq.confusion},
        "confusion_int8_qat": {"labels": qat.labels, "matrix": qat.confusion},
        "recordings": recordings,
        "wav_dir": real,
        "training": {"epochs_run": trained.epochs_run, "curves": history["curves"]},
        "model": {k: model_report[k] for k in ("model_bytes", "macs", "ops", "arena_bytes", "inputs", "outputs")},
        "firmware": {"project": str(paths.firmware), "environments": ["nano33ble", "emulator"]},
        "emulator": emulated,
        "seconds": round(clock.seconds(), 1),
    }
    report_path = write_report(paths.build, report, history["curves"])
    print(summary(report, report_path))
    return 0


def _builtin_examples(data: Path, labels: list[str], out: Path) -> list[Path]:
    """Without --wav, stream the first test clip of each keyword."""
    import shutil

    from tinyml.collect.dataset import load
    from tinyml.config import NOT_KEYWORDS

    dataset = load(data)
    out.mkdir(parents=True, exist_ok=True)
    picked = []
    for label in labels:
        if label in NOT_KEYWORDS:
            continue
        rec = next((r for r in dataset.split("test") if r.label == label), None)
        if rec is not None:
            target = out / f"{label}_{Path(rec.file).stem}.wav"
            shutil.copyfile(dataset.root / rec.file, target)
            picked.append(target)
    return picked


def summary(report: dict, report_path: Path) -> str:
    acc, model, e = report["accuracy"], report["model"], report["emulator"]
    lines = [
        f"tinyml demo --task kws: {report['dataset']['recordings']} clips spoken by espeak-ng, flite, festival and "
        f"Pico ({', '.join(report['confusion_int8']['labels'])})",
        f"  accuracy (test, {acc['test_windows']} clips of unseen voices): float {acc['float']:.3f}, "
        f"int8 PTQ {acc['int8']:.3f}, int8 QAT {acc['int8_qat']:.3f} (TFLM interpreter)",
    ]
    for mode, results in report["recordings"].items():
        answers = ", ".join(f"{Path(r['wav']).name} -> {r['label']} ({r['score']:.2f})" for r in results)
        lines.append(f"  recordings, int8 {mode.upper()}: {answers}")
    for mode, r in report["wav_dir"].items():
        per = ", ".join(f"{k} {v:.3f}" for k, v in r["per_class_accuracy"].items() if v is not None)
        lines.append(f"  {r['clips']} recordings of {r['dir']}, int8 {mode.upper()}: balanced accuracy "
                     f"{r['balanced_accuracy']:.3f} ({per})")
    lines += [
        f"  model ({acc['deployed'].upper()}): {model['model_bytes']:,} B flatbuffer, {model['macs']:,} MACs, "
        f"ops {', '.join(model['ops'])}",
        _emulator_line(e),
        f"  report: {report_path} (+ confusion.png, training.png); {report['seconds']} s",
    ]
    return "\n".join(lines)


def _emulator_line(e: dict) -> str:
    same = "identical to" if e["detections_match"] else "DIFFERENT from"
    found = "; ".join(f"{s['wav']}: {', '.join(d['label'] for d in s['detections_device']) or 'none'}"
                      for s in e["streams"])
    return (f"  emulated Cortex-M4 (PlatformIO project {e['project']}): front end "
            f"{e['frontend_instructions_per_frame']:,} instructions per frame, network "
            f"{e['network_instructions_per_inference']:,} per inference (~{e['latency_ms_at_64mhz']['network']:.1f} ms "
            f"at 64 MHz); detections {same} the host's ({found})")
