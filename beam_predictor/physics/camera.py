"""Pinhole model of the base-station camera: pixel rays and projection of world points.

Camera frame: x right, y down, z forward (optical).  The camera looks along the site's
+y axis (the array boresight), pitched by ``pitch_deg`` (negative looks down).  The twin
casts its rays through it; the UE tracker projects GPS fixes with it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PinholeCamera:
    position: np.ndarray      # (3,) world
    width: int
    height: int
    hfov_deg: float
    pitch_deg: float

    @property
    def fx(self) -> float:
        return self.width / 2 / np.tan(np.radians(self.hfov_deg) / 2)

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World directions of the camera's right, down and forward axes."""
        p = np.radians(self.pitch_deg)
        forward = np.array([0.0, np.cos(p), np.sin(p)])
        right = np.array([1.0, 0.0, 0.0])
        down = np.cross(forward, right)
        return right, down, forward

    def pixel_rays(self) -> np.ndarray:
        """(H*W, 3) unit world directions through pixel centres, row-major."""
        right, down, forward = self.axes()
        u = (np.arange(self.width) + 0.5 - self.width / 2) / self.fx
        v = (np.arange(self.height) + 0.5 - self.height / 2) / self.fx
        uu, vv = np.meshgrid(u, v)
        d = forward + uu[..., None] * right + vv[..., None] * down
        d = d.reshape(-1, 3)
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (N, 2) and depth (N,) of world points (depth <= 0: behind)."""
        right, down, forward = self.axes()
        d = np.atleast_2d(points) - self.position
        z = d @ forward
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.width / 2 + self.fx * (d @ right) / z
            v = self.height / 2 + self.fx * (d @ down) / z
        return np.stack([u, v], axis=1), z
