"""A scenario's site file: drafted from the data, checked against it, the camera projecting fixes."""
import numpy as np
import pytest
import yaml

from beam_predictor.deepsense.site import draft_site, scenario_site
from beam_predictor.physics.geo import enu_to_latlon
from beam_predictor.physics.site import SiteError, load_site
from beam_predictor.sensing.tracker import CameraModel

FILLED = {"heading_deg": 90.0, "array_height_m": 5.0, "ue_antenna_height_m": 1.5}


def _fill(scenario, **camera):
    path = scenario / "site.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(FILLED)
    data["camera"].update({"fx": 48.0, "fy": 48.0, **camera})
    path.write_text(yaml.safe_dump(data))


def test_draft_names_what_to_fill_and_the_checks_name_both_values(make_scenario):
    scenario = make_scenario("s31")
    path, todo = draft_site(scenario)
    assert {"heading_deg", "array_height_m", "ue_antenna_height_m", "camera.fx"} <= set(todo)
    assert "bs_latlon" not in todo                                 # from unit1_loc
    with pytest.raises(SiteError, match="heading_deg"):
        scenario_site(scenario)
    with pytest.raises(FileExistsError):
        draft_site(scenario)
    _fill(scenario)
    site = scenario_site(scenario)
    assert (site.camera.width, site.camera.height) == (96, 64)      # from the JPEGs
    _fill(scenario, width=960)
    with pytest.raises(SiteError, match="960 x 64.*96 x 64"):
        scenario_site(scenario)
    _fill(scenario, width=96)
    data = yaml.safe_load(path.read_text())
    data["bs_latlon"] = [33.5, -111.9289]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SiteError, match=r"bs_latlon \[33.5, -111.9289\] is .* m from .*unit1_loc"):
        load_site(scenario, bs_latlon=(33.4207, -111.9289))


def test_camera_projects_a_fix_on_the_boresight_to_the_image_centre(make_scenario):
    scenario = make_scenario("s31")
    draft_site(scenario)
    _fill(scenario, pitch_deg=0.0)
    site = scenario_site(scenario)
    # heading 90: the boresight points east; a fix 20 m east at antenna height...
    camera = CameraModel(site)
    fix = enu_to_latlon(20.0, 0.0, np.asarray(site.bs_latlon))
    u, v = camera.project(fix)
    assert abs(u - 48.0) < 0.5 and v > 32.0          # centred; below the horizon (the antenna is lower)
    # ... and one 20 m west is behind the camera
    assert camera.project(enu_to_latlon(-20.0, 0.0, np.asarray(site.bs_latlon))) is None
