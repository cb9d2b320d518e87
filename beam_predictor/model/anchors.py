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
them knows); the two GPS anchors use only the window's model input.
"""
from __future__ import annotations

import numpy as np

from beam_predictor.model.data import Windows
from beam_predictor.physics.array import codebook, pattern_gain
from beam_predictor.physics.site import SiteGeometry
from beam_predictor.window import KIN

ANCHORS = ("persistence", "linear", "geometry", "calibrated")


def _around(centre: np.ndarray, num_beams: int) -> np.ndarray:
    """Scores ranking beams by their distance to a (fractional) beam index (…,) -> (…, B)."""
    return -np.abs(np.arange(num_beams) - np.asarray(centre)[..., None])


def persistence(w: Windows, num_beams: int) -> np.ndarray:
    steps = w.beam.shape[1]
    last = np.repeat(w.past_beam[:, -1:], steps, axis=1).astype(float)
    return _around(last, num_beams)


def linear(w: Windows, num_beams: int) -> np.ndarray:
    h, steps = w.past_beam.shape[1], w.beam.shape[1]
    t = np.arange(-h + 1, 1, dtype=float)
    tc = t - t.mean()
    slope = (tc * (w.past_beam - w.past_beam.mean(1, keepdims=True))).sum(1) / (tc ** 2).sum()
    ahead = w.past_beam.mean(1)[:, None] + slope[:, None] * (np.arange(steps)[None] - t.mean())
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


def anchor_scores(train: Windows, test: Windows, site: SiteGeometry) -> dict[str, np.ndarray]:
    """Scores (N, T+1, B) of every anchor on ``test``; the calibrated one is fitted on ``train``."""
    return {"persistence": persistence(test, site.num_beams), "linear": linear(test, site.num_beams),
            "geometry": geometry(test, site), "calibrated": CalibratedAngle(site).fit(train)(test)}
