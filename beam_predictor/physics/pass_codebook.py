"""The generated PASS codebook (paper 003, eqs. 26-27): codewords placed where the users drive, then
refined by gradient on their SINR.

The geometric codebook (:func:`beam_predictor.physics.pinching.build_codebook`) focuses the K
codewords of every waveguide on K points spaced evenly along one line of the street.  The
paper's LLM generates the codebook from the users' locations and updates its PA positions on
the SINR.  Here that is a configuration of the site (``pinching.codebook_positions``), fit once
on training frames by :func:`generate_codebook`, for every waveguide w (serving user w):

1. **Targets.**  K focus points from user w's positions in the training frames: k-means in the
   street plane (x along the street, y across), started at the K quantiles along x, so the
   codewords sit in the lanes and the stretch of street where that user is, densest where it
   is most often.
2. **Construction.**  :func:`build_codebook`'s phase alignment at those targets: the PAs of a
   codeword add coherently at its target.
3. **Refinement** (the gradient update of eq. 26).  Adam on every PA position to maximise the
   mean sum over users of log2(1 + SINR_u) over the training frames, with the probing phase's
   model (eq. 6: identity digital precoding, P / U per waveguide): user u receives its own
   waveguide's codeword and the interference of the others' codewords.  Each waveguide's
   codeword is the one with its user's best gain, relaxed to a softmax (temperature
   ``temperature_db``) so the objective has a gradient; line of sight is assumed (blockage is
   not known before probing).  After every step the positions are projected back onto the
   constraints (37e-f): inside the waveguide, sorted, ``min_spacing_m`` apart.

The positions are the base station's knowledge: the GPS fixes of the training frames, never the
twin's true positions.  A waveguide with no user keeps the geometric codebook.  Torch autograd
gives the gradient through :func:`beam_predictor.physics.pinching.effective_channels`, the one
channel model, which takes torch tensors as well as numpy arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from beam_predictor.physics import pinching
from beam_predictor.physics.pass_system import waveguide, waveguide_books, waveguide_targets


@dataclass(frozen=True)
class GenerationConfig:
    """config/pass.yaml ``codebook``: how the generated codebook is fit."""

    iterations: int = 300                # Adam steps of the refinement
    lr_m: float = 5e-5                   # step on the PA positions (m): a hundredth of the 5 mm wavelength
    temperature_db: float = 1.0          # softmax over codewords of the users' gains in dB
    kmeans_iterations: int = 20


def targets_from_positions(xyz: np.ndarray, k: int, iterations: int, z: float) -> np.ndarray:
    """(k, 3) focus points: k-means of the positions ``xyz`` (M, 3) in (x, y), started at the x-quantiles;
    height ``z``.  Fewer distinct positions than k: the quantile start is kept for the empty clusters."""
    xy = xyz[:, :2]
    order = np.argsort(xy[:, 0], kind="stable")
    centres = xy[order[np.linspace(0, len(xy) - 1, k).round().astype(int)]].astype(float)
    for _ in range(iterations):
        nearest = np.argmin(((xy[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        for c in range(k):
            members = xy[nearest == c]
            if len(members):
                centres[c] = members.mean(0)
    centres = centres[np.argsort(centres[:, 0], kind="stable")]
    return np.column_stack([centres, np.full(k, z)])


def project(x, length_m: float, spacing_m: float):
    """Positions (..., P) back onto the constraints: sorted, >= spacing apart, inside [0, length]."""
    import torch
    x, _ = torch.sort(x.clamp(0.0, length_m), dim=-1)
    cols = [x[..., 0]]
    for n in range(1, x.shape[-1]):
        cols.append(torch.maximum(x[..., n], cols[-1] + spacing_m))
    x = torch.stack(cols, -1)
    overflow = (x[..., -1] - length_m).clamp(min=0.0)
    return x - overflow[..., None]


def sum_rate_objective(books, users_xyz, have, cfg, frequency_hz: float, power_w: float, noise_w: float,
                       temperature_db: float):
    """Mean over frames of sum_u log2(1 + SINR_u) (torch); ``books`` (U, K, P) the users' waveguides'
    positions, ``users_xyz`` (F, U, 3) world positions, ``have`` (F, U) which users have a fix."""
    import torch
    u = books.shape[0]
    ones = torch.ones(books.shape[1:], dtype=torch.float64)
    h = torch.stack([pinching.effective_channels(books[w], users_xyz, ones, waveguide(cfg, w), frequency_hz)
                     for w in range(u)], 2)                                    # (F, U users, U guides, K)
    g = h.real ** 2 + h.imag ** 2
    own = g[:, torch.arange(u), torch.arange(u)]                               # (F, U, K)
    weight = torch.softmax(10 * torch.log10(own + 1e-30) / temperature_db, dim=-1)
    s = (g * weight[:, None]).sum(-1) * (power_w / u)                          # (F, users, guides)
    signal = torch.diagonal(s, dim1=1, dim2=2)
    active = have.to(s.dtype)
    interference = (s * active[:, None, :]).sum(-1) - signal * active
    sinr = signal / (interference + noise_w)
    return (torch.log2(1 + sinr) * active).sum(-1).mean()


def generate_codebook(cfg, frequency_hz: float, num_pas: int, users_xyz: np.ndarray, have: np.ndarray,
                      power_w: float, noise_w: float, gen: GenerationConfig,
                      progress: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """The generated codebook at ``num_pas`` PAs: (N, K, num_pas) positions, (N, K, 3) targets, and a
    record of the fit (the objective, in bit/s/Hz, of the geometric codebook, of the constructed one,
    and after refinement).  ``users_xyz`` (F, U, 3): the training frames' user positions (world
    metres), ``have`` (F, U) whether each has a fix; user u is served by waveguide u."""
    import torch
    from tqdm import tqdm
    pin = replace(cfg, num_pas=num_pas, codebook_positions={}, codebook_targets=())
    books = waveguide_books(pin, frequency_hz)                                 # geometric, (N, K, P)
    targets = waveguide_targets(pin)
    u = users_xyz.shape[1]
    xyz = torch.tensor(users_xyz, dtype=torch.float64)
    mask = torch.tensor(have)

    def objective(b) -> float:
        with torch.no_grad():
            return float(sum_rate_objective(torch.as_tensor(b[:u]), xyz, mask, pin, frequency_hz, power_w,
                                            noise_w, gen.temperature_db))
    record = {"num_pas": num_pas, "frames": int(len(users_xyz)), "objective_geometric": objective(books)}
    for w in range(u):
        points = users_xyz[have[:, w], w]
        if len(points) < cfg.num_codewords:
            continue
        targets[w] = targets_from_positions(points, cfg.num_codewords, gen.kmeans_iterations, cfg.target_z)
        books[w] = pinching.build_codebook(waveguide(pin, w), frequency_hz, targets[w])
    record["objective_constructed"] = objective(books)
    x = torch.tensor(books[:u], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([x], lr=gen.lr_m)
    for _ in tqdm(range(gen.iterations), desc=f"codebook {num_pas} PAs", disable=not progress):
        opt.zero_grad()
        value = sum_rate_objective(x, xyz, mask, pin, frequency_hz, power_w, noise_w, gen.temperature_db)
        (-value).backward()
        opt.step()
        with torch.no_grad():
            x.copy_(project(x, cfg.length_m, cfg.min_spacing_m))
    books[:u] = x.detach().numpy()
    record["objective_refined"] = objective(books)
    return books, targets, record
