"""`tinyml codegen MODEL.tflite -o DIR`: the model as C plus a PlatformIO project.

A keyword-spotting model (trained by tinyml, its labels and front end recorded beside it) gets
the KWS application instead: the C log-mel front end, the AOT-compiled model and the streaming
detector, for the board (PDM microphone) and the emulator (audio over the UART)."""

from __future__ import annotations

from pathlib import Path

from tinyml import config
from tinyml.paths import ProjectPaths
from tinyml.project_cli import add_option_flags, flags_of


def add_arguments(p) -> None:
    p.add_argument("model", nargs="?", help="int8 .tflite model (default: <project>/build/model_int8.tflite)")
    p.add_argument("-C", "--project", default=".", help="project folder (default: .)")
    p.add_argument("-o", "--out", help="output folder (default: <project>/build/firmware, or build/aot)")
    p.add_argument("--backend", choices=["tflm", "aot"], default=None,
                   help="tflm: a PlatformIO project running the TensorFlow Lite Micro interpreter (default; any model "
                        "the board's TFLM runs: int8, int16, float, LSTM, SVDF, several inputs and outputs); "
                        "aot: the model compiled to plain C99 with a static memory plan, no interpreter (int8). "
                        "A keyword-spotting model gets the KWS application, which uses aot")
    p.add_argument("--symbol", default="g_model", help="C name of the model array (default: g_model)")
    add_option_flags(p, ["codegen.arena_margin_percent", "codegen.arena_margin_min_bytes"])


def run(args, reporter) -> int:
    from tinyml.codegen.project import generate

    cfg = config.load(args.project, flags=flags_of(args))
    paths = ProjectPaths(Path(args.project))
    model = Path(args.model) if args.model else paths.int8_model
    from tinyml.train.frontend import read_audio_meta

    meta = read_audio_meta(model) if model.is_file() else None
    if meta is not None and args.backend == "tflm":
        from tinyml.errors import expected

        raise expected("--backend aot (or none) for a keyword-spotting model",
                       f"--backend tflm for '{model}', whose KWS application runs the AOT-compiled model",
                       "Leave out --backend; to run the bare model on TFLM, copy the .tflite without its .meta.json.")
    if meta is not None:
        from tinyml.codegen.kws import write_kws_project
        from tinyml.detector import project_stream_params

        labels, params = meta
        summary = write_kws_project(model, Path(args.out) if args.out else paths.firmware, labels, params,
                                    project_stream_params(args.project))
        reporter.info(f"keyword spotting: {params.kind} front end, labels {', '.join(labels)}; "
                      f"AOT arena {summary['arena_bytes']:,} B; environments {', '.join(summary['environments'])}")
        print(summary["project"])
        return 0
    if cfg["project.task"] == "kws" and model.is_file():
        from tinyml.errors import expected

        raise expected(f"a keyword-spotting model trained by tinyml (labels and front end in {model.name}.meta.json)",
                       f"'{model}' without them", "Quantize it with `tinyml quantize` in this project.")
    if args.backend == "aot":
        from tinyml.codegen.aot.generate import generate_aot

        summary = generate_aot(model, Path(args.out) if args.out else paths.aot)
        reporter.info(f"ops {', '.join(summary['ops'])}; arena {summary['arena_bytes']:,} B (static plan)")
        print(summary["project"])
        return 0
    out = Path(args.out) if args.out else paths.firmware
    summary = generate(model, out, board=cfg["project.board"],
                       margin_percent=cfg["codegen.arena_margin_percent"],
                       margin_min_bytes=cfg["codegen.arena_margin_min_bytes"], symbol=args.symbol,
                       seed=cfg["project.seed"], reporter=reporter,
                       project=Path(args.project))
    where = ("by the board's library on the emulated Cortex-M4" if summary["arena_measured_on"] == "board"
             else "on the host only")
    reporter.info(f"ops {', '.join(summary['ops'])}; arena {summary['arena_bytes']:,} B "
                  f"({summary['arena_measured_bytes']:,} measured {where} + {summary['arena_margin_bytes']:,} margin)")
    if summary["arena_measured_on"] == "host":
        reporter.info(f"warning: the board's arena was not measured: {summary['arena_note']}")
    for defect in summary["board_defects"]:
        reporter.info(f"warning: the board's library will compute this model differently from the host: {defect}.")
    if summary.get("board_matches_host") is False and not summary["board_defects"]:
        reporter.info(f"warning: {summary['library']} computes different outputs for this model than the host's "
                      "TFLM (its self-check will say DIFFERS); `tinyml emulate MODEL --backend tflm` shows by how much.")
    print(summary["project"])
    return 0
