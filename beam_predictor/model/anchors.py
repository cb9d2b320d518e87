"""Non-learned anchors, scored on the same windows as the predictors.

Every results table carries them, so a reader sees what the learning adds:

* ``persistence``: the current frame's measured best beam, for every future offset.
* ``linear``: a least-squares line through the observed frames' best beams, extrapolated.
* ``geometry``: the window's GPS constant-velocity extrapolation (its kinematic input,
  :func:`beam_predictor.window.kinematics`) to each offset, then the beam the ideal
  array pattern peaks at toward that direction.
* ``calibrated``: the same extrapolated steering angle, then P(label | angle) tallied on
  the training windows in ``bin_deg`` bins; the geometry's scores break ties and fill
  bins the training split never saw.

Each returns scores (N, T+1, B), so the metrics of :mod:`beam_predictor.model.metrics`
rank them like a model's probabilities (Top-K, DBA, power loss).  The persistence and
linear anchors use the observed frames' measured beams (what a base station that swept
them knows); the two GPS anchors use only the window's model input.  With ``delay`` = 1
the persistence and linear anchors see the beams of frames t-H..t-1 only, exactly what
the past-beam modality (:mod:`beam_predictor.sensing.beam_history`) offers a model, so
the two compare on equal information.  A scenario without a site file has no GPS anchors.
"""
from __future__ import annotations

import numpy as np

from beam_predictor.model.data import Windows
from beam_predictor.physics.array import codebook, pattern_gain
from beam_predictor.physics.site import SiteGeometry
from beam_predictor.window import KIN

ANCHORS = ("persistence", "linear", "geometry", "calibrated")     # (+ the delayed beam anchors)


def _around(centre: np.ndarray, num_beams: int) -> np.ndarray:
    """Scores ranking beams by their distance to a (fractional) beam index (…,) -> (…, B)."""
    return -np.abs(np.arange(num_beams) - np.asarray(centre)[..., None])


def _known_beams(w: Windows, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """(beams (N, H), their frame offsets (H,)) the anchor knows: frames t-H+1..t, or t-H..t-1
    with ``delay`` 1 (-1 entries: before the pass)."""
    h = w.past_beam.shape[1]
    if delay == 0:
        return w.past_beam, np.arange(-h + 1, 1, dtype=float)
    if delay != 1:
        raise ValueError(f"delay {delay}: 0 or 1")
    return np.column_stack([w.beam_before, w.past_beam[:, :-1]]), np.arange(-h, 0, dtype=float)


def persistence(w: Windows, num_beams: int, delay: int = 0) -> np.ndarray:
    steps = w.beam.shape[1]
    beams, _ = _known_beams(w, delay)
    last = np.repeat(beams[:, -1:], steps, axis=1).astype(float)
    return _around(last, num_beams)


def linear(w: Windows, num_beams: int, delay: int = 0) -> np.ndarray:
    """Least-squares line through the known beams (unknown ones, before the pass, left out)."""
    steps = w.beam.shape[1]
    beams, t = _known_beams(w, delay)
    known = (beams >= 0).astype(float)
    n = known.sum(1, keepdims=True)
    t_mean = (known * t).sum(1, keepdims=True) / n
    b_mean = (known * beams).sum(1, keepdims=True) / n
    tc = (t - t_mean) * known
    slope = (tc * (beams - b_mean)).sum(1, keepdims=True) / np.maximum((tc ** 2).sum(1, keepdims=True), 1e-9)
    ahead = b_mean + slope * (np.arange(steps)[None] - t_mean)
    return _around(np.clip(ahead, 0, num_beams - 1), num_beams)


def geometry(w: Windows, site: SiteGeometry) -> np.ndarray:
    weights = codebook(site.angles_rad, site.num_antennas)
    gain = pattern_gain(np.sin(w.inputs["kin"][..., KIN["psi"]].astype(float)), weights)
    return np.where(w.inputs["kin_missing"][:, None, None], 0.0, gain / gain.max(-1, keepdims=True))


class CalibratedAngle:
    """P(label | extrapolated steering angle), tallied on training windows in ``bin_deg`` bins."""

    def __init__(self, site: SiteGeometry, bin_deg: float = 0.5):
        self.site, self.bin = site, np.radians(bin_deg)
        self.counts: dict[int, np.ndarray] = {}

    def _bins(self, w: Windows) -> np.ndarray:
        return np.floor(w.inputs["kin"][..., KIN["psi"]] / self.bin).astype(int)

    def fit(self, w: Windows) -> "CalibratedAngle":
        ok = ~w.inputs["kin_missing"]
        for b, label in zip(self._bins(w)[ok].ravel(), w.beam[ok].ravel()):
            self.counts.setdefault(int(b), np.zeros(self.site.num_beams))[label] += 1
        return self

    def __call__(self, w: Windows) -> np.ndarray:
        scores = 1e-3 * geometry(w, self.site)
        bins = self._bins(w)
        ok = ~w.inputs["kin_missing"]
        for i, k in zip(*np.nonzero(np.broadcast_to(ok[:, None], bins.shape))):
            tally = self.counts.get(int(bins[i, k]))
            if tally is not None:
                scores[i, k] += tally / tally.sum()
        return scores


def anchor_scores(train: Windows, test: Windows, site: SiteGeometry | None, num_beams: int,
                  delayed: bool = False) -> dict[str, np.ndarray]:
    """Scores (N, T+1, B) of every anchor on ``test``; the calibrated one is fitted on ``train``.
    ``delayed`` adds persistence and linear on the beams of t-H..t-1; no site, no GPS anchors.  When
    the current beam is the only target (T = 0) the beam anchors see only the beams before it."""
    out = {}
    if test.beam.shape[1] == 1:
        delayed = True
    else:
        out = {"persistence": persistence(test, num_beams), "linear": linear(test, num_beams)}
    if delayed:
        out["persistence (t-1)"] = persistence(test, num_beams, 1)
        if test.past_beam.shape[1] > 1:          # a line needs two known beams
            out["linear (t-1)"] = linear(test, num_beams, 1)
    if site is not None:
        out.update({"geometry": geometry(test, site), "calibrated": CalibratedAngle(site).fit(train)(test)})
    return out
