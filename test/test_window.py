"""The one step/window module: what a frame becomes, history, kinematics, GPS jumps."""
import numpy as np
import pytest

from beam_predictor.physics.geo import enu_to_latlon
from beam_predictor.physics.site import SiteGeometry
from beam_predictor.window import KIN, FrameInput, HistoryWindow, WindowSpec

S = 1_000_000_000
SITE = SiteGeometry(bs_latlon=(33.42, -111.93), heading_deg=0.0, array_height_m=5.0, ue_antenna_height_m=1.7)


def spec(**kw):
    base = dict(modalities=("image", "gps"), feature_dim=2, history=3, input_len=5, horizon=2)
    return WindowSpec(**{**base, **kw})


def fix(east, north):
    return enu_to_latlon(east, north, SITE.bs_latlon)


def test_window_fills_pads_and_masks_the_unseen_box():
    w = HistoryWindow(spec())
    w.push(FrameInput(0, {"image": np.ones(2), "gps": None}, (0.1, 0.2, 0.3, 0.4)))
    w.push(FrameInput(S // 10, {"image": np.full(2, 2.0), "gps": np.zeros(2)}, None))
    assert not w.ready
    w.push(FrameInput(2 * S // 10, {"image": None, "gps": np.ones(2)}, None))
    assert w.ready
    a = w.arrays()
    assert a["feats"].shape == (1, 5, 2, 2)
    np.testing.assert_array_equal(a["pad"][0], [True, True, False, False, False])
    np.testing.assert_array_equal(a["missing"][0, 2:], [[False, True], [False, False], [True, False]])
    np.testing.assert_allclose(a["box"][0, 2], [0.1, 0.2, 0.3, 0.4, 1.0])
    np.testing.assert_allclose(a["box"][0, 3], [0, 0, 0, 0, 0])             # not visible: masked, not filled
    assert a["kin_missing"].all()                                           # no site: no kinematics


def test_stamp_gap_or_jump_back_starts_a_new_history():
    w = HistoryWindow(spec(history=2, input_len=2, modalities=("image",)))
    frame = lambda t: FrameInput(t, {"image": np.ones(2)})              # noqa: E731
    w.push(frame(0))
    w.push(frame(S // 10))
    assert w.ready
    w.push(frame(3 * S))
    assert not w.ready
    w.push(frame(3 * S + S // 10))
    w.push(frame(S))                                                      # a replay loop goes back in time
    assert not w.ready and w.stats["resets"] == 2


def test_non_finite_features_or_box_are_missing_not_fed():
    w = HistoryWindow(spec())
    w.push(FrameInput(0, {"image": np.array([np.nan, 1.0]), "gps": np.array([np.inf, 0.0])},
                      (0.1, np.nan, 0.3, 0.4)))
    w.push(FrameInput(S // 10, {"image": np.ones(2), "gps": np.ones(2)}, (0.1, 0.2, 0.3, 0.4)))
    w.push(FrameInput(2 * S // 10, {"image": np.ones(2), "gps": np.ones(2)}, None))
    a = w.arrays()
    assert np.isfinite(a["feats"]).all() and np.isfinite(a["box"]).all()
    np.testing.assert_array_equal(a["missing"][0, 2], [True, True])
    np.testing.assert_array_equal(a["box"][0, 2], np.zeros(5))
    assert w.stats["features_nonfinite"] == 2


def test_wrong_feature_size_names_the_modality():
    w = HistoryWindow(spec(modalities=("radar",), feature_dim=4))
    with pytest.raises(ValueError, match="radar"):
        w.push(FrameInput(0, {"radar": np.ones(3)}))


def test_constant_velocity_extrapolation_through_a_missing_fix():
    s = spec(history=4, input_len=4, horizon=3, modalities=("gps",))
    w = HistoryWindow(s, SITE)
    for k in range(4):                               # 8 m/s east, 12 m north of the array; fix 2 lost
        f = None if k == 2 else fix(-5 + 0.8 * k, 12.0)
        w.push(FrameInput(k * S // 10, {"gps": np.zeros(2)}, None, f))
    kin = w.arrays()["kin"][0]
    for k in range(4):                               # offset k is 0.1 k s after the newest frame (x = -2.6 m)
        g = SITE.direction(np.array([-5 + 0.8 * (3 + k), 12.0]))
        assert kin[k, KIN["psi"]] == pytest.approx(g["psi"], abs=2e-4)
        assert kin[k, KIN["beam"]] * 63 == pytest.approx(SITE.beam_coordinate(g["psi"]), abs=0.02)
    assert kin[0, KIN["speed"]] * 20 == pytest.approx(8.0, abs=0.05)
    assert kin[0, KIN["fix_share"]] == 0.75 and w.stats["gps_missing"] == 1


def test_a_gps_jump_is_treated_as_missing_and_counted():
    s = spec(history=4, input_len=4, horizon=1, modalities=("gps",), gps_max_jump_m=5.0, gps_reacquire=2)
    w = HistoryWindow(s, SITE)
    track = [fix(0.0, 10.0), fix(1.0, 10.0), fix(40.0, 10.0), fix(3.0, 10.0)]    # frame 2 jumps 39 m
    for k, f in enumerate(track):
        w.push(FrameInput(k * S // 10, {"gps": np.zeros(2)}, None, f))
    assert w.stats["gps_rejected"] == 1
    kin = w.arrays()["kin"][0]
    assert kin[0, KIN["fix_share"]] == 0.75
    assert kin[0, KIN["psi"]] == pytest.approx(SITE.direction(np.array([3.0, 10.0]))["psi"], abs=1e-3)
    # a track that really moved (two rejections in a row) is taken up again
    for k, f in enumerate([fix(60.0, 10.0), fix(61.0, 10.0), fix(62.0, 10.0)]):
        w.push(FrameInput((4 + k) * S // 10, {"gps": np.zeros(2)}, None, f))
    assert w.stats["gps_rejected"] == 3 and w.last_fix[1][0] == pytest.approx(62.0, abs=1e-6)


def test_no_fix_at_all_means_no_kinematics():
    w = HistoryWindow(spec(modalities=("gps",)), SITE)
    for k in range(3):
        w.push(FrameInput(k * S // 10, {"gps": np.zeros(2)}, None, np.array([np.nan, np.nan])))
    a = w.arrays()
    assert a["kin_missing"].all() and not a["kin"].any() and w.stats["gps_missing"] == 3
