"""Paper 004: sparse-sweep data, anchors, networks, training and the bad-input rules.

A small synthetic scenario (plane waves plus a weaker reflection, through the twin's impaired
array) stands in for a twin folder: the data code only sees a SweepSet."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from beam_predictor.config import ConfigError, load_config
from beam_predictor.model.sweep import (SweepSet, hierarchical_search, pattern_fit, sparse_argmax,
                                        sweep_features)
from beam_predictor.model.sweep_config import SWEEP_MODELS, SweepConfig, SweepTask
from beam_predictor.model.sweep_nets import build_sweep_net, regnet_stages
from beam_predictor.model.sweep_train import (anchor_results, evaluate_sweep, load_sweep, predict, save_sweep,
                                              train_sweep)
from beam_predictor.physics.array import sparse_beams, steering

ARRAY = {"fov_deg": 90.0, "num_antennas": 16, "phase_error_deg": 25.0, "gain_error_db": 1.5,
         "impairment_seed": 0}


def synthetic_set(n: int = 360, seed: int = 0) -> SweepSet:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-14, 14, n)
    y = np.full(n, 12.0) + rng.normal(0, 1.5, n)
    ux = x / np.hypot(x, y)
    f = np.arange(4)[:, None]
    direct = steering(ux, 16)[:, None, :] * np.exp(-2j * np.pi * 0.05 * f)[None]
    echo = 0.3 * steering(-0.6 * np.ones(n), 16)[:, None, :] * np.exp(-2j * np.pi * 0.3 * f)[None]
    h = (direct + echo) * 1e-3
    split = np.array(["train"] * (n * 6 // 10) + ["val"] * (n * 2 // 10) + ["test"] * (n - n * 8 // 10))
    return SweepSet("synthetic", np.arange(n) // 20, split, np.ones((n, 64)), np.stack([x, y], 1),
                    h.astype(np.complex64), ARRAY)


def small_cfg(kind: str = "regnet", fine: int = 64, snr: float = 20.0, epochs: int = 6) -> SweepConfig:
    cfg = load_config(SweepConfig, "config/sweep.yaml")
    return replace(cfg, task=replace(cfg.task, fine_beams=fine, snr_db=snr),
                   net=replace(cfg.net, kind=kind, feature_dim=32, hidden=32),
                   train=replace(cfg.train, epochs=epochs, lr=3e-3, warmup_epochs=1, batch_size=64))


def test_sparse_sweep_indices_and_bad_sizes():
    assert sparse_beams(64, 16).tolist() == list(range(2, 64, 4))
    assert sparse_beams(256, 16)[:2].tolist() == [8, 24]
    with pytest.raises(ValueError, match="not a multiple"):
        sparse_beams(100, 16)
    with pytest.raises(ConfigError, match="task.fine_beams 100 is not a multiple"):
        SweepTask(fine_beams=100)
    with pytest.raises(ConfigError, match="SNR 5.0 dB is not in task.snr_grid_db"):
        SweepTask(snr_db=5.0)
    with pytest.raises(ConfigError, match="net.kind"):
        load_config(SweepConfig, overrides={"net": {"kind": "transformer"}})


def test_sweep_is_the_clean_pattern_at_high_snr_and_noisier_at_low():
    s = synthetic_set(1000)
    clean = s.clean_power(64)[:, sparse_beams(64, 16)]
    norm2 = np.mean(np.sum(np.abs(s.channel) ** 2, axis=-1), axis=-1)
    w2 = np.sum(np.abs(s.weights(64)[sparse_beams(64, 16)]) ** 2, axis=1)     # the impaired beams' norms
    for snr in (0.0, 20.0):
        sweep = s.sweep(64, 16, snr, np.random.default_rng(1))
        # eqs. 14-15: channel noise of power ||H||^2 / 10^(SNR/10) per element; through beam w it adds
        # ||w||^2 times that on average
        excess = (sweep - clean) / (norm2[:, None] / 10 ** (snr / 10)) / w2[None, :]
        assert abs(np.mean(excess) - 1) < 0.05, snr
    # the label is the clean channel's best fine beam through the site's own codebook
    assert np.array_equal(s.labels(64), np.argmax(s.clean_power(64), axis=1))


def test_features_are_scale_free_and_keep_nan():
    sweep = np.array([[1.0, 4.0, 2.0, np.nan], [1.0, 4.0, 2.0, 0.5]])
    f = sweep_features(sweep)
    assert f.shape == (2, 2, 4)
    assert np.isnan(f[0]).any() and np.isfinite(f[1]).all()
    assert np.allclose(sweep_features(sweep[1:] * 1e-9), f[1:])
    assert f[1, 0].max() == 1.0


def test_real_scenario_uses_the_measured_powers_and_masks_nan_rows():
    s = synthetic_set(100)
    real = SweepSet("real", s.seq, s.split, s.clean_power(64), s.position, None, None)
    first_test = int(np.flatnonzero(s.split == "test")[0])
    real.power[first_test, 10] = np.nan                   # a NaN in the sweep (beam 10 is swept)
    assert 10 in sparse_beams(64, 16)
    assert not real.valid(64, 16)[first_test] and real.valid(64, 16).sum() == len(s) - 1
    assert np.array_equal(real.sweep(64, 16, None, None), real.power[:, sparse_beams(64, 16)], equal_nan=True)
    with pytest.raises(ConfigError, match="no SNR"):
        real.sweep(64, 16, 20.0, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="must have 64 beams"):
        real.valid(256, 16)
    cfg = small_cfg()
    test = real.subset(real.valid(64, 16) & (real.split == "test"))
    scores = sparse_argmax(test.sweep(64, 16, None, None), 64)
    res = evaluate_sweep(None, cfg, real, scores=scores)
    assert res["masked"] == 1 and res["frames"] == (s.split == "test").sum() - 1


def test_nan_input_gives_nan_scores_not_zero_filled_ones():
    model = build_sweep_net(small_cfg().net, 16, 64)
    x = sweep_features(np.random.default_rng(0).random((3, 16)))
    x[1, :, 4] = np.nan
    out = predict(model, x)
    assert np.isnan(out[1]).all() and np.isfinite(out[[0, 2]]).all()


def test_anchors_hierarchical_search_measures_more_and_beats_the_sparse_argmax():
    s = synthetic_set(200)
    sweep = s.sweep(64, 16, 20.0, np.random.default_rng(0))
    y = s.labels(64)
    hc, measured = hierarchical_search(s, sweep, 64, 20.0, np.random.default_rng(1))
    assert measured == 16 + 4
    acc = lambda sc: np.mean(sc.argmax(1) == y)                        # noqa: E731
    assert acc(hc) > acc(sparse_argmax(sweep, 64)) + 0.3
    assert acc(pattern_fit(s, sweep, 64)) > 0.6


def test_regnet_width_rule_and_every_network_runs():
    assert regnet_stages(14.0, 16, 2.0, 10) == [(16, 2), (32, 2), (64, 4), (128, 2)]
    x = torch.rand(5, 2, 16)
    for kind in SWEEP_MODELS:
        cfg = replace(small_cfg(kind).net)
        out = build_sweep_net(cfg, 16, 256)(x)
        assert out["beam"].shape == (5, 256), kind
        if kind.startswith("dual"):
            assert out["position"].shape == (5, 2) and out["auto_loss"].ndim == 0


@pytest.mark.parametrize("kind", ["regnet", "dual_gan"])
def test_training_learns_the_fine_beam_and_positions_never_reach_the_input(kind, tmp_path):
    torch.set_num_threads(1)
    s = synthetic_set(600)
    cfg = small_cfg(kind, epochs=15)
    run = train_sweep(cfg, s, progress=False)
    res = evaluate_sweep(run, cfg, s)
    anchors = anchor_results(cfg, s)
    assert res["top1"] > anchors["sparse_argmax"]["top1"] + 0.2, (res, anchors)
    assert res["frames"] == (s.split == "test").sum() and res["masked"] == 0
    # the GPS position is a training target only: scrambling it changes no prediction
    scrambled = replace(s, position=np.random.default_rng(5).normal(size=s.position.shape))
    assert evaluate_sweep(run, cfg, scrambled) == res
    # a checkpoint gives the same predictions
    again = load_sweep(save_sweep(run, tmp_path / "s.pt"))
    assert evaluate_sweep(again, cfg, s) == res
