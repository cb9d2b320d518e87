"""Range-angle and range-velocity maps of a raw FMCW cube (RX x samples x chirps).

Range: FFT over fast-time samples.  Angle: FFT over the RX axis, zero-padded to
``angle_bins`` for angular oversampling (the 4 RX alone give 4 coarse bins).  Velocity:
FFT over chirps.  Magnitudes are summed over the axis that is not displayed.
"""
from __future__ import annotations

import numpy as np


def range_angle_map(cube: np.ndarray, angle_bins: int = 64, range_bins: int | None = None) -> np.ndarray:
    """(range_bins, angle_bins) magnitude; angle axis fft-shifted so broadside is the centre.

    ``range_bins`` keeps the nearest bins only (all by default), before the angle FFT.
    scipy.fft keeps complex64 in single precision, about twice as fast as numpy here.
    """
    import scipy.fft
    rng = scipy.fft.fft(cube, axis=1)[:, :range_bins]                # (R, N, M)
    ang = np.fft.fftshift(scipy.fft.fft(rng, n=angle_bins, axis=0), axes=0)
    return np.abs(ang).sum(axis=2).T


def range_velocity_map(cube: np.ndarray) -> np.ndarray:
    """(samples, chirps) magnitude; Doppler axis fft-shifted so zero speed is the centre."""
    rd = np.fft.fftshift(np.fft.fft(np.fft.fft(cube, axis=1), axis=2), axes=2)
    return np.abs(rd).sum(axis=0)


def angle_axis_deg(angle_bins: int) -> np.ndarray:
    """Arrival angle of each (shifted) angle bin for half-wavelength RX spacing."""
    k = np.arange(angle_bins) - angle_bins // 2
    return np.degrees(np.arcsin(np.clip(2.0 * k / angle_bins, -1, 1)))
