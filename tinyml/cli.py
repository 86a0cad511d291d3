"""The `tinyml` command line.

The root lists every command explicitly and imports a command's module only
when that command runs, so `tinyml --help` is instant and never imports
TensorFlow. Each stage has one `cli.py` for its commands: the stage's main
command is `add_arguments(parser)` and `run(args, reporter) -> int`, any other
command NAME of the same stage `add_NAME_arguments` and `run_NAME`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

import tinyml
from tinyml.errors import EXIT_FAILURE, TinymlError

# What a process stopped by SIGPIPE returns to the shell (128 + 13), as `yes | head -1` does.
EXIT_STDOUT_CLOSED = 141

# name -> (module, one-line help); the order is the pipeline's.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("tinyml.project_cli", "create a project folder with tinyml.toml"),
    "collect": ("tinyml.collect.cli", "record a dataset from the board or the emulator, import files, or write the built-in data"),
    "export": ("tinyml.collect.cli", "a dataset as Edge Impulse data acquisition JSON"),
    "train": ("tinyml.train.cli", "train the Keras model on a dataset"),
    "tune": ("tinyml.tune.cli", "search model shapes under the board's budget on Ray Tune, each trial emulated"),
    "quantize": ("tinyml.quantize.cli", "full-int8 post-training quantization, checked in TFLM"),
    "inspect": ("tinyml.quantize.cli", "ops, shapes, MACs and the exact TFLM arena of a .tflite"),
    "codegen": ("tinyml.codegen.cli", "generate the model C array and a PlatformIO project"),
    "build": ("tinyml.firmware.cli", "build a generated project with PlatformIO; check flash/RAM"),
    "flash": ("tinyml.firmware.cli", "build, check and upload to a Nano 33 BLE"),
    "emulate": ("tinyml.evaluate.cli", "run the model on an emulated Cortex-M4 (QEMU) and read it back"),
    "evaluate": ("tinyml.evaluate.cli", "accuracy of an int8 model on a dataset, run in TFLM"),
    "demo": ("tinyml.demo", "the whole pipeline on built-in data, no board needed"),
}


def command_functions(mod, name: str):
    """(add_arguments, run) of command `name` in its stage's cli module."""
    if hasattr(mod, f"run_{name}"):
        return getattr(mod, f"add_{name}_arguments"), getattr(mod, f"run_{name}")
    return mod.add_arguments, mod.run


def _command_in(argv: list[str]) -> str | None:
    for token in argv:
        if not token.startswith("-"):
            return token if token in COMMANDS else None
    return None


def build_parser(selected: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinyml",
        description="TinyML for the Arduino Nano 33 BLE Sense: collect -> train -> quantize -> "
                    "codegen -> build/flash -> evaluate. Start with `tinyml demo`.")
    parser.add_argument("--version", action="version", version=f"tinyml {tinyml.__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            mod = importlib.import_module(module)
            add, run = command_functions(mod, name)
            add(p)
            p.set_defaults(_run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        # `tinyml ... | head`: the reader has all it wanted. End quietly, as `cat` does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return EXIT_STDOUT_CLOSED


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (poll reports an error on its write end)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, ValueError, OSError):  # no poll, or a stdout without a file descriptor
        return False


def _main(argv: list[str] | None) -> int:
    from tinyml.log import Reporter

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_in(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0)
    reporter = Reporter(quiet=args.quiet)
    try:
        return int(args._run(args, reporter) or 0)
    except TinymlError as exc:
        print(f"tinyml {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a folder that cannot be created, a file where a folder should be, a full disk
        if isinstance(exc, BrokenPipeError) and _stdout_closed():
            raise  # main() ends quietly; a broken pipe to a child process or a socket is reported
        where = f" '{exc.filename}'" if getattr(exc, "filename", None) else ""
        print(f"tinyml {args.command}: error: {exc.strerror or exc}{where}. Check the path and its permissions.",
              file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"tinyml {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
