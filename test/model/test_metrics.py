import numpy as np
import pytest

from beam_predictor.model.metrics import (beam_metrics, dba_score, fixed_codeword, pa_metrics, power_loss_db,
                                          topk_accuracy)


def one_hot_scores(order, c=8):
    """Scores ranking the classes in ``order`` first (descending)."""
    s = np.zeros(c)
    for rank, cls in enumerate(order):
        s[cls] = c - rank
    return s


def test_topk_accuracy_by_hand():
    scores = np.stack([one_hot_scores([3, 1, 2, 0, 4, 5, 6, 7]), one_hot_scores([0, 5, 6, 1, 2, 3, 4, 7]),
                       one_hot_scores([7, 6, 5, 4, 1, 0, 2, 3])])
    target = np.array([3, 6, 1])
    acc = topk_accuracy(scores, target, ks=(1, 3, 5))
    # sample 1 hits at rank 1, sample 2 at rank 3, sample 3 at rank 5
    assert acc == pytest.approx({1: 1 / 3, 3: 2 / 3, 5: 1.0})


def test_dba_by_hand():
    # errors of the best of the top-K: sample 1 top-1 off by 1, top-2 exact; sample 2 off by 3
    scores = np.stack([one_hot_scores([4, 5, 0]), one_hot_scores([0, 1, 2])])
    target = np.array([5, 3])
    # eq. 24: the mean of Y_1..Y_K; Y_k = 1 - mean over samples of the best error among the top k.
    # Delta=2: Y_1 = 1 - (min(1/2, 1) + min(3/2, 1)) / 2 = 0.25;
    #          Y_2: sample 1 exact (0), sample 2 best |1-3|/2 = 1 -> 1 - 0.5 = 0.5
    assert dba_score(scores, target, k=1, delta=2) == pytest.approx(0.25)
    assert dba_score(scores, target, k=2, delta=2) == pytest.approx((0.25 + 0.5) / 2)       # 0.375
    # Delta=1: Y_1 = 1 - (1 + 1)/2 = 0; Y_2 = 1 - (0 + 1)/2 = 0.5; Y_3: sample 2 best |2-3| = 1 -> 0.5
    assert dba_score(scores, target, k=3, delta=1) == pytest.approx((0.0 + 0.5 + 0.5) / 3)


def test_power_loss_by_hand_and_nan_rows_dropped():
    power = np.array([[1.0, 10.0, 0.1], [5.0, 5.0, 5.0], [np.nan, 1.0, 2.0]])
    scores = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 1]], float)
    loss = power_loss_db(scores, power)
    np.testing.assert_allclose(loss, [10.0, 0.0])


def test_beam_metrics_uses_future_offsets():
    n, steps = 4, 3
    beam = np.zeros((n, steps), int)
    scores = np.zeros((n, steps, 64))
    scores[:, 0, 9] = 1        # offset 0 wrong
    scores[:, 1:, 0] = 1       # future right
    power = np.ones((n, steps, 64))
    m = beam_metrics(scores, beam, power)
    assert m["top1"] == 1.0
    assert beam_metrics(scores, beam, power, steps=[0])["top1"] == 0.0


def test_pa_metrics_and_fixed_codeword():
    gain = np.array([[-60.0, -70.0, -80.0], [-90.0, -65.0, -70.0]])
    assert fixed_codeword(gain) == 0      # mean linear gain is dominated by -60 dB
    scores = np.array([[0.9, 0.1, 0.0], [0.8, 0.1, 0.1]])
    m = pa_metrics(scores, gain, fixed=0)
    assert m["pa_top1"] == 0.5
    assert m["pa_gain_oracle_db"] == pytest.approx((-60 - 65) / 2)
    assert m["pa_loss_pred_db"] == pytest.approx((0 + 25) / 2)
    assert m["pa_loss_fixed_db"] == pytest.approx(m["pa_loss_pred_db"])
