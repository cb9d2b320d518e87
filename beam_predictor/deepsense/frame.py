"""The typed frame shared by the scenario reader, the bag reader and everything downstream."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class Modality(str, Enum):
    """Sensor streams of a frame; readers can load a subset."""

    CAMERA = "camera"
    LIDAR = "lidar"
    RADAR = "radar"
    POWER = "power"
    GPS = "gps"

    @classmethod
    def parse(cls, names) -> frozenset["Modality"]:
        if names is None:
            return frozenset(cls)
        out = set()
        for n in names:
            try:
                out.add(cls(n) if not isinstance(n, cls) else n)
            except ValueError:
                raise ValueError(f"unknown modality '{n}'; known: {[m.value for m in cls]}") from None
        return frozenset(out)


@dataclass
class Frame:
    """One DeepSense sample: everything unit 1 sensed at one instant, plus the labels.

    Arrays are ``None`` when the modality was not loaded or is absent from the scenario.
    """

    index: int                         # the dataset's own row index
    seq_index: int                     # the pass (sequence) this frame belongs to
    stamp_ns: int                      # header stamp, nanoseconds
    beam: int | None = None            # optimal beam, 1-based (dataset label or argmax + 1)
    power: np.ndarray | None = None    # (64,) float32, linear received power per beam
    power_nan: bool = False            # the power row had NaNs; `beam` came from nanargmax
    # several arrays: each array's own power vector (``power`` is then their down-sampled union)
    array_power: tuple[np.ndarray, ...] = ()
    image_jpeg: bytes | None = None    # camera JPEG, bytes as stored
    lidar: np.ndarray | None = None    # (N, 4) float32: x, y, z, intensity
    radar: np.ndarray | None = None    # (RX, samples, chirps) complex64
    ue_latlon: np.ndarray | None = None   # (2,) float64 latitude, longitude in degrees
    ue_altitude: float = float("nan")
    bs_latlon: np.ndarray | None = None   # (2,) float64, the base station
    # the other users' fixes, by DeepSense unit (3, 4, ...: ``unitN_loc``); None: no fix this frame
    users_latlon: dict[int, np.ndarray | None] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)   # unconsumed CSV columns, verbatim

    @property
    def stamp_s(self) -> float:
        return self.stamp_ns * 1e-9


def best_beam(power: np.ndarray) -> tuple[int, bool]:
    """1-based optimal beam of a power vector, and whether it needed ``nanargmax``.

    Raises ``ValueError`` when every entry is NaN.
    """
    p = np.asarray(power, dtype=np.float64)
    nan = bool(np.isnan(p).any())
    if nan:
        if np.isnan(p).all():
            raise ValueError("every power value is NaN")
        return int(np.nanargmax(p)) + 1, True
    return int(np.argmax(p)) + 1, False
