"""The generated PASS codebook (paper 003, eqs. 26-27): one channel model for numpy and torch, targets
from the users' fixes, the constraints, and a refinement that raises the SINR objective."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from beam_predictor.config import ConfigError
from beam_predictor.physics import pass_system as ps
from beam_predictor.physics import pinching
from beam_predictor.physics.pass_codebook import (GenerationConfig, generate_codebook, project,
                                                  sum_rate_objective, targets_from_positions)
from beam_predictor.twin.config import PinchingConfig

FREQ = 60e9
PIN = PinchingConfig(num_codewords=8, length_m=16.0, start=(-8.0, -7.5, 5.0), num_waveguides=3)
POWER, NOISE = 0.1, ps.noise_power_w(100e6, 7.0)


def _users(n=60, seed=0):
    """Two users in lanes off the geometric focus line (y = 0), spread along the street."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-7.0, 7.0, size=(n, 2))
    y = np.stack([np.full(n, 3.5), np.full(n, -3.5)], 1) + rng.normal(0, 0.3, size=(n, 2))
    return np.stack([x, y, np.full((n, 2), 1.7)], -1), np.ones((n, 2), bool)


def test_the_channel_model_is_the_same_in_numpy_and_torch_and_has_the_right_gradient():
    book = ps.waveguide_books(PIN, FREQ, 4)[1]
    ue = np.array([[1.0, 2.0, 1.7], [-3.0, -1.0, 1.7]])
    los = np.ones(book.shape)
    wg = ps.waveguide(PIN, 1)
    h_np = pinching.effective_channels(book, ue, los, wg, FREQ)
    x = torch.tensor(book, requires_grad=True)
    h_t = pinching.effective_channels(x, torch.tensor(ue), torch.tensor(los), wg, FREQ)
    np.testing.assert_allclose(h_t.detach().numpy(), h_np, rtol=1e-12)
    assert h_np.shape == (2, 8)
    # one UE at a time gives the same as the batch (the twin's call)
    np.testing.assert_allclose(pinching.effective_channels(book, ue[0], los, wg, FREQ), h_np[0], rtol=1e-12)
    # autograd against a central difference on one PA position
    (h_t.abs() ** 2).sum().backward()
    eps = 1e-7
    up, down = book.copy(), book.copy()
    up[3, 2] += eps
    down[3, 2] -= eps
    f = [float((np.abs(pinching.effective_channels(b, ue, los, wg, FREQ)) ** 2).sum()) for b in (up, down)]
    assert float(x.grad[3, 2]) == pytest.approx((f[0] - f[1]) / (2 * eps), rel=1e-4)


def test_targets_follow_the_lanes_and_projection_keeps_the_constraints():
    xyz, _ = _users()
    t = targets_from_positions(xyz[:, 0], 8, 20, 1.7)
    assert t.shape == (8, 3) and (np.diff(t[:, 0]) >= 0).all()
    assert np.allclose(t[:, 1], 3.5, atol=0.5) and (t[:, 2] == 1.7).all()
    x = torch.tensor([[5.0, 4.9995, -1.0, 20.0]], dtype=torch.float64)
    p = project(x, 16.0, 0.003)[0].numpy()
    assert (p >= 0).all() and (p <= 16.0).all() and (np.diff(p) >= 0.003 - 1e-12).all()


def test_generation_raises_the_sinr_objective_and_keeps_free_waveguides_geometric():
    xyz, have = _users()
    gen = GenerationConfig(iterations=40, lr_m=5e-5)
    books, targets, record = generate_codebook(PIN, FREQ, 4, xyz, have, POWER, NOISE, gen)
    assert books.shape == (3, 8, 4) and targets.shape == (3, 8, 3)
    # users in lanes the geometric foci miss: targets from their fixes help, the gradient does not hurt
    assert record["objective_constructed"] > record["objective_geometric"]
    assert record["objective_refined"] >= record["objective_constructed"]
    value = sum_rate_objective(torch.tensor(books[:2]), torch.tensor(xyz), torch.tensor(have),
                               replace(PIN, num_pas=4), FREQ, POWER, NOISE, gen.temperature_db)
    assert float(value) == pytest.approx(record["objective_refined"])
    assert (books >= 0).all() and (books <= PIN.length_m).all()
    assert (np.diff(books, axis=-1) >= PIN.min_spacing_m - 1e-9).all()
    np.testing.assert_array_equal(books[2], ps.waveguide_books(PIN, FREQ, 4)[2])     # no user: geometric
    # as a configuration: the site serves the generated codebook and its targets, checked
    pin = replace(PIN, codebook_positions={"4": books.tolist()}, codebook_targets=targets.tolist())
    np.testing.assert_array_equal(ps.waveguide_books(pin, FREQ, 4), books)
    np.testing.assert_array_equal(ps.waveguide_targets(pin), targets)
    np.testing.assert_array_equal(ps.waveguide_books(pin, FREQ, 8), ps.waveguide_books(PIN, FREQ, 8))
    with pytest.raises(ConfigError, match="shape"):
        ps.waveguide_books(replace(pin, codebook_positions={"4": books[:2].tolist()}), FREQ, 4)
    with pytest.raises(ConfigError, match="outside"):
        ps.waveguide_books(replace(pin, codebook_positions={"4": (books + 20).tolist()}), FREQ, 4)
