"""The package's arrows go one way: a stage imports earlier stages and the core, never a later one, and
no modules import each other in a circle (hidden or not by an import inside a function).

The pipeline is collect -> train -> quantize -> codegen -> firmware -> evaluate. The core (tinyml/, with
host/ for the code that builds and runs firmware) sits below every stage and imports none; the commands
that drive several stages (tinyml.cli, tinyml.demo*, tinyml.tune) sit above them all.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAGES = ("collect", "train", "quantize", "codegen", "firmware", "evaluate")
ABOVE = ("tinyml.cli", "tinyml.demo", "tinyml.demo_kws", "tinyml.tune")
# Known exceptions, each with its reason; the test fails when one disappears, so the list stays true.
ALLOWED = {
    # `tinyml inspect` reports what the board's TFLM allocates, measured by running a TFLM project that
    # codegen writes (codegen/tflm_board.py); quantize cannot measure it without writing that project.
    ("tinyml.quantize.inspect", "tinyml.codegen.tflm_board"),
}


def modules() -> dict[str, Path]:
    found = {}
    for folder in ("tinyml", *STAGES):
        for path in sorted((REPO / folder).rglob("*.py")):
            if "templates" in path.parts:
                continue
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts[0] != "tinyml":
                parts.insert(0, "tinyml")
            found[".".join(parts)] = path
    return found


def layer(module: str) -> int:
    """0 core, 1.. the stages in pipeline order, len(STAGES) + 1 above them all."""
    if any(module == m or module.startswith(m + ".") for m in ABOVE):
        return len(STAGES) + 1
    part = module.split(".")[1] if "." in module else ""
    return STAGES.index(part) + 1 if part in STAGES else 0


def imports(mods: dict[str, Path]) -> set[tuple[str, str]]:
    """(importer, imported) for every import of one tinyml module by another, wherever it sits."""
    edges = set()
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + [base]).strip(".")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for target in targets:
                while target not in mods and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in mods and target != name and target.startswith("tinyml"):
                    edges.add((name, target))
    return edges


def test_no_import_goes_backwards_along_the_pipeline():
    edges = imports(modules())
    backwards = {(a, b) for a, b in edges if layer(b) > layer(a)}
    assert backwards - ALLOWED == set()
    assert ALLOWED - backwards == set(), "an allowed exception is gone: remove it from ALLOWED"


def test_no_modules_import_each_other_in_a_circle():
    edges = imports(modules())
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    # a module is on a cycle when it can reach itself
    on_cycle = set()
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m == start:
                on_cycle.add(start)
                break
            if m not in seen:
                seen.add(m)
                todo.extend(graph.get(m, ()))
    assert on_cycle == set()


def test_the_layer_rules_see_the_package():
    """The checks above are only as good as what they read: every stage and the core are found, and a
    known forward import is seen."""
    mods = modules()
    assert {layer(m) for m in mods} == set(range(len(STAGES) + 2))
    assert ("tinyml.evaluate.emulate", "tinyml.host.qemu") in imports(mods)
    assert layer("tinyml.firmware.cli") > layer("tinyml.codegen.project") > layer("tinyml.protocol")
