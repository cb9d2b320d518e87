"""Multi-waveguide PASS physics: SINR, MRT, MMSE, minimum power, the Top-K label search."""
import itertools

import numpy as np
import pytest

from beam_predictor.config import ConfigError
from beam_predictor.physics import pass_system as ps
from beam_predictor.physics import pinching
from beam_predictor.twin.config import PinchingConfig

FREQ = 60e9


def _rand_h(rng, *shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * 1e-4


def test_sinr_by_hand_and_mrt_is_the_single_user_optimum():
    rng = np.random.default_rng(0)
    H = _rand_h(rng, 2, 2)
    W = _rand_h(rng, 2, 2) * 1e3
    g = np.abs(H @ W) ** 2
    noise = 1e-12
    expect = np.array([g[0, 0] / (g[0, 1] + noise), g[1, 1] / (g[1, 0] + noise)])
    np.testing.assert_allclose(ps.sinr(H, W, noise), expect)
    # one user: MRT reaches P |h|^2 / sigma^2, and MMSE coincides with it
    h = _rand_h(rng, 4)
    p = 0.1
    s_mrt = ps.sinr(h[None], ps.mrt(h, p), noise)[0]
    assert s_mrt == pytest.approx(p * np.sum(np.abs(h) ** 2) / noise)
    assert ps.sum_rate(h[None], p, noise) == pytest.approx(np.log2(1 + s_mrt))
    for _ in range(20):                                    # no unit-norm direction beats MRT
        v = _rand_h(rng, 4)
        v = np.sqrt(p) * v / np.linalg.norm(v)
        assert ps.sinr(h[None], v[:, None], noise)[0] <= s_mrt * (1 + 1e-9)


def test_mmse_uses_the_power_and_tends_to_zero_forcing():
    rng = np.random.default_rng(1)
    H = _rand_h(rng, 3, 4)
    W = ps.mmse(H, 2.0, 1e-12)
    assert np.sum(np.abs(W) ** 2) == pytest.approx(2.0)                  # constraint (37d)
    # at high SNR the interference vanishes (zero forcing), at low SNR MMSE beats ZF
    G = np.abs(H @ ps.mmse(H, 1e3, 1e-15)) ** 2
    assert np.max(G - np.diag(np.diag(G))) < 1e-6 * np.min(np.diag(G))
    noisy = 1e-6
    zf = np.linalg.pinv(H)
    zf = zf / np.linalg.norm(zf, axis=0) * np.sqrt(1e-3 / 3)
    assert ps.sum_rate(H, 1e-3, noisy) >= ps.rate(ps.sinr(H, zf, noisy)).sum() - 1e-9


def test_min_power_meets_the_target_exactly():
    rng = np.random.default_rng(2)
    H = _rand_h(rng, 3, 3)
    noise = 1e-12
    p = ps.min_power(H, 10.0, noise)
    assert np.isfinite(p)
    V = ps.mmse_directions(H, p, noise)
    G = np.abs(H @ V) ** 2
    A = -G.copy()
    np.fill_diagonal(A, np.diag(G) / 10.0)
    alloc = np.linalg.solve(A, np.full(3, noise))
    s = ps.sinr(H, V * np.sqrt(alloc), noise)
    np.testing.assert_allclose(10 * np.log10(s), 10.0, atol=1e-6)
    assert ps.served(s, 9.9).all() and not ps.served(s, 10.1).any()
    # two users on one direction cannot both reach 10 dB: reported as infinite, not hidden
    same = np.array([[1e-4, 1e-4], [2e-4, 2e-4]], dtype=complex)
    assert ps.min_power(same, 10.0, noise) == float("inf")
    assert ps.min_power(H[:1, :1], 10.0, noise) == pytest.approx(10 * noise / np.abs(H[0, 0]) ** 2)


def test_label_search_is_the_exhaustive_optimum_over_the_top_k_sets():
    rng = np.random.default_rng(3)
    link = _rand_h(rng, 3, 3, 12)
    combo, best = ps.best_combination(link, 3, 1e-2, 1e-10)
    cand = ps.top_candidates(link, 3)
    assert all(c in cand[u] for u, c in enumerate(combo))
    rates = []
    for c in itertools.product(*cand):
        H = np.array([[link[u, n, c[n]] for n in range(3)] for u in range(3)])
        rates.append(ps.sum_rate(H, 1e-2, 1e-10))
    assert best == pytest.approx(max(rates))
    with pytest.raises(ConfigError, match="5 users but 4 waveguides"):
        ps.check_users(5, 4)
    with pytest.raises(ConfigError, match="waveguides"):
        ps.best_combination(_rand_h(rng, 3, 2, 5), 2, 1.0, 1e-10)


def test_waveguides_share_the_single_user_model():
    cfg = PinchingConfig()
    books = ps.waveguide_books(cfg, FREQ)
    assert books.shape == (cfg.num_waveguides, cfg.num_codewords, cfg.num_pas)
    np.testing.assert_allclose(books[0], pinching.build_codebook(cfg, FREQ))
    ue = np.array([3.0, 1.7, 1.7])
    los = np.ones(books.shape)
    los[1, :, 0] = 0.0                                                   # one PA of waveguide 1 blocked
    link = ps.links(books, ue, los, cfg, FREQ)
    np.testing.assert_allclose(link[0], pinching.effective_channels(books[0], ue, los[0], cfg, FREQ))
    pts = ps.pa_points(books, cfg)
    assert np.allclose(pts[2, ..., 1], cfg.start[1] - 2 * cfg.waveguide_spacing_m)
    # the codeword focused nearest the user wins on every waveguide
    best = np.abs(link).argmax(-1)
    targets = pinching.codebook_targets(cfg)[:, 0]
    assert abs(targets[best[0]] - ue[0]) < cfg.length_m / cfg.num_codewords
    assert ps.noise_power_w(100e6, 7.0) == pytest.approx(ps.dbm_to_w(-174 + 80 + 7))


def test_hybrid_array_links_follow_the_power_convention():
    from beam_predictor.physics.array import beam_power, codebook, codebook_angles_rad
    rng = np.random.default_rng(4)
    g = _rand_h(rng, 2, 16)
    w = codebook(codebook_angles_rad(64, 90.0), 16)
    H = ps.analog_links(g, w, np.array([5, 40]))
    np.testing.assert_allclose(np.abs(H[0, 0]) ** 2, beam_power(g[0], w)[5])
    np.testing.assert_allclose(np.abs(H[1, 1]) ** 2, beam_power(g[1], w)[40])
