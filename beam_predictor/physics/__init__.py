"""Radio and site physics, below everything else (plain numpy; no ray tracer, no ROS).

* :mod:`~beam_predictor.physics.site`: the base station's pose and codebook, GPS fix ->
  steering angle and beam coordinate (:class:`SiteGeometry`, :func:`load_site`).
* :mod:`~beam_predictor.physics.array`: the ULA: codebook weights, impairments, synthesis
  of the channel from paths, the received power of any codebook from a stored channel
  (measurement noise or a target SNR), array pattern.
* :mod:`~beam_predictor.physics.pinching`: the dielectric waveguide and its pinching antennas.
* :mod:`~beam_predictor.physics.pass_system`: several waveguides serving several users: links,
  SINR, rate and sum rate, MRT, MMSE, minimum power, the Top-K label search (paper 003).
* :mod:`~beam_predictor.physics.camera`: the base-station camera's pinhole model.
* :mod:`~beam_predictor.physics.geo`: WGS-84 <-> local east/north metres.
"""
from beam_predictor.physics.array import (CARRIER_HZ, CODEBOOK_FOV_DEG, NUM_ANTENNAS, NUM_BEAMS, beam_power,
                                          codebook, codebook_angles_rad, impaired_codebook, pattern_gain,
                                          sparse_beams, steering)
from beam_predictor.physics.camera import PinholeCamera
from beam_predictor.physics.pass_system import best_combination, min_power, mmse, mrt, sinr, sum_rate
from beam_predictor.physics.geo import enu_to_latlon, latlon_to_enu
from beam_predictor.physics.site import SiteError, SiteGeometry, load_site, read_site

__all__ = ["CARRIER_HZ", "CODEBOOK_FOV_DEG", "NUM_ANTENNAS", "NUM_BEAMS", "PinholeCamera", "SiteError",
           "SiteGeometry", "beam_power", "best_combination", "codebook", "codebook_angles_rad",
           "enu_to_latlon", "impaired_codebook", "latlon_to_enu", "load_site", "min_power", "mmse", "mrt",
           "pattern_gain", "read_site", "sinr", "sparse_beams", "steering", "sum_rate"]
