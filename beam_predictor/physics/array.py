"""The base station's phased array: codebook, ULA synthesis and 64-beam received power (pure numpy).

Unit 1 of DeepSense 6G (and of the twin) is a 16-element half-wavelength ULA at 60 GHz
with a 64-beam codebook whose steering angles are evenly spread over +-45 deg.

The ray tracer gives, for every propagation path l from the base station to the UE, a
complex gain a_l (single-element pattern included), a delay tau_l and the departure
direction.  The array is synthesised here: element n sits at d_n = (n - (N-1)/2) / 2
wavelengths along +x, so path l reaches it with phase 2*pi*d_n*u_x,l, where u_x is the x
component of the departure unit vector.  Beam b steers to psi_b (measured from the
boresight +y toward +x) with w_b = v(sin psi_b) / sqrt(N).  Each subcarrier f sees
H_f = sum_l a_l exp(-j 2 pi f tau_l) v(u_x,l); the measured power of beam b is the mean
over subcarriers of |sqrt(P) w_b^H H_f + n|^2 with complex Gaussian noise n.
"""
from __future__ import annotations

import math

import numpy as np

# --- DeepSense 6G unit 1: 16-element ULA, 64 beams over 90 deg, 60 GHz ---
NUM_BEAMS = 64
NUM_ANTENNAS = 16
CARRIER_HZ = 60e9
CODEBOOK_FOV_DEG = 90.0


def codebook_angles_rad(num_beams: int = NUM_BEAMS, fov_deg: float = CODEBOOK_FOV_DEG) -> list[float]:
    """Steering angle of each beam (0-based index), evenly spread over the field of view."""
    half = math.radians(fov_deg) / 2.0
    step = 2.0 * half / (num_beams - 1)
    return [-half + i * step for i in range(num_beams)]


def element_positions(num_antennas: int) -> np.ndarray:
    """Element positions along the array axis, in wavelengths."""
    return (np.arange(num_antennas) - (num_antennas - 1) / 2) * 0.5


def steering(ux: np.ndarray, num_antennas: int) -> np.ndarray:
    """(..., N) array response for direction cosines ``ux`` along the array axis."""
    d = element_positions(num_antennas)
    return np.exp(2j * np.pi * np.asarray(ux)[..., None] * d)


def codebook(angles_rad, num_antennas: int) -> np.ndarray:
    """(B, N) beamforming weights steering to each angle (unit norm)."""
    return steering(np.sin(np.asarray(angles_rad)), num_antennas) / np.sqrt(num_antennas)


def impaired(weights: np.ndarray, phase_error_deg: float, gain_error_db: float,
             rng: np.random.Generator) -> np.ndarray:
    """Weights as a real array applies them: static per-element phase and gain errors."""
    n = weights.shape[-1]
    phase = np.radians(phase_error_deg) * rng.standard_normal(n)
    gain = 10 ** (gain_error_db * rng.standard_normal(n) / 20)
    return weights * (gain * np.exp(1j * phase))[None, :]


def impaired_codebook(num_beams: int, fov_deg: float, num_antennas: int, phase_error_deg: float,
                      gain_error_db: float, seed: int) -> np.ndarray:
    """(B, N) weights of a site's array (ideal steering times its static element errors).

    The element errors depend only on ``seed`` and N, so every codebook of the same array (64,
    128 or 256 beams) carries the same hardware: the twin measures with it, and a base station
    that knows its calibration predicts with it.
    """
    ideal = codebook(codebook_angles_rad(num_beams, fov_deg), num_antennas)
    return impaired(ideal, phase_error_deg, gain_error_db, np.random.default_rng([seed, 0, 4]))


def sparse_beams(fine: int, coarse: int) -> np.ndarray:
    """Indices of the ``coarse`` beams of a sparse sweep within a ``fine`` codebook (0-based).

    Every (fine / coarse)-th beam, starting half a step in, so the sweep is centred on the field
    of view: 16 of 64 are beams 2, 6, ..., 62.  Real scenarios with only the 64 measured powers
    take the same subset, so one rule serves the twin and DeepSense.
    """
    if coarse <= 0 or fine <= 0 or fine % coarse:
        raise ValueError(f"a {fine}-beam codebook is not a multiple of the {coarse}-beam sparse sweep")
    step = fine // coarse
    return np.arange(coarse) * step + step // 2


def direction_cosine_x(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """x component of the unit vector with zenith ``theta`` and azimuth ``phi`` (from +x)."""
    return np.sin(theta) * np.cos(phi)


def subcarriers(bandwidth_hz: float, num: int) -> np.ndarray:
    """Baseband subcarrier offsets, centred on the carrier."""
    return (np.arange(num) - (num - 1) / 2) * bandwidth_hz / num


def frequency_response(a: np.ndarray, tau: np.ndarray, ux: np.ndarray, num_antennas: int,
                       freqs: np.ndarray) -> np.ndarray:
    """(F, N) channel of the synthesised array on each subcarrier."""
    a, tau, ux = (np.asarray(x).ravel() for x in (a, tau, ux))
    if a.size == 0:
        return np.zeros((len(freqs), num_antennas), dtype=np.complex128)
    delay = np.exp(-2j * np.pi * freqs[:, None] * tau[None, :])          # (F, L)
    return (delay * a[None, :]) @ steering(ux, num_antennas)            # (F, N)


def beam_power(H: np.ndarray, weights: np.ndarray, power_scale: float = 1.0, noise_power: float = 0.0,
               rng: np.random.Generator | None = None, snr_db: float | None = None) -> np.ndarray:
    """(..., B) received power of every beam of ``weights`` (B, N) from a stored channel.

    ``H`` is one frame's channel of the N elements, per subcarrier (..., F, N) or narrowband
    (..., N); the power is the mean over subcarriers of |y|^2.  Two noise models:

    * ``noise_power`` (with ``rng``): measurement noise added to each beam's output,
      y = sqrt(P) w^H H_f + n, n ~ CN(0, noise_power); how the twin writes its power files.
    * ``snr_db`` (with ``rng``): noise added to the channel before beamforming (paper 004,
      eqs. 14-15), element-wise CN(0, ||H||^2 / 10^(snr/10)) with ||H||^2 the mean over
      subcarriers of the squared norm; y = sqrt(P) w^H (H_f + n).

    Any ULA codebook works: :func:`codebook` of 64, 128 or 256 angles from
    :func:`codebook_angles_rad`, or the twin's impaired 64-beam weights.
    """
    H = np.asarray(H)
    if H.ndim == 1:
        H = H[None, :]
    if H.shape[-1] != weights.shape[-1]:
        raise ValueError(f"channel has {H.shape[-1]} elements, codebook {weights.shape[-1]}")
    if snr_db is not None:
        if rng is None:
            raise ValueError("snr_db needs an rng for the channel noise")
        norm2 = np.mean(np.sum(np.abs(H) ** 2, axis=-1), axis=-1, keepdims=True)[..., None]
        sigma2 = norm2 / 10 ** (snr_db / 10)
        H = H + np.sqrt(sigma2 / 2) * (rng.standard_normal(H.shape) + 1j * rng.standard_normal(H.shape))
    y = np.sqrt(power_scale) * (H @ weights.conj().T)                   # (..., F, B)
    if rng is not None and noise_power > 0:
        y = y + np.sqrt(noise_power / 2) * (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape))
    return np.mean(np.abs(y) ** 2, axis=-2)


def pattern_gain(ux: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(..., B) array gain |w_b^H v(u)|^2 of every beam toward direction cosines ``ux``."""
    a = steering(ux, weights.shape[-1])
    return np.abs(a @ weights.conj().T) ** 2
