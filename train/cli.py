"""`tinyml train`: dataset -> model.keras + history.json."""

from __future__ import annotations

from pathlib import Path

from tinyml import config
from tinyml.paths import ProjectPaths
from tinyml.project_cli import add_option_flags, flags_of


def add_arguments(p) -> None:
    p.add_argument("-C", "--project", default=".", help="project folder (default: .)")
    p.add_argument("--data", help="dataset folder (default: <project>/data)")
    p.add_argument("-o", "--out", help="model file (default: <project>/build/model.keras)")
    add_option_flags(p, ["project.seed", "model.epochs", "model.batch_size", "model.learning_rate",
                         "window.size", "window.hop"])


def run(args, reporter) -> int:
    from tinyml.train.train import train

    cfg = config.load(args.project, flags=flags_of(args))
    paths = ProjectPaths(Path(args.project))
    model = Path(args.out) if args.out else paths.keras_model
    if model.suffix != ".keras":
        from tinyml.errors import expected

        raise expected("a model file name ending in .keras", f"'{model}'", "Name it e.g. model.keras.")
    result = train(cfg, Path(args.data) if args.data else paths.data, model,
                   model.with_name("history.json"), reporter)
    reporter.info(f"validation accuracy {result.val_accuracy:.3f} after {result.epochs_run} epochs")
    print(result.model_path)
    return 0
