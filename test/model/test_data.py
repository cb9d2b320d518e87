import numpy as np
import pytest

from beam_predictor.model.config import TaskConfig
from beam_predictor.model.data import make_windows, select_passes
from model_helpers import synthetic_table


def test_windows_stay_inside_passes_with_the_right_offsets():
    table = synthetic_table([10, 4, 7])
    task = TaskConfig(history=3, horizon=2, input_len=5)
    w = make_windows(table, task, ["image", "gps"], [1, 2, 3])
    # a pass of n frames gives n - H - T + 1 windows; the 4-frame pass gives none
    assert len(w) == (10 - 4) + 0 + (7 - 4)
    first = 0
    assert w.frame[first] == 3                                   # current frame t = the H-th frame
    np.testing.assert_array_equal(w.feats[first, 2:, 0, 0], [1, 2, 3])
    np.testing.assert_array_equal(w.pad[first], [True, True, False, False, False])
    assert w.missing[first, :2].all() and not w.missing[first, 2:].any()
    np.testing.assert_array_equal(w.beam[first], [3, 4, 5])      # offsets 0..T
    assert set(np.unique(w.seq)) == {1, 3}


def test_select_passes_ratio_is_seeded_and_keeps_one():
    table = synthetic_table([3] * 10)
    assert len(select_passes(table, "train")) == 10
    a = select_passes(table, "train", 0.3, seed=1)
    assert len(a) == 3 and np.array_equal(a, select_passes(table, "train", 0.3, seed=1))
    assert len(select_passes(table, "train", 0.01)) == 1


def test_no_window_fits_is_an_error():
    with pytest.raises(ValueError, match="no window"):
        make_windows(synthetic_table([3]), TaskConfig(history=8, horizon=5), ["image"], [1])
