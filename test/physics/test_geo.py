"""Local metres <-> latitude/longitude."""
import numpy as np

from beam_predictor.physics.geo import enu_to_latlon, latlon_to_enu

ORIGIN = (33.4207, -111.9289)


def test_round_trip_millimetre():
    east = np.array([-150.0, 0.0, 37.5, 200.0])
    north = np.array([10.0, -80.0, 0.0, 150.0])
    back = latlon_to_enu(enu_to_latlon(east, north, ORIGIN), ORIGIN)
    np.testing.assert_allclose(back, np.column_stack([east, north]), atol=1e-6)


def test_scale_matches_known_degree_lengths():
    # One degree of latitude is ~110.9 km at 33.4 deg N; one of longitude ~93.1 km there.
    lat1 = enu_to_latlon(0.0, 1000.0, ORIGIN)[0] - ORIGIN[0]
    lon1 = enu_to_latlon(1000.0, 0.0, ORIGIN)[1] - ORIGIN[1]
    assert abs(1000.0 / lat1 - 110_920) < 100
    assert abs(1000.0 / lon1 - 93_110) < 150
