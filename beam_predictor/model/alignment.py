"""Contrastive multimodal alignment (paper 000, eqs. 12, 13, 21).

Features are L2-normalised onto the unit sphere (eq. 12); the cosine similarities between
every pair of samples of two modalities form the matrix of eq. 13; NT-Xent/InfoNCE
(eq. 21) pulls the same time step's features of two modalities together and pushes the
other samples of the batch away.  Pairs where either side is missing are left out.

Negatives must really be other scenes: frames of the same pass within ``span`` frames of
the anchor (its neighbours, and the same frame repeated by overlapping windows) look
alike and are left out of its negatives.
"""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F


def l2_normalise(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def similarity_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, N) cosine similarity of every row of ``a`` with every row of ``b``."""
    return l2_normalise(a) @ l2_normalise(b).T


def info_nce(feats: torch.Tensor, missing: torch.Tensor, temperature: float, seq: torch.Tensor | None = None,
             frame: torch.Tensor | None = None, span: int = 0) -> torch.Tensor:
    """Mean symmetric InfoNCE over modality pairs.

    feats: (N, n_mod, M) features of N samples (time steps flattened into N);
    missing: (N, n_mod) bool; seq, frame: (N,) pass and frame index of each sample, whose
    same-pass neighbours closer than ``span`` frames are not negatives.  Returns 0 when no
    pair has two present rows.
    """
    near = None
    if seq is not None and frame is not None and span > 0:
        near = (seq[:, None] == seq[None, :]) & ((frame[:, None] - frame[None, :]).abs() < span)
        near.fill_diagonal_(False)
    losses = []
    for i, j in itertools.combinations(range(feats.shape[1]), 2):
        rows = ~(missing[:, i] | missing[:, j])
        if int(rows.sum()) < 2:
            continue
        logits = similarity_matrix(feats[rows, i], feats[rows, j]) / temperature
        if near is not None:
            logits = logits.masked_fill(near[rows][:, rows], float("-inf"))
        target = torch.arange(logits.shape[0], device=logits.device)
        losses.append(0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)))
    if not losses:
        return feats.sum() * 0.0
    return torch.stack(losses).mean()
