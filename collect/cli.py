"""`tinyml collect`: write a dataset in the tinyml format."""

from __future__ import annotations

from pathlib import Path

from tinyml import config
from tinyml.collect.synthetic import DEFAULT_PER_CLASS
from tinyml.paths import ProjectPaths
from tinyml.project_cli import add_option_flags, flags_of


def add_arguments(p) -> None:
    p.add_argument("--builtin", choices=["gestures"], required=True,
                   help="generate the built-in, seeded 6-axis IMU gesture recordings "
                        "(capture from a board over serial arrives with the streaming firmware)")
    p.add_argument("-C", "--project", default=".", help="project folder (default: .)")
    p.add_argument("-o", "--out", help="dataset folder (default: <project>/data)")
    p.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS,
                   help=f"recordings per gesture (default: {DEFAULT_PER_CLASS})")
    add_option_flags(p, ["project.seed"])


def run(args, reporter) -> int:
    from tinyml.collect.synthetic import write_gestures

    cfg = config.load(args.project, flags=flags_of(args))
    out = Path(args.out) if args.out else ProjectPaths(Path(args.project)).data
    write_gestures(out, per_class=args.per_class, seed=cfg["project.seed"],
                   labels=tuple(cfg["project.labels"]), reporter=reporter)
    reporter.info(f"wrote {args.per_class * len(cfg['project.labels'])} recordings to {out}")
    print(out)
    return 0
