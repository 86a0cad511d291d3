"""`tinyml evaluate MODEL.tflite`: host-side accuracy of the int8 model, run in the TFLM interpreter;
`--wav FILE...` classifies recordings with a keyword-spotting model, `--wav-dir DIR` measures one on a
folder of labelled recordings; `--port` checks a device.

`tinyml emulate MODEL.tflite [--json]`: the model's firmware on QEMU's Cortex-M4, checked against TFLM.

With `--profile` the firmware is built with op markers and the summary is followed by a table of the
instructions each op takes (tinyml/host/profile.py).

With `--wav FILE...` (a keyword-spotting model) the KWS application runs instead: the C front end,
the model and the detector, fed the recordings over the emulated UART, its detections compared with
the host reference (librosa + TFLM interpreter).
"""

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
    from tinyml.detector import project_stream_params
    from tinyml.errors import require_file
    from tinyml.evaluate import kws_quality, wav_dir
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
    from tinyml.errors import expected
    from tinyml.link import open_link
    from tinyml.evaluate.device import check
    from tinyml.protocol import Device
    from tinyml.quantize import flatbuffer
    from tinyml.quantize.tflm import Runner
    from tinyml.quantize.tflm import seeded_samples

    if args.inputs < 1 or args.timeout <= 0:
        raise expected("--inputs >= 1 and --timeout > 0", f"{args.inputs} and {args.timeout:g}")
    info = flatbuffer.read(model)
    link = open_link(args.port, 0.5, "Check the cable, or the port QEMU/Renode listens on.")
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


def add_emulate_arguments(p) -> None:
    p.add_argument("model", help="a .tflite model (int8 for the AOT backend; any model TFLM runs for --backend tflm)")
    p.add_argument("--backend", choices=["aot", "tflm"], default="aot",
                   help="aot: the model compiled to C by tinyml (default); tflm: the generated TFLM sketch with "
                        "the board's TFLM library (Chirale_TensorFLowLite, built for the emulated Cortex-M4)")
    p.add_argument("--kernels", choices=["cmsis-nn", "reference"], default="cmsis-nn",
                   help="with --backend tflm: the library's CMSIS-NN kernels (as on the board; default) or TFLM's "
                        "reference kernels")
    p.add_argument("-o", "--out", help="emulator project folder (default: ./build/emulator/<model name>)")
    p.add_argument("--inputs", type=int, default=8, help="seeded random inputs to run (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the inputs, and with --wav/--stream-dir of the "
                   "chunk sizes the audio is sent in (default: 0; the stream's order is project.seed's)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for each answer before calling the firmware hung (default: 60)")
    p.add_argument("--wav", nargs="+", metavar="FILE", help="keyword spotting: stream these recordings (16-bit "
                   "mono WAV) to the KWS firmware and compare its detections with the host's")
    p.add_argument("--stream-dir", metavar="DIR", help="keyword spotting: DIR's recordings (one folder per spoken "
                   "word) joined into one seeded stream, as `tinyml evaluate --stream-dir` builds it: the device's "
                   "false rejects and false accepts per hour beside the host's")
    p.add_argument("--map", metavar="WORD=LABEL,...", help="with --stream-dir: count WORD's folder as LABEL instead")
    p.add_argument("-C", "--project", default=".", help="project folder: with --wav, whose [kws] settings apply; "
                   "with --backend tflm, where a board build's copy of the TFLM library is looked for (default: .)")
    p.add_argument("--uart-ms", type=int, default=0, help="with --wav: milliseconds of each stream sent as text "
                   "over the UART; the rest goes through semihosting, which is faster (default: 0)")
    p.add_argument("--profile", action="store_true", help="also count the instructions of every op (a build with "
                   "op markers, -DTINYML_PROFILE) and print them per op: shape, MACs, instructions per MAC, share")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def render(r: dict) -> str:
    def kb(n):
        return f"{n:,} B ({n / 1024:.1f} KiB)"

    ram_total = r["ram_bytes"] + r["stack_bytes"]
    match = "identical to" if r["outputs_match_host"] else "DIFFERENT from"
    engine = (f"TFLM sketch, {r['library']}, {r['kernels']} kernels" if r.get("backend") == "tflm"
              else "AOT backend")
    lines = [
        f"{r['model']} ({engine}) on QEMU {r['board']} ({r['inputs_checked']} inputs): outputs {match} "
        "the host's TFLM interpreter",
        f"  instructions per inference  {r['instructions_per_inference']:,} "
        f"(min {r['instructions_min']:,}; {r['instruction_counter']})",
        f"  latency at 64 MHz           {r['latency_ms_at_64mhz']:.2f} ms ({r['latency_assumption']})",
    ]
    if r.get("instructions_per_mac"):
        lines.append(f"  instructions per MAC        {r['instructions_per_mac']:.2f} ({r['macs']:,} MACs; "
                     "the Cortex-M4 floor is about 0.5 cycles per int8 MAC)")
    lines += [
        "  memory                      used                          nRF52840 budget",
        f"  flash (text + data)         {kb(r['flash_bytes']):<29} {kb(r['flash_budget'])}",
        f"  RAM (data + bss)            {kb(r['ram_bytes']):<29}",
        (f"    of which arena            {kb(r['arena_reserved_bytes']):<29} (TFLM uses {r['arena_bytes']:,} B after "
         f"AllocateTensors, needs {r['arena_measured_bytes']:,} B to get there)" if r.get("backend") == "tflm"
         else f"    of which arena            {kb(r['arena_bytes']):<29}"),
        f"  stack high-water            {kb(r['stack_bytes']):<29}",
        f"  RAM total                   {kb(ram_total):<29} {kb(r['ram_budget'])}",
    ]
    return "\n".join(lines)


def run_emulate(args, reporter) -> int:
    from tinyml.errors import BadInput
    from tinyml.evaluate.emulate import check_project_path, default_project_name, emulate

    if args.inputs < 1 or args.seed < 0 or args.timeout <= 0:
        raise BadInput(f"Expected --inputs >= 1, --seed >= 0 and --timeout > 0. Received: {args.inputs}, "
                       f"{args.seed}, {args.timeout:g}.")
    if args.wav and args.stream_dir:
        raise BadInput("Expected --wav or --stream-dir. Received: both. Run them one at a time.")
    if args.map and not args.stream_dir:
        raise BadInput("Expected --map with --stream-dir. Received: --map alone. Add --stream-dir DIR or drop --map.")
    kws = bool(args.wav or args.stream_dir)
    if args.profile and kws:
        raise BadInput("Expected --profile or --wav/--stream-dir. Received: both. Profile the model alone (leave "
                       "out --wav); the KWS run already reports its front end and network separately.")
    model = Path(args.model)
    suffix = "-kws" if kws else ("" if args.backend == "aot" else f"-tflm-{args.kernels}")
    suffix += "-profile" if args.profile else ""
    out = check_project_path(Path(args.out) if args.out else
                             Path("build") / "emulator" / default_project_name(model.stem + suffix))
    if kws:
        return _kws(args, model, out, reporter)
    from tinyml import config

    cfg = config.load(args.project)  # the arena margins codegen would apply
    result = emulate(model, out, inputs=args.inputs, seed=args.seed, timeout_s=args.timeout, reporter=reporter,
                     backend=args.backend, kernels=args.kernels, project=Path(args.project),
                     margin_percent=cfg["codegen.arena_margin_percent"],
                     margin_min_bytes=cfg["codegen.arena_margin_min_bytes"], profile=args.profile)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(render(result))
        if args.profile:
            from tinyml.host.profile import render_profile

            print(render_profile(result["profile"], result["profile_totals"]))
    return 0 if result["outputs_match_host"] else 1


def _kws(args, model: Path, out: Path, reporter) -> int:
    from tinyml.detector import project_stream_params
    from tinyml.errors import expected, require_file
    from tinyml.evaluate.emulate_kws import emulate_kws
    from tinyml.train.frontend import read_audio_meta

    meta = read_audio_meta(require_file(model, "an int8 .tflite model"))
    if meta is None:
        raise expected("a keyword-spotting model trained by tinyml (labels and front end recorded beside it)",
                       f"'{model}' without them", "Train and quantize it with project.task = \"kws\".")
    if args.uart_ms < 0:
        raise expected("--uart-ms >= 0", args.uart_ms)
    labels, params = meta
    stream_params = project_stream_params(args.project)
    wavs = [Path(w) for w in args.wav or []]
    if args.stream_dir:
        from tinyml import config
        from tinyml.evaluate import kws_quality, wav_dir

        pcm, placed = kws_quality.prepare(Path(args.stream_dir), labels, wav_dir.parse_map(args.map), params,
                                          config.load(args.project)["project.seed"], reporter, "the emulated device")
        wavs = [(Path(args.stream_dir).name + " (stream)", pcm)]
    result = emulate_kws(model, wavs, out, labels, params, stream_params, reporter=reporter, uart_ms=args.uart_ms,
                         seed=args.seed, timeout_s=args.timeout)
    if args.stream_dir:
        stream = result["streams"][0]
        quality = {side: kws_quality.report([(d["label"], d["time_ms"]) for d in stream[f"detections_{side}"]], None,
                                            labels, placed, stream["samples"], params, stream_params)
                   for side in ("device", "host")}
        result["stream_quality"] = {"dir": args.stream_dir, "recordings": len(placed), **quality}
    print(json.dumps(result, indent=2) if args.json else render_kws(result))
    return 0 if result["detections_match"] else 1


def render_kws(r: dict) -> str:
    from tinyml.evaluate import kws_quality

    same = "identical to" if r["detections_match"] else "DIFFERENT from"
    lines = [f"{r['model']}: KWS firmware on QEMU; detections {same} the host reference; "
             f"{r['scores_identical_fraction']:.1%} of {r['inferences']} inferences with identical int8 scores"]
    width = max(len(s["wav"]) for s in r["streams"])
    for s in r["streams"]:
        found = ", ".join(f"{d['label']} at {d['time_ms']} ms ({d['score']})" for d in s["detections_device"]) or "none"
        if "stream_quality" not in r:
            lines.append(f"  {s['wav']:<{width}}  device: {found}")
    q = r.get("stream_quality")
    if q:
        lines.append(f"  {q['recordings']} recordings of {q['dir']} in one stream of {q['device']['minutes']:.1f} min:")
        for side in ("device", "host"):
            s = q[side]["score"]
            lines.append(f"    {side:<6}  false rejects {s['keywords'] - s['accepted']}/{s['keywords']} = "
                         f"{kws_quality.rate(s['false_reject_rate'])}, false accepts {s['false_accepts']} = "
                         f"{s['false_accepts_per_hour']:.1f} per hour")
    fe, net = r["frontend_instructions_per_frame"], r["network_instructions_per_inference"]
    lat = r["latency_ms_at_64mhz"]
    lines += [
        f"  front end   {fe:,} instructions per frame ({lat['frontend']:.2f} ms at 64 MHz; {r['instruction_counter']})",
        f"  network     {net:,} instructions per inference ({lat['network']:.1f} ms at 64 MHz)",
        f"  real time   {r['realtime_load_at_64mhz']:.0%} of a 64 MHz core (a frame every hop, the model every "
        f"{r['stream_params']['infer_every']} hops)" + _realtime_advice(r),
        f"  memory      flash {r['flash_bytes']:,} B, RAM {r['ram_bytes']:,} B + stack {r['stack_bytes']:,} B "
        f"(budget {r['flash_budget']:,} / {r['ram_budget']:,} B)",
    ]
    return "\n".join(lines)


def _realtime_advice(r: dict) -> str:
    if r["realtime_load_at_64mhz"] <= 1:
        return ""
    k = r["realtime_min_infer_every"]
    return (": NOT real time on the board; " + (f"kws.infer_every >= {k} or a smaller model (dscnn_small) would be"
                                                 if k else "the front end alone is too slow"))
