"""Evaluation-only labels from a twin scenario's ground truth: which kind of frame a target is.

Every results table splits its rows by the target frame's propagation: the UE in line of
sight inside the codebook's field of view, in line of sight outside it (beyond the edge
beams), or blocked (NLoS).  The twin's ground-truth columns (``los`` and the UE
position ``ue_x``, ``ue_y``) decide it.  They are read here and only here, they label
the evaluation, and they never reach a model input (``test/model/test_no_ground_truth.py``).
A scenario without them (real DeepSense) has every frame ``unknown``.
"""
from __future__ import annotations

import numpy as np

from beam_predictor.physics.site import SiteGeometry

CATEGORIES = ("unknown", "LoS in FOV", "LoS outside FOV", "NLoS")
UNKNOWN, LOS_IN_FOV, LOS_OUT_FOV, NLOS = range(4)


def frame_category(extras: dict[str, str], meta: dict, site: SiteGeometry | None) -> int:
    """The category of one frame from its extra CSV columns and the twin's twin_meta.json."""
    los, x, y = extras.get("los", ""), extras.get("ue_x", ""), extras.get("ue_y", "")
    if not (los and x and y and "base_station_array" in meta) or site is None:
        return UNKNOWN
    if los.strip() == "0":
        return NLOS
    bs = meta["base_station_array"]
    psi = site.direction(np.array([float(x) - bs[0], float(y) - bs[1]]))["psi"]
    return LOS_IN_FOV if bool(site.in_fov(psi)) else LOS_OUT_FOV
