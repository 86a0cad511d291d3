"""`tinyml evaluate MODEL.tflite`: host-side accuracy of the int8 model, run in the TFLM interpreter;
`--wav FILE...` classifies recordings with a keyword-spotting model, `--wav-dir DIR` measures one on a
folder of labelled recordings; `--port` checks a device."""

from __future__ import annotations

import json
from pathlib import Path

from tinyml import config
from tinyml.paths import ProjectPaths
from tinyml.project_cli import flags_of


def add_arguments(p) -> None:
    p.add_argument("model", nargs="?", help="int8 .tflite model (default: <project>/build/model_int8.tflite)")
    p.add_argument("-C", "--project", default=".", help="project folder (default: .)")
    p.add_argument("--data", help="dataset folder (default: <project>/data)")
    p.add_argument("--split", choices=["train", "val", "test", "all"], default="test",
                   help="which split (default: test); all: every recording, e.g. of an imported dataset")
    p.add_argument("--port", help="a device running tinyml firmware, as any pyserial URL (/dev/ttyACM0, "
                                  "socket://127.0.0.1:PORT for QEMU or Renode): compare its outputs with the host's TFLM")
    p.add_argument("--inputs", type=int, default=8, help="with --port: seeded random inputs to send (default: 8)")
    p.add_argument("--timeout", type=float, default=60.0, help="with --port: seconds to wait for each answer")
    p.add_argument("--wav", nargs="+", metavar="FILE", help="keyword spotting: classify these recordings "
                   "(16-bit mono WAV) and print each one's label and scores")
    p.add_argument("--wav-dir", metavar="DIR", help="keyword spotting: accuracy on DIR's recordings, one folder per "
                   "spoken word (Speech Commands' layout): a word that is a label counts as that label, _silence_ "
                   "as silence, any other word as unknown; per-label and balanced accuracy, confusion matrix")
    p.add_argument("--stream-dir", metavar="DIR", help="keyword spotting: DIR's recordings (folders as for --wav-dir) "
                   "joined into one seeded stream with noise between them, run through the detector as on the "
                   "device ([kws] settings): false reject rate, false accepts per hour, and a threshold sweep")
    p.add_argument("--map", metavar="WORD=LABEL,...", help="with --wav-dir/--stream-dir: count WORD's folder as "
                   "LABEL instead")
    p.add_argument("--frontend", choices=["logmel", "tflm"], help="with --wav/--wav-dir: the audio front end "
                   "(default: what the model was trained with, or frontend.kind)")
    p.add_argument("--labels", help="with --wav/--wav-dir/--stream-dir: class names in output order, comma "
                   "separated (default: recorded beside the model, or project.labels)")
    p.add_argument("--preprocessor", help="with --frontend tflm: TFLM's audio_preprocessor_int8.tflite "
                   "(default: beside the model)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args, reporter) -> int:
    from tinyml.evaluate.accuracy import evaluate_tflite, render

    cfg = config.load(args.project, flags=flags_of(args))
    paths = ProjectPaths(Path(args.project))
    given = [flag for flag, v in (("--wav", args.wav), ("--wav-dir", args.wav_dir), ("--stream-dir", args.stream_dir),
                                  ("--port", args.port)) if v]
    if len(given) > 1:
        from tinyml.errors import expected

        raise expected("one of --wav, --wav-dir, --stream-dir and --port", " and ".join(given),
                       "Run them one at a time.")
    if args.map and not (args.wav_dir or args.stream_dir):
        from tinyml.errors import expected

        raise expected("--map with --wav-dir or --stream-dir", "--map alone", "Add --wav-dir DIR or drop --map.")
    if args.stream_dir:
        return _stream(args, Path(args.model) if args.model else paths.int8_model, cfg, reporter)
    if args.wav or args.wav_dir:
        return _wavs(args, Path(args.model) if args.model else paths.int8_model, cfg, reporter)
    if args.port:
        return _on_device(args, Path(args.model) if args.model else paths.int8_model, cfg)
    result = evaluate_tflite(cfg, Path(args.model) if args.model else paths.int8_model,
                             Path(args.data) if args.data else paths.data, args.split)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


def _wavs(args, model: Path, cfg, reporter) -> int:
    from tinyml.evaluate import wav_dir
    from tinyml.evaluate.wav import Classifier, render, resolve

    labels, params = resolve(model, cfg, _labels(args), args.frontend)
    mapping = wav_dir.parse_map(args.map)
    classify = Classifier(model, labels, params, Path(args.preprocessor) if args.preprocessor else None)
    if args.wav_dir:
        result = wav_dir.evaluate_wav_dir(classify, Path(args.wav_dir), mapping, reporter)
        doc = {"model": str(model), "frontend": params.to_json(), **result}
        print(json.dumps(doc, indent=2) if args.json else f"{model} ({params.kind} front end, int8 in the TFLM "
              f"interpreter)\n" + wav_dir.render(result))
        return 0
    results = [classify(Path(w)) for w in args.wav]
    print(json.dumps({"model": str(model), "frontend": params.to_json(), "results": results}, indent=2)
          if args.json else render(results, params))
    return 0


def _labels(args) -> list[str] | None:
    return [v.strip() for v in args.labels.split(",") if v.strip()] if args.labels else None


def _stream(args, model: Path, cfg, reporter) -> int:
    from tinyml.errors import require_file
    from tinyml.evaluate import kws_quality, wav_dir
    from tinyml.evaluate.kws_stream import project_stream_params
    from tinyml.evaluate.wav import resolve

    labels, params = resolve(model, cfg, _labels(args), args.frontend)
    model_bytes = require_file(model, "an int8 .tflite model").read_bytes()
    result = kws_quality.host_quality(model_bytes, labels, params, project_stream_params(args.project),
                                      Path(args.stream_dir), wav_dir.parse_map(args.map), cfg["project.seed"],
                                      reporter)
    result = {"model": str(model), **result}
    print(json.dumps(result, indent=2) if args.json else kws_quality.render(result))
    return 0


def _on_device(args, model: Path, cfg) -> int:
    import serial

    from tinyml.errors import expected
    from tinyml.evaluate.device import check
    from tinyml.quantize.tflm import seeded_samples
    from tinyml.evaluate.protocol import Device
    from tinyml.quantize import flatbuffer
    from tinyml.quantize.tflm import Runner

    if args.inputs < 1 or args.timeout <= 0:
        raise expected("--inputs >= 1 and --timeout > 0", f"{args.inputs} and {args.timeout:g}")
    info = flatbuffer.read(model)
    try:
        link = serial.serial_for_url(args.port, do_not_open=True, baudrate=115200, timeout=0.5)
        link.open()
    except (serial.SerialException, ValueError) as exc:
        raise expected("a serial port or pyserial URL that opens", f"'{args.port}' ({exc})",
                       "Check the cable, or the port QEMU/Renode listens on.") from None
    try:
        result = check(Device(link, args.timeout), info.raw, seeded_samples(Runner(info.raw), args.inputs,
                                                                         cfg["project.seed"]))
    finally:
        link.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        unit = result["clock"]
        match = "identical to" if result["outputs_match_host"] else "DIFFERENT from"
        print(f"{result['model']} on {result['board']} ({result['inputs_checked']} inputs): outputs {match} "
              f"the host's TFLM interpreter; {result[unit + '_per_inference']:,} {unit} per inference; "
              f"arena {result['arena_bytes']:,} B, stack {result['stack_bytes']:,} B")
    return 0 if result["outputs_match_host"] else 1
