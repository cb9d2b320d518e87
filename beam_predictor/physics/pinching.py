"""Pinching-antenna system (PASS) along a roadside dielectric waveguide (paper 003).

A waveguide runs from its feed point along +x at fixed height.  A codeword activates
``num_pas`` pinching antennas (PAs) at positions x_n (metres from the feed).  With equal
power split, the effective single-user channel of a codeword is

    h = sum_n sqrt(1/N) * eta * exp(-j 2 pi r_n / lambda) / r_n
                       * exp(-j 2 pi n_eff x_n / lambda) * LoS_n

(in-waveguide phase with guided wavelength lambda / n_eff; spherical free-space
propagation over r_n = |UE - PA_n| with eta = lambda / (4 pi); LoS_n = 0 when the PA->UE
ray is blocked).  With one RF chain, MRT makes the beamforming gain |h|^2.

Codebook: codeword k focuses on a target point spaced evenly along the street
(``target_y``, ``target_z``).  Its first PA sits at the waveguide point nearest the
target; the others are added alternately after and before it, each at the nearest
position at least ``min_spacing_m`` from its neighbour where its total phase
(free-space plus in-waveguide) equals the first PA's modulo 2 pi, so all PAs add
coherently at the target.
"""
from __future__ import annotations

import numpy as np

C0 = 299_792_458.0


def _xp(a):
    """numpy, or torch for a torch tensor (the generated codebook's gradient runs through this model)."""
    if type(a).__module__.startswith("torch"):
        import torch
        return torch
    return np


def _phase(x, target, cfg, lam) -> np.ndarray:
    sx, sy, sz = cfg.start
    r = np.sqrt((sx + x - target[0]) ** 2 + (sy - target[1]) ** 2 + (sz - target[2]) ** 2)
    return 2 * np.pi * (r + cfg.effective_index * x) / lam


def _solve(lo, hi, goal, target, cfg, lam) -> float:
    """x in [lo, hi] with phase(x) == goal (phase is increasing in x since n_eff > 1)."""
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _phase(mid, target, cfg, lam) < goal:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def pa_world(positions: np.ndarray, cfg) -> np.ndarray:
    """(..., 3) world coordinates of PAs given their distances from the feed."""
    sx, sy, sz = cfg.start
    p = np.asarray(positions, dtype=np.float64)
    return np.stack([sx + p, np.full_like(p, sy), np.full_like(p, sz)], axis=-1)


def codebook_targets(cfg) -> np.ndarray:
    """(K, 3) focus points of the codewords."""
    k = np.arange(cfg.num_codewords)
    x = cfg.start[0] + (k + 0.5) * cfg.length_m / cfg.num_codewords
    return np.stack([x, np.full_like(x, cfg.target_y), np.full_like(x, cfg.target_z)], axis=-1)


def build_codebook(cfg, frequency_hz: float, targets: np.ndarray | None = None) -> np.ndarray:
    """(K, num_pas) PA positions in metres from the feed, sorted, for every codeword, focused on
    ``targets`` (K, 3) (default: :func:`codebook_targets`)."""
    lam = C0 / frequency_hz
    span = lam / (cfg.effective_index - 1.0) * 1.05     # phase advances >= 2 pi within this
    targets = codebook_targets(cfg) if targets is None else np.asarray(targets, float)
    book = np.zeros((len(targets), cfg.num_pas))
    for k, target in enumerate(targets):
        x0 = float(np.clip(target[0] - cfg.start[0], 0.0, cfg.length_m))
        phi0 = _phase(x0, target, cfg, lam)
        chosen = [x0]
        right, left = x0, x0
        side = 1
        while len(chosen) < cfg.num_pas:
            fits_right = right + cfg.min_spacing_m + span <= cfg.length_m
            fits_left = left - cfg.min_spacing_m - span >= 0
            if not (fits_right or fits_left):
                raise ValueError(f"{cfg.num_pas} PAs at {cfg.min_spacing_m} m spacing do not fit on a "
                                 f"{cfg.length_m} m waveguide")
            if fits_right and (side > 0 or not fits_left):
                lo = right + cfg.min_spacing_m
                goal = phi0 + 2 * np.pi * np.ceil((_phase(lo, target, cfg, lam) - phi0) / (2 * np.pi))
                right = _solve(lo, lo + span, goal, target, cfg, lam)
                chosen.append(right)
            else:
                hi = left - cfg.min_spacing_m
                goal = phi0 + 2 * np.pi * np.floor((_phase(hi, target, cfg, lam) - phi0) / (2 * np.pi))
                left = _solve(hi - span, hi, goal, target, cfg, lam)
                chosen.append(left)
            side = -side
        book[k] = np.sort(chosen)
    return book


def effective_channels(book, ue, los, cfg, frequency_hz: float):
    """(..., K) complex effective channel of every codeword ``book`` (K, N) at the UE position(s) ``ue``
    (..., 3); ``los`` is a (K, N) 0/1 mask (or broadcasts against (..., K, N)).  numpy arrays, or
    torch tensors (all of them) for a gradient with respect to the PA positions."""
    xp = _xp(book)
    lam = C0 / frequency_hz
    sx, sy, sz = cfg.start
    ue = ue if xp is not np else np.asarray(ue, dtype=np.float64)
    ue = ue[..., None, None, :]                                # (..., 1, 1, 3) against (K, N)
    r = xp.sqrt((sx + book - ue[..., 0]) ** 2 + (sy - ue[..., 1]) ** 2 + (sz - ue[..., 2]) ** 2)
    eta = lam / (4 * np.pi)
    h = (eta * xp.exp(-2j * np.pi * r / lam) / r
         * xp.exp(-2j * np.pi * cfg.effective_index * book / lam) * los)
    return h.sum(-1) / np.sqrt(book.shape[-1])


def gain_db(h: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.maximum(np.abs(h) ** 2, 1e-30))
