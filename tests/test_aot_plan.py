from tinyml.codegen.aot.plan import plan


def test_tensors_alive_together_never_share_bytes_and_dead_ones_do():
    # a -> op0 -> b -> op1 -> c -> op2 -> d ; a is the graph input, d the output
    sizes = {0: 100, 1: 100, 2: 100, 3: 100}
    p = plan(3, sizes, producers={1: 0, 2: 1, 3: 2}, consumers={0: [0], 1: [1], 2: [2]},
             graph_inputs=[0], graph_outputs=[3], aliases=[])
    o = p.offsets
    assert o[0] != o[1] and o[1] != o[2] and o[2] != o[3]
    assert p.arena_bytes == 2 * 112  # two 100-byte buffers, 16-byte aligned, ping-pong


def test_a_skip_connection_keeps_its_tensor_alive():
    # a -> op0 -> b ; (a, b) -> op1 -> c : a must not be overwritten by b
    sizes = {0: 64, 1: 64, 2: 64}
    p = plan(2, sizes, producers={1: 0, 2: 1}, consumers={0: [0, 1], 1: [1]},
             graph_inputs=[0], graph_outputs=[2], aliases=[])
    assert len({p.offsets[0], p.offsets[1], p.offsets[2]}) == 3


def test_aliases_share_one_buffer():
    sizes = {0: 64, 1: 64, 2: 32}
    p = plan(2, sizes, producers={1: 0, 2: 1}, consumers={0: [0], 1: [1]},
             graph_inputs=[0], graph_outputs=[2], aliases=[(0, 1)])
    assert p.offsets[0] == p.offsets[1]
    assert p.offsets[2] not in range(p.offsets[1], p.offsets[1] + 64)


def test_in_place_never_overwrites_bytes_a_reshape_still_reads():
    """t1 = RESHAPE(t0); t2 = LOGISTIC(t0) could write over t0, but ADD(t2, t1) reads t0's bytes later."""
    from pathlib import Path

    from tinyml.codegen.aot.generate import memory_plan
    from tinyml.codegen.aot.lower import Call
    from tinyml.quantize.flatbuffer import ModelInfo, Operator, Tensor

    def tensor(i, shape):
        return Tensor(i, f"t{i}", shape, "INT8", (0.1,), (0,), 0, False)

    tensors = (tensor(0, (1, 32)), tensor(1, (1, 32)), tensor(2, (32,)), tensor(3, (1, 32)), tensor(4, (1, 32)))
    ops = (Operator("CONV_2D", False, (0,), (1,), 0), Operator("RESHAPE", False, (1,), (2,), 0),
           Operator("LOGISTIC", False, (1,), (3,), 0), Operator("ADD", False, (3, 2), (4,), 0))
    model = ModelInfo(Path("m.tflite"), 0, 1, tensors, ops, (0,), (4,), b"")
    calls = [Call(o.op, "", None, {}, []) for o in ops]
    calls[2].in_place = (1, 3)  # LOGISTIC may write over its input...
    offsets = memory_plan(model, calls).offsets
    assert offsets[1] == offsets[2]  # the reshape aliases its input
    assert offsets[3] != offsets[1]  # ...but not here: t2 (the same bytes) is read by ADD afterwards
