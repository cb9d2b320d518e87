"""One synchronized frame -> one model step; the last H steps -> the model's input.

This is the only place where frames become model input.  Training and evaluation
(:func:`beam_predictor.model.data.make_windows`) push a scenario's frames one at a time;
the fusion node (:mod:`beam_predictor.runtime.online`) pushes each synchronized frame as
it arrives.  Both take their arrays from :meth:`HistoryWindow.arrays`, so the offline
figures measure the input the live graph builds.

A :class:`FrameInput` is what one synchronized frame offers: the stamp, each encoder
modality's features (``None``: silent sensor or unusable input), the UE box of the
tracker (``None``: not visible or lost) and the UE's GPS fix (``None``: no fix).  A step
keeps

* the features with a missing flag per modality (non-finite features count as missing,
  ``stats["features_nonfinite"]``; so does a non-finite box);
* the box as (u0, v0, u1, v1, visible), normalised by the image size, zeros when not
  visible (the model masks those steps);
* the fix in local metres of the site (the model sees it as ``pos``: metres along the
  array axis, along the boresight and the UE antenna's height over the array, with
  ``pos_missing``).  A fix is missing when absent or non-finite, and
  is rejected (counted in ``stats["gps_rejected"]``, treated as missing) when it lies
  more than ``gps_max_jump_m`` per frame period from the last accepted fix; after
  ``gps_reacquire`` rejections in a row the new track is accepted (the reference was
  the outlier).

* with ``spec.image`` (models that read the camera themselves, paper 002), the
  preprocessed image (:func:`beam_predictor.sensing.preprocess.prep_image`); the window
  offers the newest step's as ``image`` with ``image_missing``.

The window keeps the last H steps and starts over when the stamps jump forward by more
than ``gap_reset_s`` or go back (a new pass, a restarted replay).

The kinematic prior (:func:`kinematics`): a constant velocity fitted by least squares to
the window's accepted fixes (times relative to the current stamp) is extrapolated to
offsets k = 0..T (k frame periods ahead), and each position becomes, through the site
geometry, the features of ``KIN_FIELDS``.  No ground truth enters: the fixes are what the
GPS receiver reported.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from beam_predictor.physics.site import SiteGeometry

BOX_CHANNELS = 5            # u_min, v_min, u_max, v_max over the image size, visible
KIN_FIELDS = (
    "beam",         # beam coordinate / (B - 1): 0 = first beam, 1 = last; outside the FOV beyond
    "beam_rate",    # change of the beam coordinate per frame (beams)
    "psi",          # steering angle (rad): asin of the direction cosine along the array axis
    "distance",     # 3-D distance to the array / DISTANCE_SCALE_M
    "front",        # direction cosine along the boresight
    "speed",        # fitted speed / SPEED_SCALE_MPS
    "fix_share",    # accepted fixes in the window / H
    "fix_age",      # frames since the newest accepted fix / H
)
KIN_CHANNELS = len(KIN_FIELDS)
KIN = {name: i for i, name in enumerate(KIN_FIELDS)}
DISTANCE_SCALE_M = 30.0
SPEED_SCALE_MPS = 20.0
INPUT_KEYS = ("feats", "missing", "pad", "box", "kin", "kin_missing", "pos", "pos_missing")
POSITION_CHANNELS = 3       # along the array axis, along the boresight, height over the array (m)


@dataclass(frozen=True)
class WindowSpec:
    """The input format (built from a model config by ``ModelConfig.window_spec``)."""

    modalities: tuple[str, ...]
    feature_dim: int
    history: int
    input_len: int
    horizon: int
    frame_period_s: float = 0.1
    gap_reset_s: float = 1.0
    gps_max_jump_m: float = 5.0
    gps_reacquire: int = 3
    image: bool = False             # keep the newest preprocessed camera image ("image", "image_missing")
    image_size: int = 112


@dataclass
class FrameInput:
    stamp_ns: int
    features: dict[str, np.ndarray | None]
    box: tuple | np.ndarray | None = None      # (u0, v0, u1, v1) normalised, or None
    fix: np.ndarray | None = None              # (latitude, longitude) degrees, or None
    image: np.ndarray | None = None            # (3, S, S) preprocessed camera image, or None


def kinematics(times_s: np.ndarray, en: np.ndarray, valid: np.ndarray, spec: WindowSpec,
               site: SiteGeometry) -> np.ndarray | None:
    """(T+1, KIN_CHANNELS) kinematic features at offsets 0..T, or None without any fix.

    ``times_s`` (n,) relative to the current step (<= 0), ``en`` (n, 2) local metres,
    ``valid`` (n,) accepted fixes.
    """
    if not valid.any():
        return None
    t, p = times_s[valid], en[valid]
    if len(t) >= 2 and np.ptp(t) > 0:
        tc = t - t.mean()
        v = (tc[:, None] * (p - p.mean(0))).sum(0) / (tc * tc).sum()
    else:
        v = np.zeros(2)
    base = p.mean(0) - v * t.mean()                      # fitted position at t = 0
    ahead = np.arange(spec.horizon + 2) * spec.frame_period_s
    g = site.direction(base[None] + ahead[:, None] * v[None])
    beam = site.beam_coordinate(g["psi"])
    out = np.zeros((spec.horizon + 1, KIN_CHANNELS), np.float32)
    out[:, KIN["beam"]] = beam[:-1] / (site.num_beams - 1)
    out[:, KIN["beam_rate"]] = np.diff(beam)
    out[:, KIN["psi"]] = g["psi"][:-1]
    out[:, KIN["distance"]] = g["distance"][:-1] / DISTANCE_SCALE_M
    out[:, KIN["front"]] = g["front"][:-1]
    out[:, KIN["speed"]] = np.linalg.norm(v) / SPEED_SCALE_MPS
    out[:, KIN["fix_share"]] = valid.sum() / spec.history
    newest = np.nonzero(valid)[0][-1]
    out[:, KIN["fix_age"]] = (len(valid) - 1 - newest) / spec.history
    return out


class HistoryWindow:
    """The H-step history of one stream of frames (one pass, or the live graph)."""

    def __init__(self, spec: WindowSpec, site: SiteGeometry | None = None):
        self.spec, self.site = spec, site
        self.steps: deque = deque(maxlen=spec.history)
        self.stats = {"frames": 0, "resets": 0, "gps_missing": 0, "gps_rejected": 0, "features_nonfinite": 0}
        self.reset()

    def reset(self) -> None:
        self.steps.clear()
        self.last_stamp: int | None = None
        self.last_fix: tuple[int, np.ndarray] | None = None      # (stamp, local metres) accepted
        self.rejected_in_row = 0

    @property
    def ready(self) -> bool:
        return len(self.steps) == self.spec.history

    def _accept_fix(self, stamp_ns: int, fix) -> np.ndarray | None:
        """Local metres of the fix, or None when missing or rejected as a jump."""
        if self.site is None:
            return None
        if fix is None or not np.isfinite(np.asarray(fix, float)).all():
            self.stats["gps_missing"] += 1
            return None
        en = self.site.local_en(np.asarray(fix, np.float64))
        if self.last_fix is not None:
            periods = max(1.0, (stamp_ns - self.last_fix[0]) * 1e-9 / self.spec.frame_period_s)
            jump = float(np.linalg.norm(en - self.last_fix[1]))
            if jump > self.spec.gps_max_jump_m * periods and self.rejected_in_row < self.spec.gps_reacquire:
                self.rejected_in_row += 1
                self.stats["gps_rejected"] += 1
                return None
        self.rejected_in_row = 0
        self.last_fix = (stamp_ns, en)
        return en

    def push(self, frame: FrameInput) -> None:
        spec, t = self.spec, int(frame.stamp_ns)
        gap = None if self.last_stamp is None else t - self.last_stamp
        if gap is not None and (gap > spec.gap_reset_s * 1e9 or gap < 0):
            self.reset()
            self.stats["resets"] += 1
        self.last_stamp = t
        self.stats["frames"] += 1
        feats = np.zeros((len(spec.modalities), spec.feature_dim), np.float32)
        missing = np.ones(len(spec.modalities), bool)
        for i, mod in enumerate(spec.modalities):
            f = frame.features.get(mod)
            if f is not None:
                f = np.asarray(f, np.float32)
                if f.shape != (spec.feature_dim,):
                    raise ValueError(f"feature of '{mod}' has shape {f.shape}, "
                                     f"expected ({spec.feature_dim},)")
                if not np.isfinite(f).all():          # a faulty encoder: the modality is missing
                    self.stats["features_nonfinite"] += 1
                    continue
                feats[i], missing[i] = f, False
        box = np.zeros(BOX_CHANNELS, np.float32)
        if frame.box is not None and np.isfinite(np.asarray(frame.box, np.float64)).all():
            box[:4], box[4] = np.asarray(frame.box, np.float32)[:4], 1.0
        en = self._accept_fix(t, frame.fix)
        image = None
        if spec.image and frame.image is not None:
            image = np.asarray(frame.image, np.float32)
            if image.shape != (3, spec.image_size, spec.image_size):
                raise ValueError(f"image has shape {image.shape}, expected (3, {spec.image_size}, "
                                 f"{spec.image_size})")
        self.steps.append((t, feats, missing, box, en, image))

    def arrays(self) -> dict[str, np.ndarray]:
        """Batch-of-one model inputs (``INPUT_KEYS``), left-padded to ``input_len``."""
        spec = self.spec
        n, length, n_mod = len(self.steps), spec.input_len, len(spec.modalities)
        feats = np.zeros((1, length, n_mod, spec.feature_dim), np.float32)
        missing = np.ones((1, length, n_mod), bool)
        box = np.zeros((1, length, BOX_CHANNELS), np.float32)
        pos = np.zeros((1, length, POSITION_CHANNELS), np.float32)
        pos_missing = np.ones((1, length), bool)
        for j, (_, f, m, b, en, _) in enumerate(self.steps):
            k = length - n + j
            feats[0, k], missing[0, k], box[0, k] = f, m, b
            if en is not None:
                pos[0, k, :2] = self.site.site_xy(en)
                pos[0, k, 2] = self.site.ue_antenna_height_m - self.site.array_height_m
                pos_missing[0, k] = False
        kin = None
        if self.site is not None and n:
            now = self.steps[-1][0]
            times = np.array([(s[0] - now) * 1e-9 for s in self.steps])
            valid = np.array([s[4] is not None for s in self.steps])
            en = np.array([s[4] if s[4] is not None else (np.nan, np.nan) for s in self.steps], np.float64)
            kin = kinematics(times, en, valid, spec, self.site)
        missing_kin = kin is None
        if missing_kin:
            kin = np.zeros((spec.horizon + 1, KIN_CHANNELS), np.float32)
        out = {"feats": feats, "missing": missing, "pad": (np.arange(length) < length - n)[None],
               "box": box, "kin": kin[None], "kin_missing": np.array([missing_kin]),
               "pos": pos, "pos_missing": pos_missing}
        if spec.image:
            newest = self.steps[-1][5] if n else None
            out["image"] = (np.zeros((1, 3, spec.image_size, spec.image_size), np.float32) if newest is None
                            else newest[None])
            out["image_missing"] = np.array([newest is None])
        return out


def stack(arrays: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Batch the per-window arrays of :meth:`HistoryWindow.arrays` along the first axis."""
    return {k: np.concatenate([a[k] for a in arrays]) for k in arrays[0]}


USER_KEYS = ("box", "pos", "pos_missing", "pad", "kin", "kin_missing", "tracked")


class UsersWindow:
    """Several users' H-step histories at once (paper 003): one :class:`HistoryWindow` per user.

    Each user, keyed by its DeepSense unit (2 is the UE; 3, 4, ... the others, in
    ``units`` order), brings the tracker's box and its own GPS fix every frame; the camera,
    radar and LiDAR features are not per user and are not kept here.  ``arrays()`` stacks
    the users' inputs along a user axis: ``box`` (1, U, L, 5), ``pos`` (1, U, L, 3),
    ``pos_missing`` and ``pad`` (1, U, L), ``kin`` (1, U, KIN_CHANNELS) at offset 0,
    ``kin_missing`` (1, U), and ``tracked`` (1, U): the user's box was seen in the window
    (a user without one is served by the fallback codeword).
    """

    def __init__(self, spec: WindowSpec, site: SiteGeometry | None, units: tuple[int, ...]):
        if spec.modalities:
            raise ValueError("UsersWindow keeps boxes and fixes only: a spec without modalities")
        self.units = tuple(units)
        self.windows = {u: HistoryWindow(spec, site) for u in self.units}

    def push(self, stamp_ns: int, boxes: dict, fixes: dict) -> None:
        """One frame: each user's box (normalised corners, or None) and fix (or None)."""
        for u, w in self.windows.items():
            w.push(FrameInput(stamp_ns, {}, box=boxes.get(u), fix=fixes.get(u)))

    def arrays(self) -> dict[str, np.ndarray]:
        per = [self.windows[u].arrays() for u in self.units]
        out = {k: np.stack([p[k][0] for p in per])[None] for k in ("box", "pos", "pos_missing", "pad")}
        out["kin"] = np.stack([p["kin"][0, 0] for p in per])[None]
        out["kin_missing"] = np.array([[p["kin_missing"][0] for p in per]])
        out["tracked"] = out["box"][..., 4].any(-1)
        return out

    @property
    def stats(self) -> dict[int, dict]:
        return {u: w.stats for u, w in self.windows.items()}
