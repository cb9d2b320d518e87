"""Past beam measurements as modalities: what a base station that swept its codebook knows.

At frame t the sweep of frame t is not finished when the beam for frame t is chosen, so
the modality ``beam`` offers the optimal beam of the previous frame, t-1 (delayed by one
frame), and nothing when that frame is missing or more than ``max_gap_s`` older (a new
pass, a dropped sweep, a NaN power reading).  The beam index becomes a feature vector of
the encoders' width: a Gaussian bump (``width_bins`` wide) over ``dim`` bins spanning the
codebook, so nearby beams give nearby features and the fusion sees it like any encoder
output (with its missing flag, dropout and adapter).  Nothing is learned here; there is no
checkpoint.

:class:`DelayedBeam` is the one step, used by the offline feature series
(:func:`beam_series`, for training and evaluation) and by the encoder node of modality
``beam`` (live, on the power topic).

The modality ``sweep`` (paper 004's sparse sweep as an input of M2BeamLLM) offers the previous
frame's received power of the 16 sparse beams (:func:`beam_predictor.physics.array.sparse_beams`
of the 64), delayed by one frame the same way.  :func:`sweep_vector` makes them scale-free:
the powers over their maximum and (dB over it + 40) / 40, floored at 0, each linearly
interpolated to half the feature width.  A sweep with a NaN power is unusable (missing), never
zero-filled.  :class:`DelayedSweep` is its step, :func:`sweep_series` the offline series.
"""
from __future__ import annotations

import time

import numpy as np

BEAM_MODALITY = "beam"
VERSION = "beam-delay1"       # the features' version string (what a checkpoint records)
SWEEP_MODALITY = "sweep"
SWEEP_VERSION = "sweep16-delay1"
SWEEP_BEAMS = 16
POWER_MODALITIES = (BEAM_MODALITY, SWEEP_MODALITY)     # computed from the power topic, no checkpoint


def beam_features(beam: int, num_beams: int, dim: int, width_bins: float = 1.0) -> np.ndarray:
    """(dim,) float32 encoding of a 0-based beam index."""
    centre = beam * (dim - 1) / max(num_beams - 1, 1)
    return np.exp(-0.5 * ((np.arange(dim) - centre) / width_bins) ** 2).astype(np.float32)


def sweep_vector(power: np.ndarray, dim: int) -> np.ndarray | None:
    """(dim,) float32 features of one sparse sweep's linear powers (see the module docstring), or
    None when a power is not finite or none is positive."""
    p = np.asarray(power, np.float64)
    if not np.isfinite(p).all() or p.max() <= 0:
        return None
    rel = p / p.max()
    db = np.maximum(10 * np.log10(np.maximum(rel, 1e-4)), -40.0) / 40.0 + 1.0
    grid = np.linspace(0, len(p) - 1, dim // 2)
    x = np.arange(len(p))
    out = np.zeros(dim, np.float32)
    out[:dim // 2] = np.interp(grid, x, rel)
    out[dim // 2: 2 * (dim // 2)] = np.interp(grid, x, db)
    return out


def sparse_power(power: np.ndarray) -> np.ndarray:
    """The sparse sweep's powers within a 64-beam power vector (..., 64) -> (..., 16)."""
    from beam_predictor.physics.array import sparse_beams
    return np.asarray(power)[..., sparse_beams(np.shape(power)[-1], SWEEP_BEAMS)]


class DelayedBeam:
    """The previous frame's optimal beam as features (see the module docstring)."""

    def __init__(self, num_beams: int, dim: int, frame_period_s: float = 0.1, max_gap_s: float = 0.15):
        self.num_beams, self.dim = num_beams, dim
        self.max_gap_ns = int(max(max_gap_s, frame_period_s) * 1e9)
        self.last: tuple[int, object] | None = None        # (stamp, this frame's value or None)

    def features(self, value) -> np.ndarray:
        return beam_features(value, self.num_beams, self.dim)

    def push(self, stamp_ns: int, beam) -> tuple[np.ndarray | None, str]:
        """This frame's features (the previous frame's beam) or None with the reason; then
        remember this frame's beam (None: no usable sweep) for the next one."""
        prev, self.last = self.last, (int(stamp_ns), beam)
        if prev is None:
            return None, "no previous frame"
        gap = stamp_ns - prev[0]
        if gap <= 0 or gap > self.max_gap_ns:
            return None, f"previous sweep {gap * 1e-9:.3f} s away"
        if prev[1] is None:
            return None, "previous sweep unusable"
        return self.features(prev[1]), ""

    def encode(self, raw) -> tuple[np.ndarray | None, str, float]:
        """The encoder node's step: ``raw`` = (stamp_ns, linear power of every beam)."""
        start = time.perf_counter()
        stamp, power = raw
        power = np.asarray(power, np.float64)
        beam = int(np.nanargmax(power)) if len(power) == self.num_beams and np.isfinite(power).any() else None
        feats, reason = self.push(stamp, beam)
        return feats, reason, time.perf_counter() - start


class DelayedSweep(DelayedBeam):
    """The previous frame's sparse sweep as features (modality ``sweep``)."""

    def push(self, stamp_ns: int, power) -> tuple[np.ndarray | None, str]:
        """``power``: this frame's 16 sparse powers, or None; the features are the previous frame's."""
        feats = None if power is None else sweep_vector(power, self.dim)
        return super().push(stamp_ns, feats)

    def features(self, value) -> np.ndarray:
        return value

    def encode(self, raw) -> tuple[np.ndarray | None, str, float]:
        """The encoder node's step: ``raw`` = (stamp_ns, linear power of every beam)."""
        start = time.perf_counter()
        stamp, power = raw
        power = np.asarray(power, np.float64)
        sweep = sparse_power(power) if len(power) == self.num_beams else None
        feats, reason = self.push(stamp, sweep)
        return feats, reason, time.perf_counter() - start


def sweep_series(stamp_ns: np.ndarray, seq: np.ndarray, sweep: np.ndarray, dim: int,
                 frame_period_s: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(features (F, dim), missing (F,)) of every frame's previous sparse sweep (``sweep`` (F, 16)
    linear powers, NaN rows unusable), pass by pass, as the live node computes them."""
    feats = np.zeros((len(sweep), dim), np.float32)
    missing = np.ones(len(sweep), bool)
    step, current = None, None
    for i in range(len(sweep)):
        if step is None or seq[i] != current:
            step, current = DelayedSweep(len(sweep[i]), dim, frame_period_s), seq[i]
        f, _ = step.push(int(stamp_ns[i]), sweep[i])
        if f is not None:
            feats[i], missing[i] = f, False
    return feats, missing


def beam_series(stamp_ns: np.ndarray, seq: np.ndarray, beam: np.ndarray, num_beams: int, dim: int,
                frame_period_s: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(features (F, dim), missing (F,)) of a scenario's frames in CSV order, pass by pass, as the
    live node computes them.  ``beam`` 0-based, negative where the frame has no usable sweep."""
    feats = np.zeros((len(beam), dim), np.float32)
    missing = np.ones(len(beam), bool)
    step, current = None, None
    for i in range(len(beam)):
        if step is None or seq[i] != current:
            step, current = DelayedBeam(num_beams, dim, frame_period_s), seq[i]
        f, _ = step.push(int(stamp_ns[i]), int(beam[i]) if beam[i] >= 0 else None)
        if f is not None:
            feats[i], missing[i] = f, False
    return feats, missing
