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

A scenario carries its site in one place: the twin writes a ``site`` section into
``twin_meta.json``; a real DeepSense scenario gets a ``site.yaml`` beside its CSV (the
base-station fix may come from the CSV's ``unit1_loc`` instead).  :func:`load_site`
reads either and refuses a scenario without one, naming the fields to add.

Only geometry lives here.  How the impaired array maps a direction onto its best beam
(squint, sidelobes) is learned from data by the predictor, never read from a config.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from beam_predictor.config import ConfigError, from_mapping, to_mapping
from beam_predictor.physics.array import CODEBOOK_FOV_DEG, NUM_ANTENNAS, NUM_BEAMS, codebook_angles_rad
from beam_predictor.physics.geo import latlon_to_enu

SITE_FILE = "site.yaml"
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
class SiteGeometry:
    bs_latlon: tuple[float, ...]
    heading_deg: float
    array_height_m: float
    ue_antenna_height_m: float
    num_antennas: int = NUM_ANTENNAS
    num_beams: int = NUM_BEAMS
    fov_deg: float = CODEBOOK_FOV_DEG
    beam_order: int = 1

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
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise SiteError(f"{where}: missing site field(s) " + "; ".join(
                f"{k}: {REQUIRED[k]}" for k in missing))
        return from_mapping(cls, data, where)


def read_site(path: str | Path) -> SiteGeometry:
    """The site in a ``twin_meta.json`` (its ``site`` section) or a site YAML file."""
    path = Path(path)
    if not path.is_file():
        raise SiteError(f"{path}: site file not found")
    if path.suffix == ".json":
        meta = json.loads(path.read_text())
        if "site" not in meta:
            raise SiteError(f"{path}: no 'site' section (regenerate the twin scenario)")
        return SiteGeometry.from_dict(meta["site"], f"{path}:site")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SiteError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SiteError(f"{path}: expected a mapping of site fields")
    return SiteGeometry.from_dict(data, str(path))


def load_site(scenario: str | Path, bs_latlon=None) -> SiteGeometry:
    """The site geometry of a scenario folder: ``twin_meta.json``'s ``site``, else ``site.yaml``.

    ``bs_latlon`` (the scenario's ``unit1_loc``) fills a ``site.yaml`` that leaves it out.
    """
    scenario = Path(scenario)
    meta = scenario / TWIN_META
    if meta.is_file() and "site" in json.loads(meta.read_text()):
        return read_site(meta)
    path = scenario / SITE_FILE
    if not path.is_file():
        raise SiteError(f"{scenario}: no site geometry. Add {path} with the fields " + "; ".join(
            f"{k}: {v}" for k, v in REQUIRED.items()))
    site_yaml = yaml.safe_load(path.read_text()) or {}
    if isinstance(site_yaml, dict) and "bs_latlon" not in site_yaml and bs_latlon is not None:
        site_yaml["bs_latlon"] = [float(v) for v in bs_latlon]
        return SiteGeometry.from_dict(site_yaml, str(path))
    return read_site(path)
