"""Multi-waveguide pinching-antenna system (PASS): links, SINR, rate, MRT, MMSE (paper 003).

N waveguides run parallel to the street, ``pinching.waveguide_spacing_m`` apart (waveguide
w starts at ``start - (0, w * spacing, 0)``), each fed by its own RF chain and carrying
N_PA pinching antennas placed by one codeword of its codebook
(:func:`beam_predictor.physics.pinching.build_codebook`).  User u is served through
waveguide u: the codeword chosen for waveguide u focuses on user u, and the digital
precoder across the N RF chains handles the interference.

Given every user's effective channel through every waveguide's codewords,
``links`` (U, N, K) (eq. 5: the PA channels with their LoS blockage, summed with equal
power split), a choice of codewords c (one per waveguide) gives the U x N channel
H[u, n] = links[u, n, c_n], and with the precoder W (N x U):

* SINR_u = |h_u w_u|^2 / (sum_{j != u} |h_u w_j|^2 + sigma^2)             (eq. 10)
* R_u = log2(1 + SINR_u), sum rate sum_u R_u                              (eq. 11)
* MRT for one user: w = sqrt(P) h^H / |h|                                 (eq. 12)
* MMSE (regularised zero forcing, eqs. 14 and 45):
  W = (H^H H + (U sigma^2 / P) I)^{-1} H^H, each column normalised to unit norm and
  scaled by the square root of its power (equal split P / U unless given: constraint
  37c-d); this is the linear MMSE precoder for equal powers.
* Constraint (37b): a user whose SINR falls below ``min_sinr_db`` is reported as not
  served (the rate still counts what it gets); nothing is hidden.
* Constraints (37e-f) hold by construction of every codebook (minimum PA spacing, PAs on
  the waveguide); :func:`check_users` enforces U <= N.

:func:`best_combination` builds the multi-user training label (eqs. 37-40): each user's
Top-K codewords by its own gain, then the combination with the highest MMSE sum rate.
The search is exhaustive over K^U combinations, each an U x U solve: with K = 4 and
U = 4, 256 solves of 4 x 4 per frame, batched in numpy (about a millisecond).

:func:`min_power` gives the smallest total transmit power that lifts every user to a
target SINR with the MMSE directions: for fixed unit-norm directions v_k the powers solve
the linear system G_uu p_u / gamma - sum_{k != u} G_uk p_k = sigma^2 (G_uk = |h_u v_k|^2);
the directions are re-derived at the resulting power until it settles.  Infeasible
(a negative or singular solution): infinity.

No library offers PASS channels or this label search; the linear algebra is numpy's.
"""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from beam_predictor.config import ConfigError
from beam_predictor.physics import pinching


def dbm_to_w(dbm) -> np.ndarray:
    return 10 ** ((np.asarray(dbm, dtype=float) - 30) / 10)


def w_to_dbm(w) -> np.ndarray:
    return 10 * np.log10(np.maximum(np.asarray(w, dtype=float), 1e-300)) + 30


def noise_power_w(bandwidth_hz: float, noise_figure_db: float, density_dbm_hz: float = -174.0) -> float:
    """Thermal noise over ``bandwidth_hz`` plus the receiver's noise figure, in watts."""
    return float(dbm_to_w(density_dbm_hz + 10 * np.log10(bandwidth_hz) + noise_figure_db))


def check_users(num_users: int, num_waveguides: int) -> None:
    """U <= N: each user needs a waveguide (and RF chain) of its own."""
    if num_users > num_waveguides:
        raise ConfigError(f"{num_users} users but {num_waveguides} waveguides (pinching.num_waveguides): "
                          "PASS serves at most one user per waveguide")


def waveguide(cfg, w: int):
    """The pinching config of waveguide ``w`` (its feed shifted by w spacings away from the street)."""
    sx, sy, sz = cfg.start
    return replace(cfg, start=(sx, sy - w * cfg.waveguide_spacing_m, sz))


def waveguide_books(cfg, frequency_hz: float, num_pas: int | None = None) -> np.ndarray:
    """(N, K, num_pas) PA positions (metres from each feed) of every waveguide's codebook: the generated
    one of ``pinching.codebook_positions`` when it holds this PA count, else the geometric one."""
    cfg = cfg if num_pas is None else replace(cfg, num_pas=num_pas)
    generated = generated_books(cfg, cfg.num_pas)
    if generated is not None:
        return generated
    return np.stack([pinching.build_codebook(waveguide(cfg, w), frequency_hz)
                     for w in range(cfg.num_waveguides)])


def waveguide_targets(cfg) -> np.ndarray:
    """(N, K, 3) every waveguide's codeword focus points (world metres): the generated codebook's
    (``pinching.codebook_targets``), else the geometric ones."""
    if len(cfg.codebook_targets):
        targets = np.asarray(cfg.codebook_targets, dtype=np.float64)
        want = (cfg.num_waveguides, cfg.num_codewords, 3)
        if targets.shape != want:
            raise ConfigError(f"pinching.codebook_targets: shape {targets.shape}, expected {want}")
        return targets
    return np.stack([pinching.codebook_targets(waveguide(cfg, w)) for w in range(cfg.num_waveguides)])


def generated_books(cfg, num_pas: int) -> np.ndarray | None:
    """The (N, K, num_pas) generated codebook of ``pinching.codebook_positions`` (None: geometric);
    one of the wrong shape, or with a PA off its waveguide, is a ConfigError."""
    stored = cfg.codebook_positions.get(str(num_pas), cfg.codebook_positions.get(num_pas))
    if stored is None:
        return None
    books = np.asarray(stored, dtype=np.float64)
    want = (cfg.num_waveguides, cfg.num_codewords, num_pas)
    if books.shape != want:
        raise ConfigError(f"pinching.codebook_positions[{num_pas}]: shape {books.shape}, expected "
                          f"(waveguides, codewords, PAs) = {want}")
    if (books < 0).any() or (books > cfg.length_m).any():
        raise ConfigError(f"pinching.codebook_positions[{num_pas}]: a PA outside the {cfg.length_m} m "
                          "waveguide")
    return books


def pa_points(books: np.ndarray, cfg) -> np.ndarray:
    """(N, K, P, 3) world coordinates of every PA of ``books`` (N, K, P)."""
    return np.stack([pinching.pa_world(books[w], waveguide(cfg, w)) for w in range(len(books))])


def links(books: np.ndarray, ue: np.ndarray, los: np.ndarray, cfg, frequency_hz: float) -> np.ndarray:
    """(N, K) effective channel of one user at ``ue`` through every waveguide's codewords.

    ``los`` (N, K, P) is the per-PA line-of-sight mask (0 blocked) for this user."""
    return np.stack([pinching.effective_channels(books[w], ue, los[w], waveguide(cfg, w), frequency_hz)
                     for w in range(len(books))])


def select(link: np.ndarray, combo) -> np.ndarray:
    """(..., U, U) channel H[u, n] = link[..., u, n, combo[..., n]] for waveguides n < U."""
    link = np.asarray(link)
    combo = np.asarray(combo)
    u = link.shape[-3]
    sub = link[..., :u, :u, :]                                          # (..., U, U, K)
    batch = np.broadcast_shapes(sub.shape[:-3], combo.shape[:-1])
    sub = np.broadcast_to(sub, batch + sub.shape[-3:])
    idx = np.broadcast_to(np.broadcast_to(combo, batch + (u,))[..., None, :, None], batch + (u, u, 1))
    return np.take_along_axis(sub, idx, axis=-1)[..., 0]


def sinr(H: np.ndarray, W: np.ndarray, noise_w: float) -> np.ndarray:
    """(..., U) SINR of every user (eq. 10) for channel H (..., U, N) and precoder W (..., N, U)."""
    g = np.abs(H @ W) ** 2
    sig = np.diagonal(g, axis1=-2, axis2=-1)
    return sig / (g.sum(-1) - sig + noise_w)


def rate(s: np.ndarray) -> np.ndarray:
    """Achievable rate log2(1 + SINR) in bit/s/Hz (eq. 11)."""
    return np.log2(1 + np.asarray(s))


def mrt(h: np.ndarray, power_w: float) -> np.ndarray:
    """(N, 1) MRT precoder of one user's channel h (N,) with total power P (eq. 12)."""
    h = np.asarray(h)
    return (np.sqrt(power_w) * h.conj() / max(float(np.linalg.norm(h)), 1e-300))[:, None]


def mmse_directions(H: np.ndarray, power_w, noise_w: float) -> np.ndarray:
    """(..., N, U) unit-norm MMSE precoding directions of H (..., U, N) at total power P."""
    H = np.asarray(H)
    u, n = H.shape[-2:]
    reg = (u * noise_w / np.asarray(power_w, dtype=float))[..., None, None] * np.eye(n)
    Hh = np.conj(np.swapaxes(H, -1, -2))
    V = np.linalg.solve(Hh @ H + reg, Hh)
    return V / np.maximum(np.linalg.norm(V, axis=-2, keepdims=True), 1e-300)


def mmse(H: np.ndarray, power_w, noise_w: float, split: np.ndarray | None = None) -> np.ndarray:
    """(..., N, U) MMSE precoder of H (..., U, N) with total power P, split equally or by ``split``."""
    H = np.asarray(H)
    u = H.shape[-2]
    p = np.asarray(power_w, dtype=float)
    share = np.full(u, 1.0 / u) if split is None else np.asarray(split, dtype=float)
    return mmse_directions(H, p, noise_w) * np.sqrt(p[..., None, None] * share[..., None, :])


def sum_rate(H: np.ndarray, power_w, noise_w: float) -> np.ndarray:
    """(...,) sum rate with MMSE precoding (MRT for one user: the two coincide)."""
    return rate(sinr(H, mmse(H, power_w, noise_w), noise_w)).sum(-1)


def served(s: np.ndarray, min_sinr_db: float) -> np.ndarray:
    """Constraint (37b): which users reach the minimum SINR."""
    return 10 * np.log10(np.maximum(s, 1e-300)) >= min_sinr_db


def top_candidates(link: np.ndarray, top_k: int) -> np.ndarray:
    """(U, top_k) each user's best codewords on its own waveguide by gain |link[u, u, k]|^2."""
    u = link.shape[0]
    own = np.abs(link[np.arange(u), np.arange(u)]) ** 2                # (U, K)
    return np.argsort(-own, axis=-1, kind="stable")[:, :top_k]


def best_combination(link: np.ndarray, top_k: int, power_w: float,
                     noise_w: float) -> tuple[np.ndarray, float]:
    """The multi-user label: (U,) codewords maximising the MMSE sum rate over the Top-K sets, and that rate.

    ``link`` (U, N, K) with U <= N; user u is served by waveguide u."""
    u, n, _ = link.shape
    check_users(u, n)
    cand = top_candidates(link, top_k)
    combos = np.array(list(itertools.product(*cand)), dtype=int)      # (top_k^U, U)
    rates = sum_rate(select(link[None], combos), np.full(len(combos), power_w), noise_w)
    best = int(np.argmax(rates))
    return combos[best], float(rates[best])


def min_power(H: np.ndarray, target_sinr_db: float, noise_w: float, iterations: int = 8,
              start_w: float = 1.0) -> float:
    """Smallest total power (W) giving every user of H (U, N) the target SINR with MMSE directions."""
    H = np.asarray(H)
    gamma = 10 ** (target_sinr_db / 10)
    if H.shape[0] == 1:
        g = float(np.sum(np.abs(H) ** 2))
        return gamma * noise_w / g if g > 0 else float("inf")
    total = start_w
    for _ in range(iterations):
        V = mmse_directions(H, total, noise_w)
        G = np.abs(H @ V) ** 2
        A = -G.copy()
        np.fill_diagonal(A, np.diag(G) / gamma)
        try:
            p = np.linalg.solve(A, np.full(len(G), noise_w))
        except np.linalg.LinAlgError:
            return float("inf")
        if not np.all(p > 0):
            return float("inf")
        new = float(p.sum())
        if abs(new - total) <= 1e-6 * new:
            return new
        total = new
    return total


def analog_links(channels: np.ndarray, weights: np.ndarray, beams: np.ndarray) -> np.ndarray:
    """(..., U, U) hybrid array channel: user u through RF chain n steering codebook beam ``beams[n]``.

    ``channels`` (..., U, M) are the users' element channels, ``weights`` (B, M) the codebook
    (unit norm, received as H w^*, as :func:`beam_predictor.physics.array.beam_power`)."""
    return np.asarray(channels) @ np.conj(weights[np.asarray(beams)]).swapaxes(-1, -2)
