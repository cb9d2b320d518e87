"""Pure-numpy parts of the twin against hand-computed values (no ray tracer needed)."""
import numpy as np
import pytest

from beam_predictor import contract
from beam_predictor.twin import camera, lidar, radar
from beam_predictor.twin.config import LidarConfig, RadarConfig, TwinConfig
from beam_predictor.twin.traffic import lane_direction, pass_extent, plan_pass

ANGLES = contract.codebook_angles_rad()


def test_radar_point_target_lands_in_its_bins():
    cfg = RadarConfig()
    rng_m, v, ux = 12.0, -5.0, np.sin(np.radians(20))
    tau = 2 * rng_m / radar.C0
    fd = -2 * v * cfg.carrier_hz / radar.C0
    cube = radar.synthesize_cube([1.0], [tau], [fd], [ux], cfg, None)
    assert cube.shape == (4, 256, 128) and cube.dtype == np.complex64
    from beam_predictor.sensing.radar_maps import angle_axis_deg, range_angle_map, range_velocity_map
    rv = range_velocity_map(cube)
    r_bin, d_bin = np.unravel_index(np.argmax(rv), rv.shape)
    assert r_bin == round(rng_m / radar.range_bin_m(cfg))
    assert d_bin - 64 == round(fd * cfg.chirp_period_s * cfg.num_chirps)
    ra = range_angle_map(cube, 64)
    a_bin = np.argmax(ra[r_bin])
    assert abs(angle_axis_deg(64)[a_bin] - 20.0) < 3.0


def test_boxes_and_yolo_labels():
    ids = np.zeros((10, 20), dtype=np.uint32)
    ids[2:6, 3:11] = 7          # 32 pixels
    ids[8:9, 0:5] = 9           # 5 pixels: below min_pixels
    boxes = camera.boxes_from_ids(ids.ravel(), 20, 10, {7: 0, 9: 1}, min_pixels=10)
    assert boxes == {7: (3.0, 2.0, 11.0, 6.0, 32)}
    assert camera.yolo_lines(boxes, {7: 0}, 20, 10) == ["0 0.350000 0.400000 0.400000 0.400000"]


def test_lidar_pattern_and_points():
    cfg = LidarConfig(channels=4, points_per_channel=8)
    d = lidar.scan_directions(cfg)
    assert d.shape == (32, 3) and np.allclose(np.linalg.norm(d, axis=1), 1)
    t = np.full(32, np.inf)
    t[:5] = 10.0
    normals = -d.copy()
    pts = lidar.points_from_hits(d, t, normals, np.full(32, 0.5), cfg, np.random.default_rng(0))
    assert pts.shape == (5, 4)
    np.testing.assert_allclose(np.linalg.norm(pts[:, :3], axis=1), 10.0, atol=0.05)
    np.testing.assert_array_equal(pts[:, 3], 128)          # 255 * 0.5 at normal incidence


def test_traffic_plan_is_seeded_and_times_blockers_on_the_los():
    cfg = TwinConfig()
    names = [f"car_{i}" for i in range(1, 9)]
    bs = np.asarray(cfg.array.position[:2])
    a = plan_pass(3, cfg, names, bs, np.random.default_rng([0, 3, 1]))
    b = plan_pass(3, cfg, names, bs, np.random.default_rng([0, 3, 1]))
    assert a == b
    crossings = 0
    for seq in range(1, 60):
        plan = plan_pass(seq, cfg, names, bs, np.random.default_rng([0, seq, 1]))
        ue = plan.ue
        assert ue.lane_y in cfg.traffic.ue_lanes and np.sign(ue.vx) == lane_direction(ue.lane_y)
        assert abs(ue.x0 - bs[0]) == pytest.approx(pass_extent(cfg, ue.lane_y))
        assert len({tr.name for tr in plan.tracks}) == 8
        for tr in plan.tracks:
            if tr.role != "blocker":
                continue
            frac = (tr.lane_y - bs[1]) / (ue.lane_y - bs[1])
            if not 0 < frac < 1:
                continue
            ts = np.arange(plan.num_frames) / cfg.frame_rate_hz
            gap = [tr.x(t) - (bs[0] + (ue.x(t) - bs[0]) * frac) for t in ts]
            assert min(gap) <= 0 <= max(gap)                  # it crosses the line of sight
            crossings += 1
    assert crossings >= 10
