"""Vehicle motion of a twin pass: speed profiles, car following and lane changes (pure numpy).

Each moving vehicle's path is integrated at ``SUBSTEPS`` per frame and sampled at the
frame times, as (x, y, vx, vy) rows.  The models, all within the physical limits of
``TrafficConfig`` (``max_accel_mps2``, ``max_decel_mps2``):

* **Speed profile.** The driver picks a new target speed at exponentially distributed
  intervals (mean ``speed_change_s``) from ``speed_mps`` and approaches it with the
  acceleration ``response_per_s`` x (target - v), clipped to the limits.
* **Car following** behind a lead vehicle in the same lane: the Intelligent Driver Model
  (Treiber, Hennecke and Helbing, 2000), with desired speed the follower's initial one,
  time headway ``follow_headway_s``, standstill gap ``follow_gap_m``, comfortable braking
  ``comfort_decel_mps2`` and acceleration exponent 4.  The lead drives a speed profile
  that includes a braking event down to ``lead_brake_to`` of its speed.
* **Lane change** to the neighbouring lane of the same direction, with a minimum-jerk
  lateral blend (10 s^3 - 15 s^4 + 6 s^5) over ``lane_change_s`` seconds.

Written here rather than taken from a traffic simulator (SUMO, CARLA): a pass has at most
four moving vehicles on a straight street, and the twin must stay pure numpy and
deterministic per pass.
"""
from __future__ import annotations

import numpy as np

SUBSTEPS = 10            # integration steps per frame
IDM_DELTA = 4.0          # acceleration exponent of the IDM


def speed_profile(v0: float, duration_s: float, dt: float, tc, rng: np.random.Generator,
                  brake_to: float | None = None) -> np.ndarray:
    """Speed at every step (``duration_s / dt + 1`` values) of a driver changing target speed.

    ``brake_to`` (a fraction) adds one braking event: the target drops to that share of the
    current speed at a random moment of the first half and recovers after 2-5 s.
    """
    n = int(np.ceil(duration_s / dt)) + 1
    lo, hi = tc.speed_mps
    draws = max(1, int(duration_s / tc.speed_change_s) * 3 + 3)
    changes = np.cumsum(rng.exponential(tc.speed_change_s, size=draws))
    targets = rng.uniform(lo, hi, size=changes.size)
    brake = None
    if brake_to is not None:
        start = float(rng.uniform(0.1, 0.5)) * duration_s
        brake = (start, start + float(rng.uniform(2.0, 5.0)), brake_to)
    v = np.empty(n)
    v[0] = v0
    target, j = v0, 0
    for i in range(1, n):
        t = i * dt
        while j < changes.size and changes[j] <= t:
            target = targets[j]
            j += 1
        goal = target
        if brake is not None and brake[0] <= t < brake[1]:
            goal = brake[2] * v0
        a = np.clip(tc.response_per_s * (goal - v[i - 1]), -tc.max_decel_mps2, tc.max_accel_mps2)
        v[i] = max(0.0, v[i - 1] + a * dt)
    return v


def idm_follow(lead_x: np.ndarray, lead_v: np.ndarray, x0: float, v0: float, direction: int,
               dt: float, tc) -> tuple[np.ndarray, np.ndarray]:
    """Position and speed of a follower behind a lead (positions along x, signed by ``direction``)."""
    n = lead_x.size
    x, v = np.empty(n), np.empty(n)
    x[0], v[0] = x0, v0
    desired = max(v0, 1.0)
    for i in range(1, n):
        gap = max(direction * (lead_x[i - 1] - x[i - 1]) - tc.vehicle_length_m, 0.1)
        dv = v[i - 1] - lead_v[i - 1]
        brake = 2 * np.sqrt(tc.max_accel_mps2 * tc.comfort_decel_mps2)
        s_star = tc.follow_gap_m + max(0.0, v[i - 1] * tc.follow_headway_s + v[i - 1] * dv / brake)
        a = tc.max_accel_mps2 * (1 - (v[i - 1] / desired) ** IDM_DELTA - (s_star / gap) ** 2)
        a = float(np.clip(a, -tc.max_decel_mps2, tc.max_accel_mps2))
        v[i] = max(0.0, v[i - 1] + a * dt)
        x[i] = x[i - 1] + direction * v[i] * dt
    return x, v


def lane_change(t: np.ndarray, start_s: float, duration_s: float, y_from: float, y_to: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Lateral position and speed of a minimum-jerk lane change at times ``t``."""
    s = np.clip((t - start_s) / duration_s, 0.0, 1.0)
    y = y_from + (y_to - y_from) * (10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5)
    ds = np.where((s > 0) & (s < 1), (30 * s ** 2 - 60 * s ** 3 + 30 * s ** 4) / duration_s, 0.0)
    return y, (y_to - y_from) * ds


def integrate(x0: float, direction: int, speed: np.ndarray, dt: float) -> np.ndarray:
    """Positions along x from a speed series (trapezoidal)."""
    steps = direction * (speed[1:] + speed[:-1]) / 2 * dt
    return x0 + np.concatenate([[0.0], np.cumsum(steps)])


def sample(x: np.ndarray, y: np.ndarray, vx: np.ndarray, vy: np.ndarray, num_frames: int) -> np.ndarray:
    """(num_frames, 4) rows x, y, vx, vy at the frame times from a SUBSTEPS-per-frame series."""
    idx = np.arange(num_frames) * SUBSTEPS
    idx = np.minimum(idx, x.size - 1)
    return np.stack([x[idx], y[idx], vx[idx], vy[idx]], axis=1)
