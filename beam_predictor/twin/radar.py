"""FMCW radar raw cube (RX x fast-time samples x chirps) from monostatic ray-traced paths.

Chirp parameters (config/twin.yaml, ``radar``; defaults in brackets):
carrier f0 [77 GHz], slope S [24 MHz/us], complex sampling at fs [10 MHz] with N [256]
samples per chirp (sweep 614 MHz, range resolution c/(2 S N/fs) = 0.24 m, maximum range
fs c / (2 S) = 62.5 m), chirp period Tc [35 us] over M [128] chirps (maximum unambiguous
radial speed lambda / (4 Tc) = 27.8 m/s), 4 RX at half a wavelength along +x.

Path l with round-trip delay tau_l, Doppler shift f_D,l (rescaled from the ray tracer's
carrier to f0) and arrival direction cosine u_x,l contributes
a_l exp(j 2 pi [S tau_l n / fs + f_D,l m Tc + u_x,l r / 2 - f0 tau_l]) to sample n of
chirp m at RX r, plus complex white noise.  A range FFT over n puts the target at bin
S tau N / fs, i.e. range c tau / 2; a Doppler FFT over m at f_D Tc M.
"""
from __future__ import annotations

import numpy as np

C0 = 299_792_458.0


def synthesize_cube(a, tau, doppler_hz, ux, cfg, rng: np.random.Generator | None) -> np.ndarray:
    """(num_rx, num_samples, num_chirps) complex64 cube for paths with the given parameters."""
    a = np.asarray(a, dtype=np.complex128).ravel()
    tau, fd, ux = (np.asarray(x, dtype=np.float64).ravel() for x in (tau, doppler_hz, ux))
    n = np.arange(cfg.num_samples)
    m = np.arange(cfg.num_chirps)
    r = np.arange(cfg.num_rx)
    fast = np.exp(2j * np.pi * np.outer(cfg.slope_hz_per_s * tau / cfg.sample_rate_hz, n))   # (L, N)
    slow = np.exp(2j * np.pi * np.outer(fd * cfg.chirp_period_s, m))                          # (L, M)
    space = np.exp(1j * np.pi * np.outer(ux, r))                                              # (L, R)
    amp = a * np.exp(-2j * np.pi * cfg.carrier_hz * tau)                                       # (L,)
    # sum over paths as one matrix product: (R*N, L) @ (L, M)
    lhs = (amp[:, None, None] * space[:, :, None] * fast[:, None, :]).reshape(len(amp), -1)
    cube = (lhs.T @ slow).reshape(cfg.num_rx, cfg.num_samples, cfg.num_chirps)
    if rng is not None and cfg.noise_std > 0:
        shape = cube.shape
        noise = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        cube = cube + cfg.noise_std / np.sqrt(2) * noise
    return cube.astype(np.complex64)


def range_bin_m(cfg) -> float:
    """Range covered by one bin of an N-point range FFT."""
    return C0 * cfg.sample_rate_hz / (2 * cfg.slope_hz_per_s * cfg.num_samples)


def velocity_bin_mps(cfg) -> float:
    """Radial speed covered by one bin of an M-point Doppler FFT."""
    return C0 / cfg.carrier_hz / (2 * cfg.chirp_period_s * cfg.num_chirps)
