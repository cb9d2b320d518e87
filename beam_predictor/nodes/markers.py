"""RViz markers of the beamformer (contract.MARKERS): beam arrows, waveguides and their PAs.

Positions are in the twin's world frame (x east, y north) and drawn in ``base_station`` (x north,
REP-103) relative to the array.  Each user of a PASS command gets its own colour on its own
waveguide, so several users' antennas can be told apart.
"""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point
from visualization_msgs.msg import Marker

from beam_predictor import contract

BEAM_COLOURS = ((0.1, 0.9, 0.1), (0.9, 0.1, 0.1))          # applied, optimal
USER_COLOURS = ((1.0, 0.6, 0.0), (0.2, 0.6, 1.0), (0.8, 0.2, 0.8), (0.1, 0.8, 0.7))


def to_base(world, bs: np.ndarray) -> list[float]:
    """Twin world (x east, y north) -> base_station (x north, y west)."""
    d = np.asarray(world, float) - bs
    return [float(d[1]), float(-d[0]), float(d[2])]


def _marker(header, ns: str, i: int, kind: int, rgb, alpha: float = 0.9) -> Marker:
    m = Marker(header=header, ns=ns, id=i, type=kind, action=Marker.ADD)
    m.header.frame_id = contract.FRAME_BASE_STATION
    m.color.r, m.color.g, m.color.b, m.color.a = (*rgb, alpha)
    return m


def beam_markers(header, angles: np.ndarray, beams) -> list[Marker]:
    """Arrows from the array along each of ``beams`` (applied, optimal)."""
    out = []
    for i, (beam, rgb) in enumerate(zip(beams, BEAM_COLOURS)):
        th = angles[beam]
        m = _marker(header, "beam", i, Marker.ARROW, rgb)
        m.points = [Point(), Point(x=12.0 * float(np.cos(th)), y=-12.0 * float(np.sin(th)), z=0.0)]
        m.scale.x, m.scale.y, m.scale.z = 0.15, 0.4, 0.4
        out.append(m)
    return out


def guide_markers(header, start, length_m: float, positions, bs: np.ndarray, k: int = 0, pa_ns: str = "pa",
                  rgb=USER_COLOURS[0]) -> list[Marker]:
    """Waveguide ``k`` (a line from ``start`` along +x) and PA spheres (namespace ``pa_ns``) at
    ``positions`` (m from its feed)."""
    start = np.asarray(start, float)
    line = _marker(header, "waveguide", k, Marker.LINE_STRIP, (0.0, 0.0, 1.0), 0.8)
    ends = (to_base(start, bs), to_base(start + [length_m, 0, 0], bs))
    line.points = [Point(x=a, y=b, z=c) for a, b, c in ends]
    line.scale.x = 0.05
    out = [line]
    for n, x in enumerate(positions):
        s = _marker(header, pa_ns, n, Marker.SPHERE, rgb, 1.0)
        s.pose.position.x, s.pose.position.y, s.pose.position.z = to_base(start + [x, 0, 0], bs)
        s.scale.x = s.scale.y = s.scale.z = 0.3
        out.append(s)
    return out
