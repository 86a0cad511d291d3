"""`tinyml codegen --backend aot`: an int8 .tflite -> portable C99, no interpreter.

Writes tinyml_model.h (the API), tinyml_model.c (constants, kernel parameters,
the memory plan and tinyml_invoke) and copies the kernel sources from
firmware/aot/. Nothing is written unless the whole model is supported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import numpy as np

import tinyml
from tinyml.artifacts import atomic_dir, prepare_out_dir, render_tree, write_marker
from tinyml.c_names import c_float, comment_text
from tinyml.codegen.aot import plan as planner
from tinyml.codegen.aot.lower import RESHAPES, lower
from tinyml.paths import AOT_SOURCES
from tinyml.quantize import flatbuffer
from tinyml.quantize.flatbuffer import NUMPY_TYPES, ModelInfo

KERNEL_FILES = ("tinyml_kernels.h", "tinyml_kernels.c")
_C_TYPES = {"INT8": "int8_t", "FLOAT32": "float", "INT32": "int32_t"}


def _nbytes(t) -> int:
    return t.elements * np.dtype(NUMPY_TYPES[t.dtype]).itemsize


def _rows(values: np.ndarray, ctype: str, per_row: int = 16) -> list[str]:
    flat = values.reshape(-1)
    if ctype == "float":
        items = [c_float(v) for v in flat]
    else:
        items = [str(int(v)) for v in flat]
    return [", ".join(items[i:i + per_row]) + "," for i in range(0, len(items), per_row)]


def _groups(sizes: dict[int, int], pairs: list[tuple[int, int]]) -> dict[int, set[int]]:
    """Tensors joined by `pairs`, as tensor -> its whole group."""
    groups = {t: {t} for t in sizes}
    for a, b in pairs:
        merged = groups[a] | groups[b]
        for t in merged:
            groups[t] = merged
    return groups


def memory_plan(model: ModelInfo, calls) -> planner.Plan:
    producers, consumers, sizes = {}, {}, {}
    for k, op in enumerate(model.operators):
        for t in op.inputs:
            if t >= 0 and not model.tensors[t].constant:
                consumers.setdefault(t, []).append(k)
                sizes[t] = _nbytes(model.tensors[t])
        for t in op.outputs:
            producers[t] = k
            sizes[t] = _nbytes(model.tensors[t])
    for t in list(model.inputs) + list(model.outputs):
        sizes[t] = _nbytes(model.tensors[t])
    reshapes = [(op.inputs[0], op.outputs[0]) for op in model.operators if op.op in RESHAPES]
    group = _groups(sizes, reshapes)  # tensor -> the tensors sharing its bytes through reshapes

    def last_read(t: int, k: int) -> int:
        """The last op reading any tensor that shares `t`'s bytes (k if none does)."""
        return max((c for m in group[t] for c in consumers.get(m, [])), default=k)

    pinned = set(model.inputs) | set(model.outputs)
    aliases = list(reshapes)
    for k, call in enumerate(calls):
        if not call.in_place:
            continue
        src, dst = call.in_place
        members = group[src]
        # Writing over `src` is safe only if nothing sharing its bytes is read later or must survive.
        if last_read(src, k) == k and not (members & pinned) and sizes[src] == sizes[dst]:
            aliases.append((src, dst))
            merged = members | group[dst]
            for t in merged:
                group[t] = merged
    # A convolution's working memory may live in its own output's tail and input's head (lower._scratch_split)
    # where the input dies at it, is no constant and shares its bytes with no graph output (a graph input may be
    # overwritten: tinyml_model.h says so); elsewhere it is planned, live during its own call only.
    local = {}
    for k, call in enumerate(calls):
        src = model.operators[k].inputs[0] if call.scratch_split else -1
        if src >= 0 and not model.tensors[src].constant and last_read(src, k) == k and \
                not group[src] & set(model.outputs):
            local[k] = call.scratch_split
        elif call.scratch:
            t = scratch_id(model, k)
            sizes[t], producers[t], consumers[t] = call.scratch, k, [k]
    found = planner.plan(len(model.operators), sizes, producers, consumers, list(model.inputs),
                         list(model.outputs), aliases)
    return dataclasses.replace(found, scratch_in_tensors=local)


def scratch_id(model: ModelInfo, k: int) -> int:
    """The memory plan's key for op k's scratch: past every tensor index."""
    return len(model.tensors) + k


def _ref(model: ModelInfo, index: int, plan: planner.Plan, const: bool) -> str:
    t = model.tensors[index]
    ctype = _C_TYPES[t.dtype]
    if t.constant:
        return f"t{index}"
    qualifier = "const " if const else ""
    return f"({qualifier}{ctype} *)TINYML_AT({plan.offsets[index]})"


def render_values(model: ModelInfo, calls, plan: planner.Plan, banner: str) -> dict:
    arrays, seen = [], set()
    local = plan.scratch_in_tensors
    call_values = []
    for k, (op, call) in enumerate(zip(model.operators, calls)):
        for a in call.arrays:
            arrays.append({"name": a.name, "ctype": a.ctype, "count": a.values.size, "rows": _rows(a.values, a.ctype)})
        args, inputs_array = [], []
        for kind, value in call.args:
            if kind == "text":
                args.append(value)
            elif kind == "scratch":
                if k in local:  # the output's tail, then the input's head
                    split, tail = local[k]
                    out_ref = _ref(model, model.operators[k].outputs[0], plan, const=False)
                    in_ref = _ref(model, model.operators[k].inputs[0], plan, const=False)
                    args += [f"(void *)({out_ref} + {tail})", f"(void *){in_ref}", str(split)]
                else:
                    arena = f"(void *)TINYML_AT({plan.offsets[scratch_id(model, k)]})"
                    args += [arena, arena, str(1 << 30)]
            elif kind == "inputs":
                inputs_array = [_ref(model, i, plan, const=True) for i in value]
                args.append("inputs")
            else:
                args.append(_ref(model, value, plan, const=(kind == "in")))
            indices = value if kind == "inputs" else ([value] if kind in ("in",) else [])
            for i in indices:
                t = model.tensors[i]
                if t.constant and i not in seen:
                    seen.add(i)
                    arrays.append({"name": f"t{i}", "ctype": _C_TYPES[t.dtype], "count": t.elements,
                                   "rows": _rows(t.array(), _C_TYPES[t.dtype])})
        if call.params_type:
            args.insert(0, f"&op{k}")
        call_values.append({"index": k, "comment": call.comment, "function": call.function,
                            "params_type": call.params_type, "params": call.params, "args": args,
                            "inputs_array": inputs_array})

    def io(indices):
        return [{"offset": plan.offsets[i], "bytes": _nbytes(model.tensors[i]),
                 "describe": f"{model.tensors[i].dtype.lower()} {list(model.tensors[i].shape)}"} for i in indices]

    def planned(i: int, off: int) -> str:
        if i >= len(model.tensors):
            k = i - len(model.tensors)
            return f"op {k} scratch: {calls[k].scratch} B at {off}"
        return f"t{i} {model.tensors[i].name[:48]}: {_nbytes(model.tensors[i])} B at {off}"

    plan_lines = [comment_text(planned(i, off)) for i, off in sorted(plan.offsets.items(), key=lambda kv: (kv[1], kv[0]))]
    return {"banner": banner, "model_name": comment_text(model.path.stem), "macs": model.macs,
            "arena_bytes": max(plan.arena_bytes, 16),
            "arrays": arrays, "calls": call_values, "inputs": io(model.inputs), "outputs": io(model.outputs),
            "plan_lines": plan_lines}


def generate_aot(model_path: Path, out: Path) -> dict:
    model = flatbuffer.read(model_path)
    calls = lower(model)  # raises a one-line BadInput for anything unsupported
    prepare_out_dir(out, "aot")
    plan = memory_plan(model, calls)
    sha = hashlib.sha256(model.raw).hexdigest()
    banner = (f"Generated by tinyml {tinyml.__version__} from {comment_text(model_path.name)} (sha256 {sha[:16]}...). "
              "Do not edit: run `tinyml codegen --backend aot` again.")
    values = render_values(model, calls, plan, banner)
    summary = {"project": str(out), "backend": "aot", "model": str(model_path), "model_bytes": model.model_bytes,
               "ops": model.ops, "arena_bytes": values["arena_bytes"],
               "files": ["tinyml_model.h", "tinyml_model.c", *KERNEL_FILES]}
    with atomic_dir(out) as tmp:
        render_tree("aot", tmp, values)
        for name in KERNEL_FILES:
            shutil.copyfile(AOT_SOURCES / name, tmp / name)
        write_marker(tmp, "aot", summary)
    return summary
