"""Helpers of the twin tests: small configs and one-frame renders with hand-placed vehicles."""
import numpy as np

from beam_predictor.twin.config import (ArrayConfig, CameraConfig, LidarConfig, PinchingConfig, TrafficConfig,
                                        TwinConfig)
from beam_predictor.twin.traffic import PARK_X, PARK_Y, PassPlan, Track

SMALL = dict(camera=CameraConfig(width=320, height=180),
             lidar=LidarConfig(channels=16, points_per_channel=256))

# A small multi-user twin (paper 003): three passes, the UE and two more users, links at 4 and 8 PAs.
MULTIUSER = TwinConfig(
    passes=3, camera=CameraConfig(width=320, height=180),
    lidar=LidarConfig(channels=4, points_per_channel=32),
    traffic=TrafficConfig(extra_ues=2, pass_half_angle_deg=20.0, speed_mps=(12.0, 15.0)),
    split=(0.34, 0.33, 0.33), pinching=PinchingConfig(pas_grid=(4, 8)))


def twin_config(pattern: str = "tr38901", noise: float = 0.0, ideal_array: bool = False, **kw) -> TwinConfig:
    """Small twin; no measurement noise by default, the shipped array impairments unless ``ideal_array``."""
    errors = dict(phase_error_deg=0.0, gain_error_db=0.0) if ideal_array else {}
    return TwinConfig(passes=1, array=ArrayConfig(noise_power=noise, element_pattern=pattern, **errors),
                      **{**SMALL, **kw})


def render(gen, ue_x: float, lane: float, vx: float = 0.0, blockers=(), condition: str = "day"):
    """Render one frame with the UE antenna above (ue_x, lane) and the given blocker tracks."""
    names = sorted(gen.scene.vehicles)
    tracks = [Track(names[0], "ue", "car", lane, ue_x, vx)]
    for i, (kind, blane, bx) in enumerate(blockers):
        tracks.append(Track(names[1 + i], "blocker", kind, blane, bx, 1e-9))
    for name, x in zip(names[1 + len(blockers):], PARK_X):
        tracks.append(Track(name, "parked", "car", PARK_Y, x, 0.0))
    plan = PassPlan(seq=1, condition=condition, num_frames=1, tracks=tuple(tracks))
    frame, files = next(gen.render_pass(plan, 1, 0.0, "test"))
    return frame, files


def ue_antenna(frame) -> np.ndarray:
    return np.array([float(frame.extras[k]) for k in ("ue_x", "ue_y", "ue_z")])
