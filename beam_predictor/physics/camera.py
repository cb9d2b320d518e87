"""Pinhole model of the base-station camera: pixel rays and projection of world points.

Camera frame: x right, y down, z forward (optical).  World frame: x along the array axis,
y along the boresight, z up.  The camera looks along +y turned by ``yaw_deg`` (positive
toward +x) and pitched by ``pitch_deg`` (negative looks down).  ``fy``, ``cx``, ``cy``
default to square pixels and the image centre.  The twin casts its rays through it; the
UE tracker projects GPS fixes with it (through the site file's camera).
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
    yaw_deg: float = 0.0
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None

    @property
    def fx(self) -> float:
        return self.width / 2 / np.tan(np.radians(self.hfov_deg) / 2)

    @property
    def principal(self) -> tuple[float, float, float]:
        """(fy, cx, cy) with their defaults filled in."""
        return (self.fx if self.fy is None else self.fy, self.width / 2 if self.cx is None else self.cx,
                self.height / 2 if self.cy is None else self.cy)

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World directions of the camera's right, down and forward axes."""
        p, y = np.radians(self.pitch_deg), np.radians(self.yaw_deg)
        forward = np.array([np.sin(y) * np.cos(p), np.cos(y) * np.cos(p), np.sin(p)])
        right = np.array([np.cos(y), -np.sin(y), 0.0])
        down = np.cross(forward, right)
        return right, down, forward

    def pixel_rays(self) -> np.ndarray:
        """(H*W, 3) unit world directions through pixel centres, row-major."""
        right, down, forward = self.axes()
        fy, cx, cy = self.principal
        u = (np.arange(self.width) + 0.5 - cx) / self.fx
        v = (np.arange(self.height) + 0.5 - cy) / fy
        uu, vv = np.meshgrid(u, v)
        d = forward + uu[..., None] * right + vv[..., None] * down
        d = d.reshape(-1, 3)
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (N, 2) and depth (N,) of world points (depth <= 0: behind)."""
        right, down, forward = self.axes()
        fy, cx, cy = self.principal
        d = np.atleast_2d(points) - self.position
        z = d @ forward
        with np.errstate(divide="ignore", invalid="ignore"):
            u = cx + self.fx * (d @ right) / z
            v = cy + fy * (d @ down) / z
        return np.stack([u, v], axis=1), z
