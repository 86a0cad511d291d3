"""The static memory plan: every activation tensor gets an offset in one arena.

Lifetimes come from the execution order: a tensor lives from the op that
writes it to the last op that reads it (graph inputs from before the first op,
graph outputs to after the last). Tensors whose lifetimes do not overlap may
share bytes. Reshapes alias their input, and elementwise ops may write over an
input that dies at that op (in place). Placement is greedy, largest first, each
at the lowest offset that collides with nothing alive at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALIGN = 16


@dataclass
class Group:
    tensors: list[int]
    size: int
    first: int
    last: int
    offset: int = -1
    members: set = field(default_factory=set)


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass(frozen=True)
class Plan:
    offsets: dict[int, int]  # tensor index -> byte offset in the arena
    arena_bytes: int
    # op -> (split pixel, byte offset in its output): working memory kept in the op's own output and input
    # instead of the arena (set by codegen/aot/generate.py)
    scratch_in_tensors: dict[int, tuple[int, int]] = field(default_factory=dict)


def plan(n_ops: int, sizes: dict[int, int], producers: dict[int, int], consumers: dict[int, list[int]],
         graph_inputs: list[int], graph_outputs: list[int], aliases: list[tuple[int, int]]) -> Plan:
    """`sizes`: bytes of every activation tensor. `aliases`: (a, b) pairs that must share one buffer."""
    parent = {t: t for t in sizes}

    def find(t):
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for a, b in aliases:
        parent[find(b)] = find(a)
    groups: dict[int, Group] = {}
    for t, size in sizes.items():
        first = -1 if t in graph_inputs else producers.get(t, -1)
        last = n_ops if t in graph_outputs else max(consumers.get(t, [first]), default=first)
        root = find(t)
        g = groups.get(root)
        if g is None:
            groups[root] = Group([t], size, first, last)
        else:
            g.tensors.append(t)
            g.size, g.first, g.last = max(g.size, size), min(g.first, first), max(g.last, last)
    placed: list[Group] = []
    for g in sorted(groups.values(), key=lambda g: (-g.size, g.first, min(g.tensors))):
        live = sorted((p for p in placed if p.first <= g.last and g.first <= p.last), key=lambda p: p.offset)
        offset = 0
        for p in live:
            if offset + g.size <= p.offset:
                break
            offset = max(offset, _align(p.offset + p.size))
        g.offset = offset
        placed.append(g)
    offsets = {t: g.offset for g in placed for t in g.tensors}
    arena = _align(max((g.offset + g.size for g in placed), default=0))
    return Plan(offsets, arena)
