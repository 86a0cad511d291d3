"""`tinyml init`: create a project folder holding tinyml.toml."""

from __future__ import annotations

from pathlib import Path

from tinyml import config
from tinyml.artifacts import write_text
from tinyml.errors import expected


def add_arguments(p) -> None:
    p.add_argument("directory", nargs="?", default=".", help="project folder (created if missing; default: .)")
    p.add_argument("--force", action="store_true", help="overwrite an existing tinyml.toml")
    add_option_flags(p, ["project.task", "project.seed", "window.size", "window.hop", "model.epochs"])


def add_option_flags(p, keys: list[str]) -> None:
    """Expose configuration options as flags (dest is the option key)."""
    for key in keys:
        opt = config.option(key)
        flag = "--" + opt.name.replace("_", "-")
        p.add_argument(flag, dest=key, default=None, metavar=opt.type.__name__.upper(),
                       help=f"{opt.help} [{key}; env {opt.env}; default {opt.default}]")


def flags_of(args) -> dict:
    return {k: v for k, v in vars(args).items() if "." in k}


def run(args, reporter) -> int:
    root = Path(args.directory)
    path = root / config.CONFIG_FILE
    if path.exists() and not args.force:
        raise expected(f"a folder without {config.CONFIG_FILE}", f"'{path}' exists",
                       "Pass --force to overwrite it.")
    cfg = config.load(root, flags=flags_of(args), read_file=False)
    root.mkdir(parents=True, exist_ok=True)
    write_text(path, config.render_toml(cfg.values))
    reporter.info(f"wrote {path}")
    print(path)
    return 0
