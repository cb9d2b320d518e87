"""Site geometry: fix -> direction and beam coordinate, and scenarios without a site."""
import json

import numpy as np
import pytest

from beam_predictor.physics.geo import enu_to_latlon
from beam_predictor.physics.site import SiteError, SiteGeometry, load_site, read_site

SITE = SiteGeometry(bs_latlon=(33.42, -111.93), heading_deg=0.0, array_height_m=5.0, ue_antenna_height_m=1.7)


def test_direction_by_hand_with_elevation():
    # 4 m east, 3 m north, 3.3 m below the array: ux = 4 / sqrt(16 + 9 + 10.89)
    g = SITE.direction(np.array([4.0, 3.0]))
    d = np.sqrt(16 + 9 + 3.3 ** 2)
    assert g["distance"] == pytest.approx(d)
    assert g["ux"] == pytest.approx(4 / d) and g["front"] == pytest.approx(3 / d)
    assert g["psi"] == pytest.approx(np.arcsin(4 / d))


def test_beam_coordinate_spans_the_codebook():
    assert SITE.beam_coordinate(np.radians(-45.0)) == pytest.approx(0.0)
    assert SITE.beam_coordinate(0.0) == pytest.approx(31.5)
    assert SITE.beam_coordinate(np.radians(45.0)) == pytest.approx(63.0)
    assert SITE.in_fov(np.radians(45.5)) and not SITE.in_fov(np.radians(47.0))


def test_heading_and_beam_order_rotate_the_geometry():
    east = SiteGeometry(bs_latlon=(33.42, -111.93), heading_deg=90.0, array_height_m=1.7,
                        ue_antenna_height_m=1.7)
    # facing east, a UE to the south is on the array axis side (right of the boresight)
    assert east.direction(np.array([10.0, -10.0]))["psi"] == pytest.approx(np.radians(45.0))
    flipped = SiteGeometry(**{**east.to_dict(), "beam_order": -1})
    assert flipped.direction(np.array([10.0, -10.0]))["psi"] == pytest.approx(np.radians(-45.0))


def test_fix_to_local_metres_round_trip():
    en = SITE.local_en(enu_to_latlon(12.5, -3.0, SITE.bs_latlon))
    np.testing.assert_allclose(en, [12.5, -3.0], atol=1e-6)


def test_scenario_without_a_site_names_the_fields_to_add(tmp_path):
    with pytest.raises(SiteError, match="heading_deg.*array_height_m.*ue_antenna_height_m"):
        load_site(tmp_path)
    (tmp_path / "site.yaml").write_text("heading_deg: 10.0\narray_height_m: 6.0\n")
    with pytest.raises(SiteError, match="ue_antenna_height_m"):
        load_site(tmp_path, bs_latlon=(33.0, -111.0))


def test_site_yaml_takes_the_base_station_fix_from_the_data(tmp_path):
    (tmp_path / "site.yaml").write_text("heading_deg: 10.0\narray_height_m: 6.0\nue_antenna_height_m: 1.5\n")
    site = load_site(tmp_path, bs_latlon=(33.0, -111.0))
    assert site.bs_latlon == (33.0, -111.0) and site.heading_deg == 10.0
    with pytest.raises(SiteError, match="bs_latlon"):
        load_site(tmp_path)                          # neither the file nor the data has the fix


def test_twin_meta_site_wins_and_round_trips(tmp_path):
    (tmp_path / "twin_meta.json").write_text(json.dumps({"site": SITE.to_dict()}))
    assert load_site(tmp_path) == SITE == read_site(tmp_path / "twin_meta.json")
    with pytest.raises(SiteError, match="beam_order"):
        SiteGeometry(**{**SITE.to_dict(), "beam_order": 2})
