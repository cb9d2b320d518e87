"""Preprocessing against hand-computed values, and every bad-input case."""
import io

import numpy as np
import pytest
from PIL import Image

from beam_predictor.sensing.config import ImagePrepConfig, LidarPrepConfig, RadarPrepConfig
from beam_predictor.sensing.preprocess import GpsScaler, prep_image, prep_lidar, prep_radar
from beam_predictor.twin import radar as twin_radar
from beam_predictor.twin.config import RadarConfig


def _jpeg(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, format="PNG")   # lossless: exact values
    return buf.getvalue()


def test_image_resize_and_imagenet_normalisation():
    cfg = ImagePrepConfig(size=8)
    arr = np.zeros((16, 32, 3), dtype=np.uint8)
    arr[:, :16] = (255, 255, 255)
    out = prep_image(_jpeg(arr), cfg)
    assert not out.missing and out.value.shape == (3, 8, 8) and out.value.dtype == np.float32
    white = (1.0 - np.array(cfg.mean)) / np.array(cfg.std)
    black = -np.array(cfg.mean) / np.array(cfg.std)
    np.testing.assert_allclose(out.value[:, 0, 0], white, rtol=1e-5)
    np.testing.assert_allclose(out.value[:, 0, -1], black, rtol=1e-5)


def test_image_bad_inputs():
    cfg = ImagePrepConfig()
    assert prep_image(None, cfg).reason == "no image"
    assert prep_image(_jpeg(np.zeros((20, 20, 3))), cfg).reason == "black or constant image"
    corrupt = prep_image(b"\xff\xd8\xff\xe0garbage", cfg)
    assert corrupt.missing and corrupt.reason.startswith("corrupt image")


def test_radar_point_target_in_range_angle_bin():
    rc = RadarConfig()
    cube = twin_radar.synthesize_cube([1.0], [2 * 10.0 / twin_radar.C0], [0.0], [0.5], rc, None)
    out = prep_radar(cube, RadarPrepConfig(angle_bins=64, range_bins=128, remove_static=False))
    assert out.value.shape == (1, 128, 64)
    r, a = np.unravel_index(np.argmax(out.value[0]), out.value[0].shape)
    assert r == round(10.0 / twin_radar.range_bin_m(rc))
    assert a - 32 == 16                 # u_x = 0.5 -> spatial frequency 1/4 -> bin 64/4 right of centre
    bad = cube.copy()
    bad[0, 0, 0] = np.nan
    assert prep_radar(bad, RadarPrepConfig()).reason == "non-finite radar samples"
    bad[0, 0, 0] = np.inf
    assert prep_radar(bad, RadarPrepConfig()).missing
    assert prep_radar(None, RadarPrepConfig()).missing


def test_static_clutter_removal_keeps_the_moving_target():
    rc = RadarConfig()
    static = twin_radar.synthesize_cube([10.0], [2 * 17.6 / twin_radar.C0], [0.0], [0.0], rc, None)
    moving = twin_radar.synthesize_cube([1.0], [2 * 8.0 / twin_radar.C0], [-900.0], [0.3], rc, None)
    out = prep_radar(static + moving, RadarPrepConfig())
    r, _ = np.unravel_index(np.argmax(out.value[0]), out.value[0].shape)
    assert r == round(8.0 / twin_radar.range_bin_m(rc))        # the wall at 17.6 m is gone
    kept = prep_radar(static + moving, RadarPrepConfig(remove_static=False))
    r, _ = np.unravel_index(np.argmax(kept.value[0]), kept.value[0].shape)
    assert r == round(17.6 / twin_radar.range_bin_m(rc))


def test_lidar_histogram_counts_clip_and_normalise():
    cfg = LidarPrepConfig(grid=4, x_range=(-2.0, 2.0), y_range=(0.0, 4.0), clip=2)
    pts = np.array([[-1.5, 0.5, 0, 0], [-1.5, 0.6, 0, 0], [-1.5, 0.7, 0, 0], [1.5, 3.5, 0, 0]], np.float32)
    out = prep_lidar(pts, cfg)
    assert out.value.shape == (1, 4, 4)
    expected = np.zeros((4, 4), np.float32)
    expected[0, 0] = 1.0               # 3 points clipped to 2, divided by 2
    expected[3, 3] = 0.5
    np.testing.assert_array_equal(out.value[0], expected)
    assert prep_lidar(np.zeros((0, 4), np.float32), cfg).reason == "empty point cloud"
    assert prep_lidar(np.array([[50.0, 50.0, 0, 0]], np.float32), cfg).reason == "no point inside the grid"


def test_gps_scaler_fit_transform_and_outside_range():
    train = np.array([[33.0, -112.0], [33.5, -111.0]])
    scaler = GpsScaler.fit(train)
    np.testing.assert_allclose(scaler(np.array([33.25, -111.5])).value, [0.5, 0.5])
    out = scaler(np.array([34.0, -111.5]))
    assert out.reason == "clipped to the fitted range" and out.value[0] == 1.0
    assert scaler(None).missing and scaler(np.array([np.nan, 1.0])).missing
    again = GpsScaler.from_dict(scaler.to_dict())
    np.testing.assert_array_equal(again.low, scaler.low)
    with pytest.raises(ValueError):
        GpsScaler.fit(np.full((3, 2), np.nan))
