"""The physics core against hand-computed values: ULA synthesis, pinching antennas, camera."""
import numpy as np
import pytest

from beam_predictor import contract
from beam_predictor.physics import array, pinching
from beam_predictor.physics.camera import PinholeCamera
from beam_predictor.twin.config import PinchingConfig

ANGLES = contract.codebook_angles_rad()


@pytest.mark.parametrize("beam", [0, 17, 40, 63])
def test_single_path_peaks_on_its_beam(beam):
    W = array.codebook(ANGLES, 16)
    freqs = array.subcarriers(100e6, 8)
    H = array.frequency_response(np.array([1e-4]), np.array([50e-9]), np.sin([ANGLES[beam]]), 16, freqs)
    p = array.beam_power(H, W, 1.0, 0.0, None)
    assert np.argmax(p) == beam
    assert p[beam] == pytest.approx(16 * 1e-8)          # full array gain N |a|^2


def test_impairments_are_static_and_bounded():
    W = array.codebook(ANGLES, 16)
    a = array.impaired(W, 25.0, 1.5, np.random.default_rng(1))
    b = array.impaired(W, 25.0, 1.5, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    ratio = a / W
    assert np.allclose(ratio, ratio[0])                  # the same element errors for every beam
    np.testing.assert_array_equal(array.impaired(W, 0.0, 0.0, np.random.default_rng(2)), W)


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
    cam = PinholeCamera(np.array([0.0, -8.0, 5.3]), 64, 36, 90.0, -18.0)
    rays = cam.pixel_rays()
    uv, depth = cam.project(cam.position + 10 * rays)
    uu, vv = np.meshgrid(np.arange(64) + 0.5, np.arange(36) + 0.5)
    np.testing.assert_allclose(uv, np.column_stack([uu.ravel(), vv.ravel()]), atol=1e-6)
    assert (depth > 0).all()
