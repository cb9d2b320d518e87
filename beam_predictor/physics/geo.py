"""Local east/north metres <-> WGS-84 latitude/longitude around an origin.

A local tangent plane with the WGS-84 meridian and prime-vertical radii of curvature
at the origin; over the few hundred metres of a V2I scene the error is far below
RTK GPS noise (millimetres).
"""
from __future__ import annotations

import numpy as np

WGS84_A = 6378137.0
WGS84_E2 = 6.69437999014e-3


def _radii(lat0_deg: float) -> tuple[float, float]:
    s = np.sin(np.radians(lat0_deg))
    w = np.sqrt(1.0 - WGS84_E2 * s * s)
    meridian = WGS84_A * (1.0 - WGS84_E2) / w ** 3
    prime_vertical = WGS84_A / w
    return meridian, prime_vertical


def enu_to_latlon(east, north, origin_latlon) -> np.ndarray:
    """(..., 2) latitude, longitude in degrees of points ``east``/``north`` metres from origin."""
    lat0, lon0 = (float(v) for v in origin_latlon)
    m, n = _radii(lat0)
    lat = lat0 + np.degrees(np.asarray(north, dtype=np.float64) / m)
    lon = lon0 + np.degrees(np.asarray(east, dtype=np.float64) / (n * np.cos(np.radians(lat0))))
    return np.stack([lat, lon], axis=-1)


def latlon_to_enu(latlon, origin_latlon) -> np.ndarray:
    """(..., 2) east, north in metres of ``latlon`` (..., 2) relative to the origin."""
    latlon = np.asarray(latlon, dtype=np.float64)
    lat0, lon0 = (float(v) for v in origin_latlon)
    m, n = _radii(lat0)
    north = np.radians(latlon[..., 0] - lat0) * m
    east = np.radians(latlon[..., 1] - lon0) * n * np.cos(np.radians(lat0))
    return np.stack([east, north], axis=-1)
