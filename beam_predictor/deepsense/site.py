"""A scenario's site file: loaded and checked against the scenario, or drafted from it.

:func:`scenario_site` is what every stage calls: the site of
:func:`beam_predictor.physics.site.load_site`, with the base-station fix from the
CSV's ``unit1_loc`` when the file leaves it out, and two checks against the data (each
an error naming both values): the file's ``bs_latlon`` within
``physics.site.BS_TOLERANCE_M`` of ``unit1_loc``, and the camera's image size equal to
the scenario's JPEGs.

:func:`draft_site` (``beam-predictor site init SCENARIO``) writes a ``site.yaml`` with
what the scenario tells (the base-station fix, the image size, the number of beams of
the power files) and ``null`` with a comment where a person must measure
(heading, heights, camera intrinsics and pose).  A stage that needs a field still
``null`` fails with a message naming it.
"""
from __future__ import annotations

import io
from pathlib import Path

from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader, find_csv
from beam_predictor.physics.site import (REQUIRED, SITE_FILE, SiteError, SiteGeometry, find_site_file,
                                         read_site)


def first_frame(scenario: str | Path, modalities=("gps", "camera")):
    """The scenario's first frame with ``modalities`` (None for an empty CSV)."""
    return next(iter(ScenarioReader(scenario, ReaderConfig(modalities=tuple(modalities)))), None)


def image_size(jpeg: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG from its header."""
    from PIL import Image
    with Image.open(io.BytesIO(jpeg)) as img:
        return img.size


def scenario_site(scenario: str | Path) -> SiteGeometry:
    """The scenario's site geometry, checked against its data (see the module docstring)."""
    first = first_frame(scenario)
    site = read_site(_site_file(scenario), None if first is None else first.bs_latlon)
    if site.camera is not None and first is not None and first.image_jpeg is not None:
        size = image_size(first.image_jpeg)
        if size != (site.camera.width, site.camera.height):
            raise SiteError(f"{_site_file(scenario)}: camera image size {site.camera.width} x "
                            f"{site.camera.height} differs from the scenario's JPEGs ({size[0]} x {size[1]}, "
                            f"row 1 of {find_csv(Path(scenario))})")
    return site


def _site_file(scenario) -> Path:
    path = find_site_file(scenario)
    if path is None:
        raise SiteError(f"{scenario}: no site geometry. Draft {Path(scenario) / SITE_FILE} with "
                        f"`beam-predictor site init {scenario}` and fill in " + "; ".join(
                            f"{k}: {v}" for k, v in REQUIRED.items()))
    return path


_TEMPLATE = """\
# Site geometry of {scenario} (beam_predictor.physics.site), drafted by `beam-predictor site init`.
# Fields left null must be measured at the site and filled in; a stage that needs one says so.
# Frame: x along the array axis (to the right when looking along the boresight), y along the
# boresight, z up; the array centre is at x = y = 0, the road at z = 0.
bs_latlon: {bs_latlon}    # [latitude, longitude] of the array centre; null = the CSV's unit1_loc
heading_deg: null         # FILL IN: boresight azimuth, degrees clockwise from north
array_height_m: null      # FILL IN: array centre above the road, metres
ue_antenna_height_m: null # FILL IN: the vehicle's antenna above the road, metres
num_antennas: 16          # elements of the ULA
num_beams: {num_beams}            # beams of the codebook (from the power files)
fov_deg: 90.0             # the codebook spans +-fov/2, evenly spaced in angle
beam_order: 1             # 1: beam 1 points to -fov/2 (left of the boresight); -1: the other way
camera:                   # delete this section if the scenario has no camera
  width: {width}              # image size in pixels (from the JPEGs)
  height: {height}
  fx: null                # FILL IN: focal lengths and principal point in pixels (camera calibration)
  fy: null
  cx: {cx}
  cy: {cy}
  offset_m: [0.0, 0.0, 0.0]   # FILL IN: camera from the array centre: along the axis, boresight, up (m)
  pitch_deg: 0.0          # FILL IN: negative looks down
  yaw_deg: 0.0            # from the boresight toward the array axis
"""


def draft_site(scenario: str | Path, overwrite: bool = False) -> tuple[Path, list[str]]:
    """Write ``site.yaml`` beside the scenario's CSV; returns it and the fields left to fill in."""
    csv_path = find_csv(Path(scenario))
    out = csv_path.parent / SITE_FILE
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists (pass --overwrite to draft it again)")
    first = first_frame(scenario, ("gps", "camera", "power"))
    if first is None:
        raise SiteError(f"{csv_path}: no rows to draft a site from")
    bs = "null" if first.bs_latlon is None else "[" + ", ".join(f"{v:.7f}" for v in first.bs_latlon) + "]"
    num_beams = len(first.power) if first.power is not None else 64
    width, height = image_size(first.image_jpeg) if first.image_jpeg is not None else (None, None)
    text = _TEMPLATE.format(scenario=csv_path.parent.name, bs_latlon=bs, num_beams=num_beams,
                            width=_yaml(width), height=_yaml(height),
                            cx=_yaml(None if width is None else width / 2),
                            cy=_yaml(None if height is None else height / 2))
    if first.image_jpeg is None:
        text = text[:text.index("camera:")]
    out.write_text(text)
    todo = [k for k in REQUIRED if k != "bs_latlon" or first.bs_latlon is None]
    if first.image_jpeg is not None:
        todo += ["camera.fx", "camera.fy", "camera.offset_m", "camera.pitch_deg"]
    return out, todo


def _yaml(value) -> str:
    return "null" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
