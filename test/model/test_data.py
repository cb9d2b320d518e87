import numpy as np
import pytest

from beam_predictor.model.data import make_windows, select_passes
from beam_predictor.window import KIN
from model_helpers import synthetic_table, tiny_config


def test_windows_stay_inside_passes_with_the_right_offsets():
    table = synthetic_table([10, 4, 7], m=16)
    cfg = tiny_config(task={"history": 3, "horizon": 2, "input_len": 5},
                      fusion={"modalities": ["image", "gps"]})
    w = make_windows(table, cfg, [1, 2, 3])
    # a pass of n frames gives n - H - T + 1 windows; the 4-frame pass gives none
    assert len(w) == (10 - 4) + 0 + (7 - 4)
    first = 0
    assert w.frame[first] == 3 and w.stamp[first] == table.stamp_ns[2]      # current frame t = the H-th frame
    np.testing.assert_array_equal(w.inputs["feats"][first, 2:, 0, 0], [1, 2, 3])
    np.testing.assert_array_equal(w.inputs["pad"][first], [True, True, False, False, False])
    assert w.inputs["missing"][first, :2].all() and not w.inputs["missing"][first, 2:].any()
    np.testing.assert_array_equal(w.beam[first], [3, 4, 5])      # offsets 0..T
    np.testing.assert_array_equal(w.past_beam[first], [1, 2, 3])
    # the tracker's box where it saw the UE (frames 1, 2 of the three), zeros with visible 0 where not
    np.testing.assert_allclose(w.inputs["box"][first, 2:], [[0.1, 0.2, 0.3, 0.4, 1], [0.1, 0.2, 0.3, 0.4, 1],
                                                            [0, 0, 0, 0, 0]], atol=1e-6)
    assert set(np.unique(w.seq)) == {1, 3}


def test_windows_carry_the_gps_extrapolation():
    table = synthetic_table([12], m=16, speed=10.0)
    cfg = tiny_config(task={"history": 4, "horizon": 3, "input_len": 4}, fusion={"modalities": ["gps"]})
    w = make_windows(table, cfg, [1])
    site = table.site
    # the UE moves 1 m per frame along +x at 12 m: offset k of window 0 is x = -5 + (3 + k) m
    for k in range(4):
        g = site.direction(np.array([-5.0 + 3 + k, 12.0]))
        assert w.inputs["kin"][0, k, KIN["psi"]] == pytest.approx(g["psi"], abs=1e-4)
    assert not w.inputs["kin_missing"].any()
    no_kin = make_windows(table, tiny_config(task=cfg.task.__dict__, fusion={"modalities": ["gps"]},
                                             inputs={"kinematics": False, "prior": False}), [1])
    assert no_kin.inputs["kin_missing"].all()


def test_select_passes_ratio_is_seeded_and_keeps_one():
    table = synthetic_table([3] * 10)
    assert len(select_passes(table, "train")) == 10
    a = select_passes(table, "train", 0.3, seed=1)
    assert len(a) == 3 and np.array_equal(a, select_passes(table, "train", 0.3, seed=1))
    assert len(select_passes(table, "train", 0.01)) == 1


def test_no_window_fits_is_an_error():
    with pytest.raises(ValueError, match="no window"):
        make_windows(synthetic_table([3], m=16), tiny_config(fusion={"modalities": ["image"]}), [1])
