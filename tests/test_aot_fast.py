"""The AOT backend's fast kernels (tm_*_fast in firmware/aot/tinyml_kernels.c): chosen where their conditions
hold, and bit for bit TFLM's results both as portable C on the host and with the DSP instructions on the
emulated Cortex-M4 (the two differ only in how a 16-bit pair is widened and multiplied)."""

import dataclasses
from collections import Counter

import numpy as np
import pytest

from tinyml.codegen.aot.lower import lower
from tinyml.evaluate.emulate import emulate
from tinyml.quantize import flatbuffer

import models
from test_aot import assert_parity

FAST = ("tm_conv2d_s8_fast", "tm_depthwise_conv2d_s8_fast", "tm_depthwise_conv2d_mult_s8_fast",
        "tm_fully_connected_s8_fast")


@pytest.fixture(scope="module")
def fast_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("aot_fast")
    return {"per_channel": models.fast_paths(root / "per_channel.tflite", per_channel=True),
            "per_tensor": models.fast_paths(root / "per_tensor.tflite", per_channel=False),
            "one_channel": models.one_channel(root / "one_channel.tflite"),
            "variety": models.conv_variety(root / "variety.tflite")}  # depth multiplier 2, pools


def kernels(model) -> Counter:
    return Counter(call.function for call in lower(flatbuffer.read(model)))


def test_the_fast_kernels_are_the_ones_compiled(fast_models, reference):
    for name in ("per_channel", "per_tensor"):
        used = kernels(fast_models[name])
        assert used["tm_conv2d_s8_fast"] == 4 and used["tm_depthwise_conv2d_s8_fast"] == 2, (name, used)
        assert used["tm_fully_connected_s8_fast"] == 3, (name, used)
        assert not {"tm_conv2d_s8", "tm_depthwise_conv2d_s8", "tm_fully_connected_s8"} & set(used), (name, used)
    one = kernels(fast_models["one_channel"])
    assert one["tm_conv2d_s8_fast"] == 5 and "tm_depthwise_conv2d_s8" not in one, one
    # TFLM's own models: every convolution and dense layer, the one-channel depthwise ones included
    for rel in ("models/person_detect.tflite", "micro_speech/micro_speech_quantized.tflite"):
        used = kernels(reference / rel)
        assert not {"tm_conv2d_s8", "tm_depthwise_conv2d_s8", "tm_fully_connected_s8"} & set(used), (rel, used)


def test_the_general_kernels_remain_where_the_fast_ones_do_not_apply(tmp_path):
    used = kernels(models.conv_variety(tmp_path / "variety.tflite"))
    assert used["tm_conv2d_s8"] == 1, used  # the dilated convolution
    assert used["tm_depthwise_conv2d_mult_s8_fast"] == 1 and used["tm_depthwise_conv2d_s8_fast"] == 2, used


@pytest.mark.parametrize("name", ["per_channel", "per_tensor", "one_channel"])
def test_host_parity(fast_models, name, tmp_path):
    assert_parity(fast_models[name], tmp_path)


@pytest.mark.parametrize("name", ["per_channel", "per_tensor", "one_channel", "variety"])
def test_parity_on_the_emulated_cortex_m4(fast_models, name, tmp_path):
    r = emulate(fast_models[name], tmp_path / "emu", inputs=12, seed=3)
    assert r["inputs_checked"] == 12 and r["outputs_match_host"], r["mismatched_inputs"]


def test_parity_of_person_detect_on_the_emulated_cortex_m4(reference, tmp_path):
    r = emulate(reference / "models" / "person_detect.tflite", tmp_path / "emu", inputs=3, seed=5)
    assert r["outputs_match_host"], r["mismatched_inputs"]


def test_a_layer_whose_accumulators_could_overflow_the_short_requantization_keeps_the_general_kernel(tmp_path):
    from tinyml.codegen.aot import lower as lowering

    model = flatbuffer.read(models.fast_paths(tmp_path / "m.tflite"))
    before = Counter(c.function for c in lowering.lower(model))
    limit = lowering.FAST_ACC_LIMIT
    try:
        lowering.FAST_ACC_LIMIT = 1 << 8  # every real layer exceeds this bound
        after = Counter(c.function for c in lowering.lower(model))
    finally:
        lowering.FAST_ACC_LIMIT = limit
    assert sum(before[f] for f in FAST) == 9 and not any(after[f] for f in FAST), after
    assert np.all([after["tm_conv2d_s8"] == 4, after["tm_depthwise_conv2d_s8"] == 2,
                   after["tm_fully_connected_s8"] == 3]), after


def test_the_working_memory_lives_in_the_convolutions_own_tensors_where_it_fits(fast_models, reference):
    from tinyml.codegen.aot.generate import memory_plan

    def planned(model):
        info = flatbuffer.read(model)
        calls = lower(info)
        without = [dataclasses.replace(c, scratch=0, scratch_split=None) for c in calls]
        plan = memory_plan(info, calls)
        return (plan.scratch_in_tensors, [k for k, c in enumerate(calls) if c.scratch], plan.arena_bytes,
                memory_plan(info, without).arena_bytes)

    local, needing, arena, bare = planned(reference / "micro_speech" / "micro_speech_quantized.tflite")
    assert list(local) == needing == [1] and arena == bare == 5968
    local, needing, arena, bare = planned(reference / "models" / "person_detect.tflite")
    assert set(needing) - set(local) == {28} and arena == bare  # op 28's output (2 bytes) is too small
    # the one-channel model's input feeds three branches: no op may write into it before the last reads it
    model = flatbuffer.read(fast_models["one_channel"])
    readers = [k for k, op in enumerate(model.operators) if model.inputs[0] in op.inputs]
    local, needing, _, _ = planned(fast_models["one_channel"])
    assert len(readers) == 3 and set(readers) <= set(needing) and not set(readers[:-1]) & set(local), \
        (readers, local, needing)


def test_parity_on_the_emulated_cortex_m4_built_without_optimisation(fast_models, tmp_path):
    # -O0 cannot give the assembly loops their registers: the same loops then run in C on the DSP intrinsics
    r = emulate(fast_models["one_channel"], tmp_path / "emu", inputs=4, seed=9, extra_flags=("-O0",))
    assert r["inputs_checked"] == 4 and r["outputs_match_host"], r["mismatched_inputs"]


def test_the_accumulator_bound_is_taken_in_exact_integers():
    from tinyml.codegen.aot import lower as lowering

    small = np.ones((2, 3), dtype=np.int8)
    assert lowering._fast_weights(0, small, None, 5, [(1 << 30, -3)], channel_axis=0) is not None
    # a left shift of 31 or more never takes the short form (TFLM's shift would be past the word)
    assert lowering._fast_weights(0, small, None, 5, [(1 << 30, 31)], channel_axis=0) is None
    # 2^25 of weight magnitude shifted by 30 is past int64: numpy would wrap it to a small number
    wide = np.full((1, 1 << 18), 127, dtype=np.int8)
    assert lowering._fast_weights(0, wide, None, 5, [(1 << 30, 30)], channel_axis=0) is None
