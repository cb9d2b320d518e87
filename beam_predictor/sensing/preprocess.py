"""Per-modality preprocessing (paper 000, eqs. 4, 6, 8, 10), from frames of the DeepSense reader.

Every function returns a :class:`Prepared`: the model input as float32 numpy, or ``None``
with the reason when the input is unusable (so the encoder emits a "missing" flag and
fusion masks the modality instead of seeing zeros):

- image   JPEG -> RGB resized to ``size`` x ``size``, ImageNet-normalised, (3, S, S);
          undecodable or black (near-constant) frames are missing.
- radar   cube -> (optionally) static clutter removed by subtracting the mean over chirps,
          then the range-angle map: FFT over fast time and over the RX axis zero-padded
          to ``angle_bins``, magnitude summed over chirps, log-scaled and standardised,
          (1, range_bins, angle_bins); non-finite cubes are missing.
- LiDAR   points -> bird's-eye histogram of counts per cell, clipped to ``clip`` and
          divided by it, (1, grid, grid); empty or all-out-of-grid clouds are missing.
- GPS     latitude/longitude -> min-max scaled with statistics fitted on the training
          split only (:class:`GpsScaler`, stored with the model); values outside the
          fitted range are clipped to [0, 1] and reported.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from beam_predictor.sensing.config import ImagePrepConfig, LidarPrepConfig, RadarPrepConfig
from beam_predictor.sensing.radar_maps import range_angle_map


@dataclass
class Prepared:
    value: np.ndarray | None
    reason: str = ""                 # why the value is missing, or a note (e.g. "clipped")

    @property
    def missing(self) -> bool:
        return self.value is None


def prep_image(jpeg: bytes | None, cfg: ImagePrepConfig) -> Prepared:
    if jpeg is None:
        return Prepared(None, "no image")
    from PIL import Image
    try:
        with Image.open(io.BytesIO(jpeg)) as im:
            rgb = im.convert("RGB").resize((cfg.size, cfg.size), Image.BILINEAR)
    except Exception as exc:  # PIL, and decoder plugins other packages register, raise many types
        return Prepared(None, f"corrupt image ({type(exc).__name__}: {exc})")
    arr = np.asarray(rgb, dtype=np.float32)
    if arr.std() < cfg.min_std:
        return Prepared(None, "black or constant image")
    arr = (arr / 255.0 - np.asarray(cfg.mean, np.float32)) / np.asarray(cfg.std, np.float32)
    return Prepared(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def prep_radar(cube: np.ndarray | None, cfg: RadarPrepConfig) -> Prepared:
    if cube is None:
        return Prepared(None, "no radar")
    if cube.size == 0:
        return Prepared(None, f"empty radar cube (shape {cube.shape})")
    if not np.isfinite(cube).all():
        return Prepared(None, "non-finite radar samples")
    if cfg.remove_static:
        cube = cube - cube.mean(axis=2, keepdims=True)
    ra = range_angle_map(cube, cfg.angle_bins, cfg.range_bins)
    logm = np.log1p(ra)
    logm = (logm - logm.mean()) / (logm.std() + 1e-6)
    return Prepared(logm[None].astype(np.float32))


def prep_lidar(points: np.ndarray | None, cfg: LidarPrepConfig) -> Prepared:
    if points is None or len(points) == 0:
        return Prepared(None, "empty point cloud")
    pts = points[np.isfinite(points[:, :2]).all(axis=1)]
    hist, _, _ = np.histogram2d(pts[:, 0], pts[:, 1], bins=cfg.grid,
                                range=(tuple(cfg.x_range), tuple(cfg.y_range)))
    if hist.sum() == 0:
        return Prepared(None, "no point inside the grid")
    hist = np.minimum(hist, cfg.clip) / cfg.clip
    return Prepared(hist.T[None].astype(np.float32))      # rows: y (range), columns: x


@dataclass
class GpsScaler:
    """Min-max scaling of latitude/longitude, fitted on the training split only (eq. 10)."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def fit(cls, latlon: np.ndarray) -> "GpsScaler":
        latlon = np.asarray(latlon, dtype=np.float64).reshape(-1, 2)
        latlon = latlon[np.isfinite(latlon).all(axis=1)]
        if len(latlon) == 0:
            raise ValueError("no finite GPS fix to fit the scaler on")
        return cls(latlon.min(axis=0), latlon.max(axis=0))

    def __call__(self, latlon) -> Prepared:
        if latlon is None:
            return Prepared(None, "no GPS fix")
        ll = np.asarray(latlon, dtype=np.float64)
        if not np.isfinite(ll).all():
            return Prepared(None, "non-finite GPS fix")
        span = np.where(self.high > self.low, self.high - self.low, 1.0)
        x = (ll - self.low) / span
        clipped = bool(((x < 0) | (x > 1)).any())
        note = "clipped to the fitted range" if clipped else ""
        return Prepared(np.clip(x, 0.0, 1.0).astype(np.float32), note)

    def to_dict(self) -> dict:
        return {"low": self.low.tolist(), "high": self.high.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "GpsScaler":
        return cls(np.asarray(d["low"], dtype=np.float64), np.asarray(d["high"], dtype=np.float64))
