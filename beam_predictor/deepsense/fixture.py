"""Programmatic fixture scenarios in the DeepSense layout (tests, benchmarks, first demo).

A car drives past a base station on a straight lane.  Every modality is derived from
its true position, so the files are consistent with each other, but the physics is
deliberately simple: the beam power is the array factor of a 16-element half-wavelength
ULA toward the line-of-sight angle with 1/d^2 loss and a noise floor; the radar cube is
one point target; the LiDAR is a ground plane plus the car's box; the camera a drawn
scene.  The ray-traced digital twin (``beam_predictor.twin``) is the realistic source.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beam_predictor import contract
from beam_predictor.deepsense.frame import Frame, best_beam
from beam_predictor.deepsense.writer import S41_ARRAYS, ScenarioWriter
from beam_predictor.physics.geo import enu_to_latlon


@dataclass(frozen=True)
class FixtureConfig:
    """A fixture scenario (config/fixture.yaml)."""

    layout: str = "s31"             # "s31" (scenarios 31-34), "s9" or "s41" (three arrays, camera + GPS)
    passes: int = 2
    frames_per_pass: int = 20
    image_width: int = 320
    image_height: int = 180
    jpeg_quality: int = 85
    lidar_points: int = 2000
    radar_chirps: int = 128
    lane_offset_m: float = 12.0     # distance of the lane from the base station
    half_length_m: float = 25.0     # the pass runs from -half_length to +half_length
    speed_mps: float = 10.0
    pass_gap_s: float = 20.0        # time between the end of a pass and the start of the next
    origin_lat: float = 33.4207     # base-station position
    origin_lon: float = -111.9289
    noise_floor: float = 3e-5       # linear power floor, like the real scenario 17 files
    nan_power_every: int = 0        # every Nth frame gets a NaN power entry (0: never)
    seed: int = 0


def _array_factor(theta: float, n_ant: int = contract.NUM_ANTENNAS,
                  num_beams: int = contract.NUM_BEAMS) -> np.ndarray:
    """Normalised beamforming gain of each of ``num_beams`` codebook beams toward angle ``theta``."""
    beams = np.asarray(contract.codebook_angles_rad(num_beams))
    n = np.arange(n_ant)[:, None]
    phase = np.pi * n * (np.sin(theta) - np.sin(beams))[None, :]
    return np.abs(np.exp(1j * phase).sum(axis=0)) ** 2 / n_ant ** 2


def _jpeg(cfg: FixtureConfig, theta: float, dist: float, rng) -> bytes:
    from PIL import Image, ImageDraw
    w, h = cfg.image_width, cfg.image_height
    img = Image.new("RGB", (w, h), (135, 170, 210))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, h // 2, w, h], fill=(90, 90, 95))
    f = w / (2 * math.tan(math.radians(contract.CODEBOOK_FOV_DEG / 2)))
    cx = w / 2 + f * math.tan(theta)
    size = f * 4.5 / max(dist, 1.0)
    draw.rectangle([cx - size / 2, h * 0.6 - size / 4, cx + size / 2, h * 0.6 + size / 4],
                   fill=tuple(int(v) for v in rng.integers(60, 230, 3)))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=cfg.jpeg_quality)
    return buf.getvalue()


def _lidar(cfg: FixtureConfig, east: float, north: float, rng) -> np.ndarray:
    n_car = cfg.lidar_points // 8
    n_ground = cfg.lidar_points - n_car
    ground = np.column_stack([rng.uniform(-40, 40, n_ground), rng.uniform(0, 40, n_ground),
                              np.full(n_ground, -5.0) + rng.normal(0, 0.02, n_ground),
                              rng.integers(5, 40, n_ground)])
    car = np.column_stack([east + rng.uniform(-2.2, 2.2, n_car), north + rng.uniform(-0.9, 0.9, n_car),
                           -5.0 + rng.uniform(0, 1.5, n_car), rng.integers(80, 250, n_car)])
    return np.vstack([ground, car]).astype(np.float32)


def _radar(cfg: FixtureConfig, theta: float, dist: float, radial_v: float, rng) -> np.ndarray:
    rx = np.arange(contract.RADAR_NUM_RX)[:, None, None]
    s = np.arange(contract.RADAR_NUM_SAMPLES)[None, :, None]
    c = np.arange(cfg.radar_chirps)[None, None, :]
    beat = 0.5 * dist / 60.0             # cycles per sample; 60 m maps to Nyquist
    doppler = 0.5 * radial_v / 20.0      # cycles per chirp; 20 m/s maps to Nyquist
    phase = 2 * np.pi * (beat * s + doppler * c) + np.pi * rx * np.sin(theta)
    shape = (contract.RADAR_NUM_RX, contract.RADAR_NUM_SAMPLES, cfg.radar_chirps)
    noise = (rng.normal(0, 0.05, shape) + 1j * rng.normal(0, 0.05, shape))
    return (np.exp(1j * phase) + noise).astype(np.complex64)


def fixture_frames(cfg: FixtureConfig):
    """Yield the fixture's frames in order (pass by pass, 10 Hz)."""
    rng = np.random.default_rng(cfg.seed)
    bs = np.array([cfg.origin_lat, cfg.origin_lon])
    t0 = 10 * 3600.0      # 10:00:00 on the reader's default date
    index = 1
    for p in range(cfg.passes):
        direction = 1 if p % 2 == 0 else -1
        start = t0 + p * (cfg.frames_per_pass / contract.FRAME_RATE_HZ + cfg.pass_gap_s)
        for k in range(cfg.frames_per_pass):
            t = k / contract.FRAME_RATE_HZ
            east = direction * (-cfg.half_length_m + cfg.speed_mps * t)
            north = cfg.lane_offset_m + 3.5 * (p % 2)
            dist = math.hypot(east, north)
            theta = math.atan2(east, north)
            radial_v = direction * cfg.speed_mps * east / dist
            # s41: three arrays of 64 beams, here thirds of one oversampled 192-beam codebook
            beams = contract.NUM_BEAMS * (S41_ARRAYS if cfg.layout == "s41" else 1)
            power = (_array_factor(theta, num_beams=beams) * (cfg.lane_offset_m / dist) ** 2 * 1e-2
                     + cfg.noise_floor * rng.uniform(0.5, 1.5, beams)).astype(np.float32)
            if cfg.nan_power_every and index % cfg.nan_power_every == 0:
                power[int(rng.integers(beams))] = np.nan
            extras = {}
            if cfg.layout == "s31":
                extras = {"unit2_spd_over_grnd_kmph": f"{cfg.speed_mps * 3.6:.2f}", "unit2_num_sats": "12",
                          "unit2_geo_sep": "-26.9", "unit2_mode_fix_type": "3D", "unit2_pdop": "1.2",
                          "unit2_hdop": "0.7", "unit2_vdop": "1.0", "unit2_interpolated_position": "0"}
            arrays = tuple(np.split(power, S41_ARRAYS)) if cfg.layout == "s41" else ()
            yield Frame(
                index=index, seq_index=p + 1, stamp_ns=int(round((start + t) * 1e9)),
                beam=best_beam(power)[0], power=None if arrays else power, array_power=arrays,
                image_jpeg=_jpeg(cfg, theta, dist, rng), lidar=_lidar(cfg, east, north, rng),
                radar=_radar(cfg, theta, dist, radial_v, rng),
                ue_latlon=enu_to_latlon(east, north, bs), ue_altitude=350.0 + 0.01 * k,
                bs_latlon=bs, extras=extras)
            index += 1


def write_fixture(out: str | Path, cfg: FixtureConfig | None = None, progress: bool = True) -> Path:
    """Write a fixture scenario folder; returns its CSV path."""
    cfg = cfg or FixtureConfig()
    total = cfg.passes * cfg.frames_per_pass
    with ScenarioWriter(out, layout=cfg.layout) as writer:
        for frame in tqdm(fixture_frames(cfg), total=total, desc="fixture", unit="frame",
                          disable=not progress):
            writer.add(frame)
    return writer.csv_path
