"""Configuration of the ray-traced V2I digital twin (config/twin.yaml; one dataclass per part).

Coordinates are the scene's: x east along the street, y north across it, z up (metres).
The base station stands on the south side of the street and faces north (+y).
Sensor extrinsics are offsets from the base-station array centre, axes aligned with the
base-station frame (x right/east, y forward/north, z up).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from beam_predictor.config import ConfigError
from beam_predictor.twin.gps import resolve
from beam_predictor.twin.scenes import SCENES


@dataclass(frozen=True)
class ArrayConfig:
    """Unit 1's phased array and channel measurement."""

    position: tuple[float, ...] = (0.0, -8.0, 5.0)    # array centre, on the facade south of the street
    tilt_deg: float = 18.0                               # element boresight below the horizon
    frequency_hz: float = 60e9
    num_antennas: int = 16                               # half-wavelength ULA along x
    num_beams: int = 64
    fov_deg: float = 90.0                                # codebook spans +-fov/2 around +y
    bandwidth_hz: float = 100e6
    num_subcarriers: int = 32
    tx_power_scale: float = 3.0e5      # maps channel gain |h|^2 to DeepSense-like linear units
    # Measurement noise and static array impairments; these three were set so that the twin's
    # peak power, sidelobe level and dynamic range match the real scenario-17 files
    # (scripts/twin_realism.py, README "Realism").
    noise_power: float = 1.0e-4        # per-subcarrier measurement noise (same units)
    phase_error_deg: float = 25.0      # static per-element phase error of the phased array (1 sigma)
    gain_error_db: float = 1.5         # static per-element gain error (1 sigma)
    # the errors are the hardware's: the same draw in every scenario of the site, whatever its seed
    impairment_seed: int = 0
    max_depth: int = 2
    samples_per_src: int = 10000
    element_pattern: str = "tr38901"   # Sionna pattern of each array element ("iso" for tests)
    store_subcarriers: bool = True     # also store the (F, N) per-subcarrier channel, not only its mean


@dataclass(frozen=True)
class CameraConfig:
    offset: tuple[float, ...] = (0.0, 0.0, 0.3)
    width: int = 960
    height: int = 540
    hfov_deg: float = 90.0
    pitch_deg: float = -18.0         # negative looks down
    jpeg_quality: int = 85


@dataclass(frozen=True)
class LidarConfig:
    offset: tuple[float, ...] = (0.0, 0.0, 0.6)
    channels: int = 32
    points_per_channel: int = 512
    hfov_deg: float = 180.0          # front half-space
    vfov_deg: tuple[float, ...] = (-25.0, 5.0)
    range_noise_m: float = 0.01
    max_range_m: float = 80.0


@dataclass(frozen=True)
class RadarConfig:
    """FMCW radar (TI-style, 4 RX); documented in twin/radar.py."""

    offset: tuple[float, ...] = (0.0, 0.0, -0.3)
    carrier_hz: float = 77e9
    num_rx: int = 4
    num_samples: int = 256
    num_chirps: int = 128
    sample_rate_hz: float = 10e6
    slope_hz_per_s: float = 24e12           # 24 MHz/us
    chirp_period_s: float = 35e-6
    noise_std: float = 1e-4
    max_depth: int = 1
    samples_per_src: int = 8000
    vehicle_scattering: float = 0.5         # diffuse scattering coefficient of vehicle bodies


BEHAVIOURS = ("constant", "speed_profile", "follow", "lane_change")
MOTION_PRESETS = {
    "constant": {"constant": 1.0},
    "realistic": {"constant": 0.1, "speed_profile": 0.3, "follow": 0.3, "lane_change": 0.3},
}


@dataclass(frozen=True)
class TrafficConfig:
    """Passes of the UE car and the other vehicles."""

    lanes_y: tuple[float, ...] = (-5.0, -1.7, 1.7, 5.0)   # lane centres; south two drive east
    ue_lanes: tuple[float, ...] = (-1.7, 1.7, 5.0)        # the UE avoids the kerb lane (blockers use it)
    pass_half_angle_deg: float = 55.0     # a pass spans the UE's view from -55 to +55 deg off boresight
    speed_mps: tuple[float, ...] = (5.0, 20.0)
    max_blockers: int = 2                                   # other moving vehicles per pass
    extra_ues: int = 0                  # other users served at once (paper 003), DeepSense units 3, 4, ...
    truck_probability: float = 0.5                          # a blocker is a truck (else a car)
    truck_scale: tuple[float, ...] = (2.2, 1.35, 2.7)       # car mesh scaled to a truck
    ue_antenna_height: float = 1.7
    park_y: float = 7.8                                     # parked cars along this kerb line, at park_x
    park_x: tuple[float, ...] = (-36.0, -24.0, -12.0, 0.0, 12.0, 24.0, 36.0)
    conditions: tuple[str, ...] = ("day", "day", "dusk", "night", "rain")
    # Motion (twin/motion.py).  ``motion`` names a preset of the UE's behaviour shares:
    # "constant" (every vehicle at a constant speed, the twin's first benchmark), "realistic",
    # or "custom" (the shares in ``behaviours``).  Outside "constant" passes, blockers and the
    # lead drive speed profiles too.
    motion: str = "realistic"
    behaviours: dict = field(default_factory=dict)          # custom shares: behaviour -> weight
    max_accel_mps2: float = 2.5                             # physical limits of every vehicle
    max_decel_mps2: float = 6.0
    comfort_decel_mps2: float = 2.0
    response_per_s: float = 0.8                             # speed-profile approach rate to the target
    speed_change_s: float = 1.5                             # mean time between target-speed changes
    follow_headway_s: float = 1.2                           # IDM time headway and standstill gap
    follow_gap_m: float = 2.0
    follow_start_gap_m: tuple[float, ...] = (0.0, 8.0)      # the lead starts this much beyond the IDM gap
    lead_brake_to: float = 0.3                              # the lead brakes to this share of its speed
    vehicle_length_m: float = 4.5
    lane_change_s: tuple[float, ...] = (2.5, 5.0)           # duration of a lane change
    max_pass_s: float = 30.0                                # a pass ends here even if the UE is still in view

    def __post_init__(self):
        if self.motion not in MOTION_PRESETS and self.motion != "custom":
            raise ConfigError(f"traffic.motion: unknown preset '{self.motion}'; known: "
                              f"{sorted(MOTION_PRESETS) + ['custom']}")
        shares = self.shares()
        unknown = sorted(set(shares) - set(BEHAVIOURS))
        if unknown or not shares or min(shares.values()) < 0 or sum(shares.values()) <= 0:
            raise ConfigError(f"traffic.behaviours: {dict(shares)} needs non-negative weights of "
                              f"{list(BEHAVIOURS)} (unknown: {unknown})")

    def shares(self) -> dict[str, float]:
        """The UE behaviour weights this config draws passes from."""
        return dict(self.behaviours) if self.motion == "custom" else dict(MOTION_PRESETS[self.motion])


@dataclass(frozen=True)
class GpsConfig:
    origin_lat: float = 33.4207          # the base station
    origin_lon: float = -111.9289
    origin_alt: float = 350.0
    # The receiver's errors (twin/gps.py): a preset ("rtk", "standard", "degraded") sets the
    # fields below; "custom" takes them as written.
    preset: str = "rtk"
    noise_m: float = 0.02                 # white noise per axis (1 sigma) at the nominal HDOP
    bias_m: float = 0.0                   # drifting bias: stationary sigma per axis
    bias_tau_s: float = 60.0              # and its correlation time
    latency_frames: int = 0               # a fix describes the position this many frames earlier
    dropout_rate: float = 0.0             # probability per frame that an outage starts
    dropout_mean_frames: float = 5.0      # mean outage length
    dropout_nan_share: float = 0.5        # outages written as a NaN fix (else no file)
    hdop: float = 0.7                     # nominal HDOP
    hdop_wander: float = 0.1              # log-normal wander of the HDOP
    hdop_2d: float = 2.5                  # fix type "2D" above this HDOP

    def __post_init__(self):
        resolve(self)


@dataclass(frozen=True)
class PinchingConfig:
    """Roadside dielectric waveguide with pinching antennas (LLM-PASS, paper 003)."""

    start: tuple[float, ...] = (-20.0, -7.5, 5.0)   # feed point; the waveguide runs along +x
    length_m: float = 40.0
    effective_index: float = 1.4
    num_pas: int = 4
    min_spacing_m: float = 0.003      # above half a wavelength (2.5 mm) against mutual coupling
    num_codewords: int = 32
    target_y: float = 0.0                 # codeword focus line across the street
    target_z: float = 1.7
    # Multi-user PASS (physics/pass_system.py): parallel waveguides, one RF chain each, and
    # the PA counts whose links the twin stores for every user (``unit1_pass_mu``).
    num_waveguides: int = 4
    waveguide_spacing_m: float = 0.25     # the next waveguide runs this much further from the street
    pas_grid: tuple[int, ...] = (4, 8, 16)
    # The generated codebook (paper 003, eqs. 26-27; physics/pass_codebook.py, `beam-predictor
    # pass-codebook`): PA count -> (waveguides, codewords, PAs) positions in metres from each feed.
    # {} = the geometric codebook.  Only the multi-user links (unit1_pass_mu) use it.
    codebook_positions: dict = field(default_factory=dict)
    codebook_targets: tuple = ()          # its (waveguides, codewords, 3) focus points; () = geometric


@dataclass(frozen=True)
class TwinConfig:
    seed: int = 0
    scene: str = "street_canyon"                      # twin/scenes.py: street_canyon | boulevard
    # ITU materials without parameters at the carrier, and what to render them with
    scene_materials: dict = field(default_factory=lambda: {"brick": "concrete", "marble": "concrete"})
    passes: int = 120
    frame_rate_hz: float = 10.0
    split: tuple[float, ...] = (0.7, 0.15, 0.15)     # train/val/test fractions of passes
    lidar_ascii: bool = True                          # DeepSense writes ASCII PLY
    # Dr.Jit threads of each rendering process.  1 makes a pass the same bytes in every run
    # and process (the ray tracer's multi-threaded kernels differ in the last float32 bits
    # from run to run); use --workers for parallelism.  More is faster in one process only.
    render_threads: int = 1                          # 0: Dr.Jit's default (one per core)
    array: ArrayConfig = field(default_factory=ArrayConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    lidar: LidarConfig = field(default_factory=LidarConfig)
    radar: RadarConfig = field(default_factory=RadarConfig)
    traffic: TrafficConfig = field(default_factory=TrafficConfig)
    gps: GpsConfig = field(default_factory=GpsConfig)
    pinching: PinchingConfig = field(default_factory=PinchingConfig)

    def __post_init__(self):
        if self.scene not in SCENES:
            raise ConfigError(f"scene: unknown scene '{self.scene}'; known: {list(SCENES)}")
        if self.traffic.extra_ues:
            from beam_predictor.physics.pass_system import check_users
            check_users(1 + self.traffic.extra_ues, self.pinching.num_waveguides)
