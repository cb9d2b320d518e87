"""Base-station LiDAR of the twin: a spinning-style scan pattern ray cast through the scene.

``channels`` laser rows spread evenly over ``vfov_deg`` (elevation), each with
``points_per_channel`` azimuths over ``hfov_deg`` centred on +y.  Points are returned in
the LiDAR frame: origin at the sensor, axes parallel to the base-station frame (x east,
y north, z up).  Intensity models reflectivity times the cosine of incidence, scaled to
0-255 like DeepSense's ushort intensity; rays that hit nothing return no point.
"""
from __future__ import annotations

import numpy as np

REFLECTIVITY = {"vehicle": 0.9, "floor": 0.25, "glass": 0.15, "wood": 0.45, "concrete": 0.5,
                "concrete_60ghz": 0.5, "metal": 0.8}


def scan_directions(cfg) -> np.ndarray:
    """(channels * points_per_channel, 3) unit directions, row-major by channel."""
    el = np.radians(np.linspace(cfg.vfov_deg[0], cfg.vfov_deg[1], cfg.channels))
    half = np.radians(cfg.hfov_deg) / 2
    az = np.linspace(-half, half, cfg.points_per_channel)     # from +y toward +x
    ee, aa = np.meshgrid(el, az, indexing="ij")
    d = np.stack([np.cos(ee) * np.sin(aa), np.cos(ee) * np.cos(aa), np.sin(ee)], axis=-1)
    return d.reshape(-1, 3)


def points_from_hits(dirs: np.ndarray, t: np.ndarray, normals: np.ndarray, reflectivity: np.ndarray,
                     cfg, rng: np.random.Generator) -> np.ndarray:
    """(M, 4) float32 x, y, z, intensity of the rays that hit within range."""
    keep = np.isfinite(t) & (t <= cfg.max_range_m)
    r = t[keep] + rng.normal(0, cfg.range_noise_m, keep.sum())
    xyz = dirs[keep] * r[:, None]
    cos = np.abs(np.sum(normals[keep] * dirs[keep], axis=1))
    intensity = np.clip(255 * reflectivity[keep] * cos, 0, 255)
    return np.column_stack([xyz, np.rint(intensity)]).astype(np.float32)
