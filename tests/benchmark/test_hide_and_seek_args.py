"""The core's argument checks and fill conversion (benchmark/hide_and_seek_args.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.hide_and_seek_args import (
    check_cells,
    check_grid_sizes,
    check_int,
    check_seq,
    check_steps,
    fill_values,
    uniform,
)


def test_fill_values_round_cast_and_range_check_per_dtype():
    assert fill_values((123.675, 116.28, 103.53), 3, np.uint8).tolist() == [124, 116, 104]
    assert fill_values(2.5, None, np.int16).item() == 2  # round half to even, as np.rint
    assert fill_values(0.1, 3, torch.float32).dtype == np.float32
    assert fill_values(0.1, 3, torch.bfloat16).dtype == np.float32  # torch converts it after
    assert fill_values(np.array([1, 2]), 2, np.float64).shape == (2,)
    assert fill_values(0, None, np.bool_).item() is False and fill_values(1, None, bool).item()
    for bad, dtype in [(256, np.uint8), (-1, np.uint8), (float("nan"), np.uint8), ((1, 2), 3),
                       (2, np.bool_), (-1, np.bool_)]:
        with pytest.raises(ValueError, match="fill"):
            fill_values(bad, 3, dtype if isinstance(dtype, type) else np.float32)


def test_fill_values_keeps_the_last_tuple_without_mixing_dtypes_or_channels():
    fill = (1.6, 2.4, 3.5)
    a = fill_values(fill, 3, np.uint8)
    assert fill_values(fill, 3, np.uint8) is a  # the stage's per-image call is a lookup
    assert fill_values(fill, 3, np.float32).tolist() == pytest.approx([1.6, 2.4, 3.5])
    assert fill_values(fill, 3, np.uint8).tolist() == [2, 2, 4]
    with pytest.raises(ValueError, match="one value per channel"):
        fill_values(fill, 4, np.uint8)
    assert fill_values(np.asarray([5.0]), None, np.float32).item() == 5.0  # arrays: not kept
    assert fill_values(np.asarray([7.0]), None, np.float32).item() == 7.0


def test_integer_checks_name_the_argument_and_unit():
    assert check_int(np.int64(3), "n", 0, "px") == 3 and type(check_int(np.int64(3), "n", 0,
                                                                      "px")) is int
    for bad in (True, 2.0, -1, "3"):
        with pytest.raises(ValueError, match=r"n must be an int >= 0 \(px\)"):
            check_int(bad, "n", 0, "px")
    assert check_int(np.int64(0), "n", 0, "px") == 0 and check_int(np.uint8(1), "h", 1, "px") == 1
    assert check_grid_sizes([0, np.int32(16)]) == (0, 16)
    for bad in ((), "16", [[16]], (16, -1), (16.0,)):
        with pytest.raises(ValueError, match="grid_sizes"):
            check_grid_sizes(bad)


def test_uniform_sources_and_the_other_checks():
    assert uniform(None) is np.random.random
    assert uniform(3)() == np.random.default_rng(3).random()
    with pytest.raises(ValueError, match="rng must be"):
        uniform(1.5)
    check_cells(8, np.zeros((5, 8)), 37, 61)
    with pytest.raises(ValueError, match="do not fit a 37x61 image"):
        check_cells(8, np.zeros((5, 7)), 37, 61)
    assert check_seq(np.zeros((4, 3)), -1) == 1
    with pytest.raises(ValueError, match="time_axis 2"):
        check_seq(np.zeros((4, 3)), 2)
    assert check_steps(torch.tensor([True, False]), 2).dtype == bool
    with pytest.raises(ValueError, match=r"hidden must be bool \(3,\)"):
        check_steps(np.ones(3, dtype=int), 3)
