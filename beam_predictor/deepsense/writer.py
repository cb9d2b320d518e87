"""Write frames as a DeepSense 6G scenario folder (the layout the reader reads).

Two layouts are supported:

- ``s31``: scenarios 31-34 (``.npy`` radar, ASCII ``.ply`` LiDAR, ``unit1_beam``,
  ``time_stamp`` like ``['11-46-24.617496']``, ``seq_index``, shared ``unit1_loc``);
- ``s9``: scenario 9 (``.mat`` radar and LiDAR, ``unit1_beam_index``, ``unit2_loc_cal``,
  ``time_stamp[UTC]`` like ``['16-45-05-799']``);
- ``s41``: a base station with three arrays (scenario 41: camera, GPS and one power file
  per array, ``unit1_pwr_60ghz_1`` .. ``_3``, from ``Frame.array_power``; ``unit1_beam``
  indexes the joined beams).

The fixture generator and the digital twin write through this class, so whatever they
produce is read back by exactly the code that reads real scenarios.
"""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from beam_predictor.deepsense import files
from beam_predictor.deepsense.frame import Frame

S31_COLUMNS = ("index", "unit1_rgb", "unit1_pwr_60ghz", "unit1_lidar", "unit1_radar", "unit1_loc",
               "unit2_loc", "unit1_beam", "unit1_max_pwr", "time_stamp", "seq_index",
               "unit2_spd_over_grnd_kmph", "unit2_num_sats", "unit2_altitude", "unit2_geo_sep",
               "unit2_mode_fix_type", "unit2_pdop", "unit2_hdop", "unit2_vdop",
               "unit2_interpolated_position")
S9_COLUMNS = ("index", "unit1_rgb", "unit1_pwr_60ghz", "unit1_radar", "unit1_lidar",
              "unit1_beam_index", "unit2_loc_cal", "time_stamp[UTC]")
S41_ARRAYS = 3
S41_COLUMNS = (("index", "unit1_rgb") + tuple(f"unit1_pwr_60ghz_{k}" for k in range(1, S41_ARRAYS + 1))
               + ("unit1_loc", "unit2_loc", "unit1_beam", "time_stamp", "seq_index"))
LAYOUTS = {"s31": S31_COLUMNS, "s9": S9_COLUMNS, "s41": S41_COLUMNS}


def _time_cell(stamp_ns: int, layout: str) -> str:
    t = dt.datetime.fromtimestamp(stamp_ns / 1e9, tz=dt.timezone.utc)
    if layout == "s9":
        return f"['{t:%H-%M-%S}-{t.microsecond // 1000:03d}']"
    return f"['{t:%H-%M-%S}.{t.microsecond:06d}']"


class ScenarioWriter:
    """Append frames to a new scenario folder; use as a context manager."""

    def __init__(self, root: str | Path, layout: str = "s31", name: str = "scenario",
                 extra_columns: tuple[str, ...] = (), ascii_ply: bool = True):
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout '{layout}'; known: {sorted(LAYOUTS)}")
        self.root = Path(root)
        self.layout = layout
        self.ascii_ply = ascii_ply       # DeepSense writes ASCII; binary PLY is ~10x faster to write
        self.columns = LAYOUTS[layout] + tuple(c for c in extra_columns if c not in LAYOUTS[layout])
        self.csv_path = self.root / f"{name}.csv"
        self.count = 0
        self._bs_written = False
        for sub in ("unit1/camera_data", "unit1/mmWave_data", "unit1/lidar_data", "unit1/radar_data",
                    "unit1/GPS_data", "unit2/GPS_data"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._fh = open(self.csv_path, "w", newline="")
        self._csv = csv.DictWriter(self._fh, fieldnames=self.columns)
        self._csv.writeheader()

    def __enter__(self) -> "ScenarioWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def _rel(self, path: Path) -> str:
        return "./" + path.relative_to(self.root).as_posix()

    def add(self, frame: Frame) -> None:
        """Write one frame's files and its CSV row."""
        i = frame.index
        s9 = self.layout == "s9"
        u1, u2 = self.root / "unit1", self.root / "unit2"
        row = {c: frame.extras.get(c, "") for c in self.columns}
        row["index"] = str(i)
        if frame.image_jpeg is not None:
            p = u1 / "camera_data" / f"image_{i}.jpg"
            p.write_bytes(frame.image_jpeg)
            row["unit1_rgb"] = self._rel(p)
        if self.layout == "s41":
            if len(frame.array_power) != S41_ARRAYS:
                raise ValueError(f"layout s41 needs {S41_ARRAYS} arrays' power (Frame.array_power), "
                                 f"frame {i} has {len(frame.array_power)}")
            for k, power in enumerate(frame.array_power, start=1):
                p = u1 / "mmWave_data" / f"mmWave_power_{i}_array{k}.txt"
                files.write_power(p, power)
                row[f"unit1_pwr_60ghz_{k}"] = self._rel(p)
        elif frame.power is not None:
            p = u1 / "mmWave_data" / f"mmWave_power_{i}.txt"
            files.write_power(p, frame.power)
            row["unit1_pwr_60ghz"] = self._rel(p)
            if not s9:
                row["unit1_max_pwr"] = repr(float(np.nanmax(frame.power)))
        if frame.lidar is not None and "unit1_lidar" in self.columns:
            p = u1 / "lidar_data" / f"lidar_{i}.{'mat' if s9 else 'ply'}"
            files.write_lidar(p, frame.lidar, ascii_ply=self.ascii_ply)
            row["unit1_lidar"] = self._rel(p)
        if frame.radar is not None and "unit1_radar" in self.columns:
            p = u1 / "radar_data" / f"radar_{i}.{'mat' if s9 else 'npy'}"
            files.write_radar(p, frame.radar)
            row["unit1_radar"] = self._rel(p)
        if frame.ue_latlon is not None:
            p = u2 / "GPS_data" / f"gps_location_{i}.txt"
            files.write_gps(p, frame.ue_latlon)
            row["unit2_loc_cal" if s9 else "unit2_loc"] = self._rel(p)
        for unit, latlon in frame.users_latlon.items():
            col = f"unit{unit}_loc"
            if col not in self.columns:
                raise ValueError(f"frame {i} has unit {unit}'s fix but the scenario has no column {col}")
            if latlon is not None:
                p = self.root / f"unit{unit}" / "GPS_data" / f"gps_location_{i}.txt"
                p.parent.mkdir(parents=True, exist_ok=True)
                files.write_gps(p, latlon)
                row[col] = self._rel(p)
        if frame.bs_latlon is not None and not s9:
            p = u1 / "GPS_data" / "gps_location.txt"
            if not self._bs_written:
                files.write_gps(p, frame.bs_latlon)
                self._bs_written = True
            row["unit1_loc"] = self._rel(p)
        if frame.beam is not None:
            row["unit1_beam_index" if s9 else "unit1_beam"] = str(frame.beam)
        row["time_stamp[UTC]" if s9 else "time_stamp"] = _time_cell(frame.stamp_ns, self.layout)
        if not s9:
            row["seq_index"] = str(frame.seq_index)
            if frame.ue_altitude == frame.ue_altitude and "unit2_altitude" in self.columns:   # not NaN
                row["unit2_altitude"] = repr(float(frame.ue_altitude))
        self._csv.writerow(row)
        self.count += 1
