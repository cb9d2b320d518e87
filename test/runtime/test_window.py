import numpy as np
import pytest

from beam_predictor.runtime.window import HistoryWindow

S = 1_000_000_000


def test_window_fills_pads_and_forward_fills_the_box():
    w = HistoryWindow(("image", "gps"), feature_dim=2, history=3, input_len=5, gap_ns=S)
    w.push(0, {"image": np.ones(2), "gps": None}, (0.1, 0.2, 0.3, 0.4))
    w.push(S // 10, {"image": np.full(2, 2.0), "gps": np.zeros(2)}, None)
    assert not w.ready
    w.push(2 * S // 10, {"image": None, "gps": np.ones(2)}, None)
    assert w.ready
    a = w.arrays()
    assert a["feats"].shape == (1, 5, 2, 2)
    np.testing.assert_array_equal(a["pad"][0], [True, True, False, False, False])
    np.testing.assert_array_equal(a["missing"][0, 2:], [[False, True], [False, False], [True, False]])
    np.testing.assert_allclose(a["box"][0, 3], [0.1, 0.2, 0.3, 0.4, 0.0])       # forward-filled, not visible
    np.testing.assert_allclose(a["box"][0, 2], [0.1, 0.2, 0.3, 0.4, 1.0])


def test_stamp_gap_or_jump_back_starts_a_new_history():
    w = HistoryWindow(("image",), 2, history=2, input_len=2, gap_ns=S)
    w.push(0, {"image": np.ones(2)}, None)
    w.push(S // 10, {"image": np.ones(2)}, None)
    assert w.ready
    w.push(3 * S, {"image": np.ones(2)}, None)
    assert not w.ready
    w.push(3 * S + S // 10, {"image": np.ones(2)}, None)
    w.push(S, {"image": np.ones(2)}, None)                  # a replay loop goes back in time
    assert not w.ready


def test_wrong_feature_size_names_the_modality():
    w = HistoryWindow(("radar",), 4, history=2, input_len=2, gap_ns=S)
    with pytest.raises(ValueError, match="radar"):
        w.push(0, {"radar": np.ones(3)}, None)
