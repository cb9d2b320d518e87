"""Configuration of the sensing stage: per-modality preprocessing and encoders (config/sensing.yaml).

The defaults are the CPU-sized setting.  The paper-sized setting (224 px images, a
full-width ResNet-18) is ``config/sensing_paper.yaml``: one config away.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImagePrepConfig:
    size: int = 112                                  # square input side (paper: 224)
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)  # ImageNet statistics (paper eq. 4)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    min_std: float = 2.0        # an image whose pixel std (0-255) is below this is "black": missing


@dataclass(frozen=True)
class RadarPrepConfig:
    angle_bins: int = 64        # antenna axis zero-padded from 4 to this (paper eq. 6)
    range_bins: int = 128       # nearest range bins kept (0.24 m each with the twin's chirp)
    remove_static: bool = True  # subtract the mean over chirps (MTI): static clutter leaves the map


@dataclass(frozen=True)
class LidarPrepConfig:
    grid: int = 64                                   # histogram cells per side
    x_range: tuple[float, ...] = (-40.0, 40.0)       # LiDAR frame, metres
    y_range: tuple[float, ...] = (0.0, 40.0)
    clip: int = 5               # counts per cell are clipped to this and divided by it (eq. 8)


@dataclass(frozen=True)
class EncoderConfig:
    feature_dim: int = 64       # M: every encoder's output size
    image_width: int = 16       # ResNet-18 base width (paper: 64, the standard ResNet-18)
    lidar_width: int = 16       # ResNet-style LiDAR encoder base width
    radar_channels: tuple[int, ...] = (16, 32, 64)
    gps_hidden: tuple[int, ...] = (128, 128, 128)


@dataclass(frozen=True)
class SensingConfig:
    image: ImagePrepConfig = field(default_factory=ImagePrepConfig)
    radar: RadarPrepConfig = field(default_factory=RadarPrepConfig)
    lidar: LidarPrepConfig = field(default_factory=LidarPrepConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
