"""Site geometry: where the base station is, where its array points, and its beam codebook.

The base station knows its own pose.  That is what turns a UE's GPS fix into the
direction its array would have to steer to, without learning anything:

* ``bs_latlon``: the array centre (DeepSense ``unit1_loc``; the twin's GPS origin).
* ``heading_deg``: the boresight azimuth, degrees clockwise from north.  The array axis
  points 90 deg clockwise of it (to the right when looking along the boresight), and beam
  ``b`` steers to ``codebook_angles_rad()[b]``, measured from the boresight toward that
  axis (``beam_order`` = -1 when the codebook runs the other way).
* ``array_height_m`` / ``ue_antenna_height_m``: heights above the road.  The UE is seen
  from above, so its direction cosine along the array axis is cos(elevation) x
  sin(azimuth); at 10 m from a 5 m mast that shifts the steering angle by several beams.

* ``camera`` (optional): the base-station camera, :class:`CameraSite`: image size,
  intrinsics (``fx``, ``fy``, ``cx``, ``cy`` in pixels), its offset from the array centre
  (metres along the array axis, the boresight and up) and its pitch and yaw from the
  boresight.  The UE tracker projects GPS fixes into the image with it; a site without
  one uses the tracker's calibration-free association.

A scenario carries its site in one place, in one format: a ``site.yaml`` beside its CSV
(the twin writes one, and the same mapping as the ``site`` section of
``twin_meta.json``; ``beam-predictor site init`` drafts one for a real scenario).  The
base-station fix may come from the CSV's ``unit1_loc`` instead.  :func:`load_site` reads
it and refuses a scenario without one, naming the fields to fill in.

Only geometry lives here.  How the impaired array maps a direction onto its best beam
(squint, sidelobes) is learned from data by the predictor, never read from a config.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from beam_predictor.config import ConfigError, from_mapping, to_mapping
from beam_predictor.physics.camera import PinholeCamera
from beam_predictor.physics.array import CODEBOOK_FOV_DEG, NUM_ANTENNAS, NUM_BEAMS, codebook_angles_rad
from beam_predictor.physics.geo import latlon_to_enu

SITE_FILE = "site.yaml"
BS_TOLERANCE_M = 50.0      # a site file's bs_latlon this far from the scenario's unit1_loc is an error
TWIN_META = "twin_meta.json"
# What each required field means, for the error a scenario without them gets.
REQUIRED = {
    "bs_latlon": "[latitude, longitude] of the array centre in degrees (or a unit1_loc column in the CSV)",
    "heading_deg": "boresight azimuth in degrees clockwise from north",
    "array_height_m": "array centre above the road in metres",
    "ue_antenna_height_m": "UE antenna above the road in metres",
}


class SiteError(ConfigError):
    """A scenario or file without a usable site geometry."""


@dataclass(frozen=True)
class CameraSite:
    """The base-station camera in the site frame (see the module docstring)."""

    width: int                                          # image size in pixels
    height: int
    fx: float                                           # focal lengths and principal point, pixels
    fy: float
    cx: float
    cy: float
    offset_m: tuple[float, ...] = (0.0, 0.0, 0.0)       # from the array centre: along the axis, boresight, up
    pitch_deg: float = 0.0                              # negative looks down
    yaw_deg: float = 0.0                                # from the boresight toward the array axis

    def __post_init__(self):
        if self.width <= 0 or self.height <= 0 or self.fx <= 0 or self.fy <= 0 or len(self.offset_m) != 3:
            raise SiteError(f"site.camera: width/height/fx/fy must be positive and offset_m three numbers, "
                            f"got {self}")

    def pinhole(self, array_height_m: float) -> PinholeCamera:
        """The camera as a :class:`PinholeCamera` in the site frame (array centre at x = y = 0,
        road at z = 0)."""
        hfov = float(np.degrees(2 * np.arctan(self.width / 2 / self.fx)))
        pos = np.array([self.offset_m[0], self.offset_m[1], array_height_m + self.offset_m[2]])
        return PinholeCamera(pos, self.width, self.height, hfov, self.pitch_deg, self.yaw_deg,
                             self.fy, self.cx, self.cy)


@dataclass(frozen=True)
class SiteGeometry:
    bs_latlon: tuple[float, ...]
    heading_deg: float
    array_height_m: float
    ue_antenna_height_m: float
    num_antennas: int = NUM_ANTENNAS
    num_beams: int = NUM_BEAMS
    fov_deg: float = CODEBOOK_FOV_DEG
    beam_order: int = 1
    camera: CameraSite | None = None

    def __post_init__(self):
        if len(self.bs_latlon) != 2 or not np.isfinite(self.bs_latlon).all():
            raise SiteError(f"site.bs_latlon {list(self.bs_latlon)}: expected [latitude, longitude]")
        if self.beam_order not in (1, -1):
            raise SiteError(f"site.beam_order {self.beam_order}: expected 1 or -1")

    @property
    def angles_rad(self) -> np.ndarray:
        return np.asarray(codebook_angles_rad(self.num_beams, self.fov_deg))

    @property
    def beam_spacing_rad(self) -> float:
        return float(np.radians(self.fov_deg) / (self.num_beams - 1))

    @property
    def radio(self) -> "SiteGeometry":
        """The site without its camera: all the predictor depends on."""
        return dataclasses.replace(self, camera=None)

    def local_en(self, latlon) -> np.ndarray:
        """(..., 2) east, north metres of WGS-84 fixes from the array centre."""
        return latlon_to_enu(latlon, self.bs_latlon)

    def direction(self, en) -> dict[str, np.ndarray]:
        """Geometry of UE positions ``en`` (..., 2): direction cosine along the array axis
        (``ux``), along the boresight (``front``), the steering angle ``psi`` = asin(ux) and
        the 3-D ``distance``."""
        en = np.asarray(en, dtype=np.float64)
        h = np.radians(self.heading_deg)
        axis = np.array([np.cos(h), -np.sin(h)]) * self.beam_order
        bore = np.array([np.sin(h), np.cos(h)])
        dz = self.ue_antenna_height_m - self.array_height_m
        dist = np.sqrt((en ** 2).sum(-1) + dz * dz)
        ux = np.clip(en @ axis / dist, -1.0, 1.0)
        return {"ux": ux, "front": en @ bore / dist, "psi": np.arcsin(ux), "distance": dist}

    def site_xy(self, en) -> np.ndarray:
        """(..., 2) positions along the array axis (to the right of the boresight) and along the
        boresight, from local east/north metres (the camera's world frame)."""
        h = np.radians(self.heading_deg)
        return np.asarray(en, np.float64) @ np.array([[np.cos(h), np.sin(h)], [-np.sin(h), np.cos(h)]])

    def beam_coordinate(self, psi) -> np.ndarray:
        """Continuous beam index of steering angles ``psi`` (0 = the first beam; may leave 0..B-1)."""
        return (np.asarray(psi) + np.radians(self.fov_deg) / 2) / self.beam_spacing_rad

    def in_fov(self, psi) -> np.ndarray:
        """Steering angles inside the codebook's span (half a beam beyond the edge beams)."""
        return np.abs(np.asarray(psi)) <= np.radians(self.fov_deg) / 2 + self.beam_spacing_rad / 2

    def to_dict(self) -> dict:
        return to_mapping(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "site") -> "SiteGeometry":
        missing = [k for k in REQUIRED if data.get(k) is None]
        if missing:
            raise SiteError(f"{where}: missing site field(s) " + "; ".join(
                f"{k}: {REQUIRED[k]}" for k in missing))
        return from_mapping(cls, data, where)


def _twin_camera(meta: dict) -> dict | None:
    """The ``camera`` of a twin_meta.json written before sites carried one, as a site camera."""
    cam, bs = meta.get("camera"), meta.get("base_station_array")
    if not cam or not bs:
        return None
    offset = [round(float(c - b), 9) for c, b in zip(cam["position"], bs)]
    return {"width": cam["width"], "height": cam["height"], "fx": cam["fx"], "fy": cam["fy"], "cx": cam["cx"],
            "cy": cam["cy"], "offset_m": offset, "pitch_deg": cam["pitch_deg"]}


def read_site(path: str | Path, bs_latlon=None) -> SiteGeometry:
    """The site in a site YAML file or a ``twin_meta.json`` (its ``site`` section).

    ``bs_latlon`` (the scenario's ``unit1_loc``) fills a file that leaves the fix out, and
    a fix in the file more than ``BS_TOLERANCE_M`` from it is an error naming both.
    """
    path = Path(path)
    if not path.is_file():
        raise SiteError(f"{path}: site file not found")
    where = str(path)
    if path.suffix == ".json":
        meta = json.loads(path.read_text())
        if "site" not in meta:
            raise SiteError(f"{path}: no 'site' section (regenerate the twin scenario)")
        data, where = dict(meta["site"]), f"{path}:site"
        if "camera" not in data and _twin_camera(meta) is not None:
            data["camera"] = _twin_camera(meta)
    else:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise SiteError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise SiteError(f"{path}: expected a mapping of site fields")
    if data.get("bs_latlon") is None and bs_latlon is not None:
        data["bs_latlon"] = [float(v) for v in bs_latlon]
    site = SiteGeometry.from_dict(data, where)
    if bs_latlon is not None:
        off = float(np.linalg.norm(latlon_to_enu(np.asarray(bs_latlon, float), site.bs_latlon)))
        if off > BS_TOLERANCE_M:
            raise SiteError(f"{where}: bs_latlon {list(site.bs_latlon)} is {off:.0f} m from the scenario's "
                            f"unit1_loc {[float(v) for v in bs_latlon]} (more than {BS_TOLERANCE_M:.0f} m): "
                            "fix the site file or leave bs_latlon out to use unit1_loc")
    return site


def find_site_file(scenario: str | Path) -> Path | None:
    """The scenario's site file: ``site.yaml`` beside the CSV, else a ``twin_meta.json`` with a site."""
    scenario = Path(scenario)
    if (scenario / SITE_FILE).is_file():
        return scenario / SITE_FILE
    meta = scenario / TWIN_META
    if meta.is_file() and "site" in json.loads(meta.read_text()):
        return meta
    return None


def load_site(scenario: str | Path, bs_latlon=None) -> SiteGeometry:
    """The site geometry of a scenario folder (:func:`find_site_file`, read by :func:`read_site`)."""
    path = find_site_file(scenario)
    if path is None:
        raise SiteError(f"{scenario}: no site geometry. Draft {Path(scenario) / SITE_FILE} with "
                        f"`beam-predictor site init {scenario}` and fill in " + "; ".join(
                            f"{k}: {v}" for k, v in REQUIRED.items()))
    return read_site(path, bs_latlon)
