"""Traffic of one pass: the UE car, moving blockers (cars or trucks) and parked cars (pure numpy).

Lanes south of the street centre (y < 0) drive east (+x), those north of it drive west.
The UE drives through the base station's field of view at a constant speed; every moving blocker is timed to
cross the base-station -> UE line of sight at a random moment of the pass when its lane
lies between them, so passes contain real NLoS stretches.  Vehicles that are not used
stand parked along the north kerb.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PARK_Y = 7.8
PARK_X = (-36.0, -24.0, -12.0, 0.0, 12.0, 24.0, 36.0)


@dataclass(frozen=True)
class Track:
    name: str            # scene object
    role: str            # "ue" | "blocker" | "parked"
    kind: str            # "car" | "truck"
    lane_y: float
    x0: float            # x at t = 0
    vx: float            # signed speed along x

    def x(self, t: float) -> float:
        return self.x0 + self.vx * t


@dataclass(frozen=True)
class PassPlan:
    seq: int
    condition: str
    num_frames: int
    tracks: tuple[Track, ...]

    @property
    def ue(self) -> Track:
        return next(tr for tr in self.tracks if tr.role == "ue")


def lane_direction(lane_y: float) -> int:
    return 1 if lane_y < 0 else -1


def pass_extent(cfg, lane_y: float) -> float:
    """Half length of a pass along x: where the UE leaves ``pass_half_angle_deg`` off boresight."""
    bs = cfg.array.position
    perp = np.hypot(lane_y - bs[1], bs[2] - cfg.traffic.ue_antenna_height)
    return float(perp * np.tan(np.radians(cfg.traffic.pass_half_angle_deg)))


def plan_pass(seq: int, cfg, vehicle_names, bs_xy, rng: np.random.Generator) -> PassPlan:
    """Draw one pass; ``cfg`` is the twin config, ``vehicle_names`` the scene's movable cars."""
    tc = cfg.traffic
    names = sorted(vehicle_names)
    lanes = list(tc.lanes_y)
    ue_lane = float(rng.choice(list(tc.ue_lanes)))
    direction = lane_direction(ue_lane)
    speed = float(rng.uniform(*tc.speed_mps))
    extent = pass_extent(cfg, ue_lane)
    duration = 2 * extent / speed
    num_frames = int(np.floor(duration * cfg.frame_rate_hz)) + 1
    ue = Track(names[0], "ue", "car", ue_lane, bs_xy[0] - direction * extent, direction * speed)
    tracks = [ue]
    n_blockers = int(rng.integers(0, tc.max_blockers + 1))
    between = [y for y in lanes if y != ue_lane and min(bs_xy[1], ue_lane) < y < max(bs_xy[1], ue_lane)]
    others = [y for y in lanes if y != ue_lane and y not in between]
    free_lanes = list(rng.permutation(between)) + list(rng.permutation(others))
    for name in names[1:1 + min(n_blockers, len(free_lanes))]:
        lane = float(free_lanes.pop(0))
        kind = "truck" if rng.random() < tc.truck_probability else "car"
        v = lane_direction(lane) * float(rng.uniform(*tc.speed_mps))
        t_meet = float(rng.uniform(0.2, 0.8)) * duration
        frac = (lane - bs_xy[1]) / (ue_lane - bs_xy[1])
        x_cross = bs_xy[0] + (ue.x(t_meet) - bs_xy[0]) * frac
        tracks.append(Track(name, "blocker", kind, lane, x_cross - v * t_meet, v))
    used = {tr.name for tr in tracks}
    for name, x in zip([n for n in names if n not in used], PARK_X):
        tracks.append(Track(name, "parked", "car", PARK_Y, x, 0.0))
    condition = str(rng.choice(list(tc.conditions)))
    return PassPlan(seq=seq, condition=condition, num_frames=num_frames, tracks=tuple(tracks))
