"""Traffic of one pass: the UE car, moving blockers (cars or trucks) and parked cars (pure numpy).

Lanes south of the street centre (y < 0) drive east (+x), those north of it drive west.
The UE drives through the base station's field of view; every moving blocker is timed to
cross the base-station -> UE line of sight at a random moment of the pass when its lane
lies between them, so passes contain real NLoS stretches.  Vehicles that are not used
stand parked along the north kerb.

Each pass draws the UE's behaviour from ``traffic.motion`` (:mod:`beam_predictor.twin.motion`):
``constant`` (every vehicle at a constant speed), ``speed_profile`` (accelerating and
braking), ``follow`` (behind a braking lead in its lane) or ``lane_change``.  The
behaviour and its details come from a stream of their own, so the ``constant`` preset
draws exactly the passes of the constant-velocity twin.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from beam_predictor.config import ConfigError
from beam_predictor.twin import motion
from beam_predictor.twin.config import TrafficConfig

PARK_X, PARK_Y = TrafficConfig().park_x, TrafficConfig.park_y   # the defaults of traffic.park_x/park_y


@dataclass(frozen=True, eq=False)
class Track:
    name: str            # scene object
    role: str            # "ue" | "blocker" | "lead" | "parked"
    kind: str            # "car" | "truck"
    lane_y: float        # lane at t = 0
    x0: float            # x at t = 0
    vx: float            # signed speed along x at t = 0
    path: np.ndarray | None = None     # (frames, 4) x, y, vx, vy per frame; None: constant velocity

    def x(self, t: float) -> float:
        """x at time ``t`` of a constant-velocity track."""
        return self.x0 + self.vx * t

    def state(self, k: int, t: float) -> tuple[float, float, float, float]:
        """(x, y, vx, vy) at frame ``k`` (time ``t``)."""
        if self.path is None:
            return self.x(t), self.lane_y, self.vx, 0.0
        row = self.path[min(k, len(self.path) - 1)]
        return float(row[0]), float(row[1]), float(row[2]), float(row[3])

    def __eq__(self, other) -> bool:
        if not isinstance(other, Track):
            return NotImplemented
        same = (self.name, self.role, self.kind, self.lane_y, self.x0, self.vx) == \
            (other.name, other.role, other.kind, other.lane_y, other.x0, other.vx)
        if self.path is None or other.path is None:
            return same and self.path is other.path
        return same and np.array_equal(self.path, other.path)

    __hash__ = None

    @property
    def moving(self) -> bool:
        return self.path is not None or self.vx != 0.0


@dataclass(frozen=True)
class PassPlan:
    seq: int
    condition: str
    num_frames: int
    tracks: tuple[Track, ...]
    behaviour: str = "constant"

    @property
    def ue(self) -> Track:
        return next(tr for tr in self.tracks if tr.role == "ue")

    @property
    def users(self) -> tuple[Track, ...]:
        """The UE first, then the other users (``traffic.extra_ues``) in their DeepSense units' order."""
        return (self.ue,) + tuple(tr for tr in self.tracks if tr.role == "user")


def lane_direction(lane_y: float) -> int:
    return 1 if lane_y < 0 else -1


def pass_extent(cfg, lane_y: float) -> float:
    """Half length of a pass along x: where the UE leaves ``pass_half_angle_deg`` off boresight."""
    bs = cfg.array.position
    perp = np.hypot(lane_y - bs[1], bs[2] - cfg.traffic.ue_antenna_height)
    return float(perp * np.tan(np.radians(cfg.traffic.pass_half_angle_deg)))


def plan_pass(seq: int, cfg, vehicle_names, bs_xy, rng: np.random.Generator,
              motion_rng: np.random.Generator | None = None,
              users_rng: np.random.Generator | None = None) -> PassPlan:
    """Draw one pass; ``cfg`` is the twin config, ``vehicle_names`` the scene's movable cars.

    ``motion_rng`` draws the behaviour and its details (none: every pass is ``constant``);
    ``users_rng`` the ``traffic.extra_ues`` other users (their own stream, so a twin without
    them draws exactly the same passes).
    """
    tc = cfg.traffic
    names = sorted(vehicle_names)
    lanes = list(tc.lanes_y)
    ue_lane = float(rng.choice(list(tc.ue_lanes)))
    direction = lane_direction(ue_lane)
    speed = float(rng.uniform(*tc.speed_mps))
    extent = pass_extent(cfg, ue_lane)
    behaviour = "constant"
    if motion_rng is not None:
        shares = tc.shares()
        keys = sorted(shares)
        weights = np.array([shares[k] for k in keys], dtype=float)
        behaviour = str(motion_rng.choice(keys, p=weights / weights.sum()))
    x_start = bs_xy[0] - direction * extent
    if behaviour == "constant":
        duration = 2 * extent / speed
        num_frames = int(np.floor(duration * cfg.frame_rate_hz)) + 1
        ue = Track(names[0], "ue", "car", ue_lane, x_start, direction * speed)
        lead = None
    else:
        ue, lead, num_frames = _moving_ue(names, cfg, behaviour, ue_lane, x_start, speed, extent, motion_rng)
        duration = (num_frames - 1) / cfg.frame_rate_hz
    tracks = [ue] + ([lead] if lead is not None else [])
    if tc.extra_ues:
        tracks += _extra_users(tc, [n for n in names if n not in {tr.name for tr in tracks}], ue_lane, bs_xy,
                               duration, users_rng if users_rng is not None else np.random.default_rng(seq))
    taken = {ue_lane} | {tr.lane_y for tr in tracks if tr.role == "user"}
    pool = [n for n in names if n not in {tr.name for tr in tracks}]
    n_blockers = int(rng.integers(0, tc.max_blockers + 1))
    between = [y for y in lanes if y not in taken and min(bs_xy[1], ue_lane) < y < max(bs_xy[1], ue_lane)]
    others = [y for y in lanes if y not in taken and y not in between]
    free_lanes = list(rng.permutation(between)) + list(rng.permutation(others))
    for name in pool[:min(n_blockers, len(free_lanes))]:
        lane = float(free_lanes.pop(0))
        kind = "truck" if rng.random() < tc.truck_probability else "car"
        v = lane_direction(lane) * float(rng.uniform(*tc.speed_mps))
        t_meet = float(rng.uniform(0.2, 0.8)) * duration
        if behaviour == "constant":
            frac = (lane - bs_xy[1]) / (ue_lane - bs_xy[1])
            x_cross = bs_xy[0] + (ue.x(t_meet) - bs_xy[0]) * frac
            tracks.append(Track(name, "blocker", kind, lane, x_cross - v * t_meet, v))
        else:
            tracks.append(_moving_blocker(name, kind, lane, v, t_meet, ue, bs_xy, num_frames, cfg,
                                          motion_rng))
    used = {tr.name for tr in tracks}
    for name, x in zip([n for n in names if n not in used], tc.park_x):
        tracks.append(Track(name, "parked", "car", tc.park_y, x, 0.0))
    condition = str(rng.choice(list(tc.conditions)))
    return PassPlan(seq=seq, condition=condition, num_frames=num_frames, tracks=tuple(tracks),
                    behaviour=behaviour)


def _extra_users(tc, names, ue_lane: float, bs_xy, duration: float, rng: np.random.Generator) -> list[Track]:
    """The other users of a multi-user pass: cars at constant speed, each in a lane of its own,
    each passing the base station at a random moment of the middle half of the pass."""
    lanes = ([y for y in tc.ue_lanes if y != ue_lane]
             + [y for y in tc.lanes_y if y != ue_lane and y not in tc.ue_lanes])
    if tc.extra_ues > len(lanes) or tc.extra_ues > len(names):
        raise ConfigError(f"traffic.extra_ues = {tc.extra_ues}: the street has {len(lanes)} free lanes and "
                          f"{len(names)} free cars")
    out = []
    for name, lane in zip(names, list(rng.permutation(lanes[:tc.extra_ues]))):
        v = lane_direction(float(lane)) * float(rng.uniform(*tc.speed_mps))
        t_cross = float(rng.uniform(0.25, 0.75)) * duration
        out.append(Track(name, "user", "car", float(lane), bs_xy[0] - v * t_cross, v))
    return out


def _moving_ue(names, cfg, behaviour: str, lane: float, x_start: float, speed: float, extent: float,
               rng: np.random.Generator):
    """The UE track (and a lead vehicle for ``follow``) of a non-constant pass, and its frames."""
    tc = cfg.traffic
    direction = lane_direction(lane)
    dt = 1.0 / (cfg.frame_rate_hz * motion.SUBSTEPS)
    horizon = tc.max_pass_s
    t = np.arange(int(np.ceil(horizon / dt)) + 1) * dt
    y, vy = np.full(t.size, lane), np.zeros(t.size)
    lead = None
    if behaviour == "follow":
        lead_v0 = speed * float(rng.uniform(0.8, 1.0))
        lead_v = motion.speed_profile(lead_v0, horizon, dt, tc, rng, brake_to=tc.lead_brake_to)[:t.size]
        gap = (tc.follow_gap_m + speed * tc.follow_headway_s + float(rng.uniform(*tc.follow_start_gap_m))
               + tc.vehicle_length_m)
        lead_x = motion.integrate(x_start + direction * gap, direction, lead_v, dt)
        x, v = motion.idm_follow(lead_x, lead_v, x_start, speed, direction, dt, tc)
        lead = (lead_x, lead_v)
    else:
        v = motion.speed_profile(speed, horizon, dt, tc, rng)[:t.size]
        x = motion.integrate(x_start, direction, v, dt)
        if behaviour == "lane_change":
            same = sorted((o for o in tc.lanes_y if lane_direction(o) == direction and o != lane),
                          key=lambda o: abs(o - lane))
            if same:
                start = float(rng.uniform(0.15, 0.6)) * 2 * extent / speed
                y, vy = motion.lane_change(t, start, float(rng.uniform(*tc.lane_change_s)), lane, same[0])
    past = np.nonzero(direction * (x - (x_start + 2 * direction * extent)) >= 0)[0]
    end = past[0] if past.size else t.size - 1
    num_frames = int(end // motion.SUBSTEPS) + 1
    ue_path = motion.sample(x, y, direction * v, vy, num_frames)
    ue = Track(names[0], "ue", "car", lane, float(x_start), float(direction * speed), path=ue_path)
    if lead is not None:
        lx, lv = lead
        path = motion.sample(lx, np.full(t.size, lane), direction * lv, np.zeros(t.size), num_frames)
        lead = Track(names[1], "lead", "car", lane, float(lx[0]), float(direction * lv[0]), path=path)
    return ue, lead, num_frames


def _moving_blocker(name: str, kind: str, lane: float, v: float, t_meet: float, ue: Track, bs_xy,
                    num_frames: int, cfg, rng: np.random.Generator) -> Track:
    """A blocker on a speed profile, timed to cross the base-station -> UE line at ``t_meet``."""
    direction = lane_direction(lane)
    dt = 1.0 / (cfg.frame_rate_hz * motion.SUBSTEPS)
    duration = (num_frames - 1) / cfg.frame_rate_hz
    speed = motion.speed_profile(abs(v), duration, dt, cfg.traffic, rng)
    disp = motion.integrate(0.0, direction, speed, dt)
    k_meet = int(round(t_meet * cfg.frame_rate_hz))
    ue_x, ue_y = ue.state(k_meet, t_meet)[:2]
    frac = (lane - bs_xy[1]) / (ue_y - bs_xy[1])
    x_cross = bs_xy[0] + (ue_x - bs_xy[0]) * frac
    x = x_cross - disp[min(k_meet * motion.SUBSTEPS, disp.size - 1)] + disp
    path = motion.sample(x, np.full(x.size, lane), direction * speed, np.zeros(x.size), num_frames)
    return Track(name, "blocker", kind, lane, float(x[0]), float(direction * speed[0]), path=path)
