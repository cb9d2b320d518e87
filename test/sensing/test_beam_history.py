"""Past beams as a modality: the previous frame's beam, offline and live alike."""
import numpy as np

from beam_predictor.sensing.beam_history import DelayedBeam, beam_features, beam_series

MS = 1_000_000


def test_features_are_a_bump_at_the_beam():
    f = beam_features(10, 64, 64)
    assert f.argmax() == 10 and f.shape == (64,) and abs(f[10] - 1) < 1e-6
    assert beam_features(63, 64, 32).argmax() == 31


def test_the_previous_frame_only_and_never_across_a_gap():
    step = DelayedBeam(64, 64)
    assert step.push(0, 5)[0] is None                        # no previous frame
    assert step.push(100 * MS, 7)[0].argmax() == 5           # frame t sees frame t-1's beam, not its own
    assert step.push(200 * MS, None)[0].argmax() == 7
    feats, reason = step.push(300 * MS, 9)
    assert feats is None and "unusable" in reason            # the previous sweep was NaN
    assert step.push(2000 * MS, 11)[0] is None               # a gap: a new pass


def test_offline_series_equals_the_live_steps():
    stamps = np.array([0, 100, 200, 5000, 5100, 5200]) * MS
    seq = np.array([1, 1, 1, 2, 2, 2])
    beam = np.array([3, 4, -1, 20, 21, 22])
    feats, missing = beam_series(stamps, seq, beam, 64, 64)
    live = DelayedBeam(64, 64)
    for i in range(len(beam)):
        power = np.full(64, np.nan) if beam[i] < 0 else np.eye(64)[beam[i]]
        f, _, _ = live.encode((int(stamps[i]), power))
        assert (f is None) == missing[i]
        if f is not None:
            np.testing.assert_array_equal(f, feats[i])
    assert missing.tolist() == [True, False, False, True, False, False]
    assert feats[1].argmax() == 3 and feats[5].argmax() == 21


def test_sweep_modality_is_the_previous_frames_sparse_powers_offline_and_live_alike():
    from beam_predictor.sensing.beam_history import DelayedSweep, sparse_power, sweep_vector, sweep_series
    rng = np.random.default_rng(0)
    power = rng.random((6, 64)) + 0.01
    power[2, 6] = np.nan                                     # a NaN in a swept beam: unusable
    power[4, 7] = np.nan                                     # ... in an unswept one: still usable
    assert sparse_power(power).shape == (6, 16) and sparse_power(power)[0, 0] == power[0, 2]
    f = sweep_vector(sparse_power(power[0]), 64)
    assert f.shape == (64,) and 0.9 < f[:32].max() <= 1.0 and 0 <= f.min()
    np.testing.assert_allclose(sweep_vector(sparse_power(power[0]) * 1e-7, 64), f, atol=1e-6)   # scale-free
    assert sweep_vector(sparse_power(power[2]), 64) is None
    stamps = np.array([0, 100, 200, 300, 400, 5000]) * MS
    seq = np.array([1, 1, 1, 1, 1, 2])
    feats, missing = sweep_series(stamps, seq, sparse_power(power), 64)
    live = DelayedSweep(64, 64)
    for i in range(6):
        got, _, _ = live.encode((int(stamps[i]), power[i]))
        assert (got is None) == missing[i]
        if got is not None:
            np.testing.assert_array_equal(got, feats[i])
    # frame t offers frame t-1's sweep; frame 3 follows the NaN sweep; frame 5 starts a new pass
    assert missing.tolist() == [True, False, False, True, False, True]
    np.testing.assert_array_equal(feats[1], f)
