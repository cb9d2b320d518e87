"""Pure-numpy parts of the twin against hand-computed values (no ray tracer needed)."""
import numpy as np
import pytest

from beam_predictor import contract
from beam_predictor.twin import camera, channel, lidar, pinching, radar
from beam_predictor.twin.config import LidarConfig, PinchingConfig, RadarConfig, TwinConfig
from beam_predictor.twin.traffic import lane_direction, pass_extent, plan_pass

ANGLES = contract.codebook_angles_rad()


@pytest.mark.parametrize("beam", [0, 17, 40, 63])
def test_single_path_peaks_on_its_beam(beam):
    W = channel.codebook(ANGLES, 16)
    freqs = channel.subcarriers(100e6, 8)
    H = channel.frequency_response(np.array([1e-4]), np.array([50e-9]), np.sin([ANGLES[beam]]), 16, freqs)
    p = channel.beam_power(H, W, 1.0, 0.0, None)
    assert np.argmax(p) == beam
    assert p[beam] == pytest.approx(16 * 1e-8)          # full array gain N |a|^2


def test_impairments_are_static_and_bounded():
    W = channel.codebook(ANGLES, 16)
    a = channel.impaired(W, 25.0, 1.5, np.random.default_rng(1))
    b = channel.impaired(W, 25.0, 1.5, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    ratio = a / W
    assert np.allclose(ratio, ratio[0])                  # the same element errors for every beam
    np.testing.assert_array_equal(channel.impaired(W, 0.0, 0.0, np.random.default_rng(2)), W)


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


def test_pinching_codebook_is_cophased_at_its_target():
    cfg = PinchingConfig()
    book = pinching.build_codebook(cfg, 60e9)
    assert book.shape == (cfg.num_codewords, cfg.num_pas)
    assert (np.diff(book, axis=1) >= cfg.min_spacing_m - 1e-9).all()
    assert (book >= 0).all() and (book <= cfg.length_m).all()
    targets = pinching.codebook_targets(cfg)
    lam = 299_792_458.0 / 60e9
    for k in (0, 13, 31):
        h = pinching.effective_channels(book[k:k + 1], targets[k], np.ones((1, cfg.num_pas)), cfg, 60e9)
        r = np.linalg.norm(pinching.pa_world(book[k], cfg) - targets[k], axis=1)
        coherent = np.sum(lam / (4 * np.pi) / r) / np.sqrt(cfg.num_pas)
        assert abs(h[0]) == pytest.approx(coherent, rel=1e-6)


def test_pinching_blocked_pas_lose_gain():
    cfg = PinchingConfig()
    book = pinching.build_codebook(cfg, 60e9)
    ue = pinching.codebook_targets(cfg)[10]
    full = pinching.effective_channels(book, ue, np.ones(book.shape), cfg, 60e9)
    los = np.ones(book.shape)
    los[10, :2] = 0
    half = pinching.effective_channels(book, ue, los, cfg, 60e9)
    expected = pinching.gain_db(full)[10] - 20 * np.log10(2)       # half the PAs: half the amplitude
    assert pinching.gain_db(half)[10] == pytest.approx(expected, abs=0.05)
    assert pinching.gain_db(np.zeros(1))[0] == -300.0


def test_camera_projection_inverts_pixel_rays():
    cam = camera.PinholeCamera(np.array([0.0, -8.0, 5.3]), 64, 36, 90.0, -18.0)
    rays = cam.pixel_rays()
    uv, depth = cam.project(cam.position + 10 * rays)
    uu, vv = np.meshgrid(np.arange(64) + 0.5, np.arange(36) + 0.5)
    np.testing.assert_allclose(uv, np.column_stack([uu.ravel(), vv.ravel()]), atol=1e-6)
    assert (depth > 0).all()


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
