"""UE association: GPS projection picks the UE's track, keeps it, and reports lost honestly."""
import numpy as np

from beam_predictor.physics.geo import enu_to_latlon
from beam_predictor.sensing.tracker import CameraModel, UEAssociator, iou
from beam_predictor.physics.camera import PinholeCamera
from beam_predictor.physics.site import CameraSite, SiteGeometry


def test_iou_by_hand():
    assert iou(np.array([0, 0, 2, 2]), np.array([1, 1, 3, 3])) == 1 / 7
    assert iou(np.array([0, 0, 1, 1]), np.array([2, 2, 3, 3])) == 0.0


def test_camera_model_projects_gps_like_the_camera():
    # the twin's geometry: array at (0, -8, 5), camera 0.3 m above it, pitched down 18 deg, facing north
    cam = PinholeCamera(np.array([0.0, -8.0, 5.3]), 320, 180, 90.0, -18.0)
    origin = (33.42, -111.93)                                  # the array's fix
    site = SiteGeometry(bs_latlon=origin, heading_deg=0.0, array_height_m=5.0, ue_antenna_height_m=1.7,
                        camera=CameraSite(width=320, height=180, fx=cam.fx, fy=cam.fx, cx=160.0, cy=90.0,
                                          offset_m=(0.0, 0.0, 0.3), pitch_deg=-18.0))
    model = CameraModel(site)
    world = np.array([3.0, 1.7, 1.7])
    latlon = enu_to_latlon(world[0] - 0.0, world[1] + 8.0, origin)
    expected, _ = cam.project(world[None])
    np.testing.assert_allclose(model.project(latlon), expected[0], atol=1e-3)
    assert model.project(enu_to_latlon(0.0, -5.0, origin)) is None          # behind the camera


def test_associator_picks_keeps_and_loses():
    a = UEAssociator()
    truck = [10, 10, 60, 50, 0.9, 1]
    car = [70, 20, 100, 40, 0.8, 2]
    box = a.update([truck, car], (85, 30))
    assert (box.track_id, box.lost) == (2, False) and box.cx == 85
    # a truck overlapping the projected point does not steal a consistent track
    box = a.update([[60, 15, 110, 45, 0.95, 1], [72, 20, 102, 40, 0.8, 2]], (88, 30))
    assert box.track_id == 2
    # the UE's track disappears: lost, last box kept, confidence 0
    box = a.update([truck], (150, 30))
    assert box.lost and box.conf == 0.0 and box.track_id == 2 and box.cx == 87
    # no GPS: keep the current track if present, else lost
    box = a.update([[74, 20, 104, 40, 0.7, 2]], None)
    assert box.track_id == 2 and not box.lost
    a.reset()
    assert a.update([truck, car], None).lost
