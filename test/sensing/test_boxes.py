"""The offline box series is keyed by what decides it: weights, site camera, tracker settings."""
import dataclasses

from beam_predictor.physics.site import CameraSite, SiteGeometry
from beam_predictor.sensing.boxes import TrackerSettings, _version

CAMERA = CameraSite(width=384, height=216, fx=192.0, fy=192.0, cx=192.0, cy=108.0, offset_m=(0, 0, 0.3))
SITE = SiteGeometry(bs_latlon=(33.42, -111.93), heading_deg=0.0, array_height_m=5.0, ue_antenna_height_m=1.7,
                    camera=CAMERA)


def test_box_cache_version_changes_with_weights_settings_and_camera(tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights-a")
    base = _version(TrackerSettings(str(weights)), SITE)
    assert base == _version(TrackerSettings(str(weights)), SITE)
    assert base != _version(TrackerSettings(str(weights), conf=0.5), SITE)
    assert base != _version(TrackerSettings(str(weights), gap_reset_s=2.0), SITE)
    assert base != _version(TrackerSettings(str(weights), association="moving"), SITE)
    assert base != _version(TrackerSettings(str(weights)), None)
    assert base != _version(TrackerSettings(str(weights)), dataclasses.replace(
        SITE, camera=dataclasses.replace(CAMERA, pitch_deg=-10.0)))
    # a site without a camera associates like no site at all
    no_camera = _version(TrackerSettings(str(weights)), SITE.radio)
    assert no_camera == _version(TrackerSettings(str(weights)), None)
    weights.write_bytes(b"weights-b")
    assert base != _version(TrackerSettings(str(weights)), SITE)
