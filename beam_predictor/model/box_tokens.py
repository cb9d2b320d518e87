"""UE bounding-box series to tokens (paper 003, eqs. 23-25): RevIN, patching, linear token map.

The box comes from the live tracker (YOLO + ByteTrack + GPS association), one row per
step: u_min, v_min, u_max, v_max over the image size and the visible flag
(:data:`beam_predictor.window.BOX_CHANNELS`).  Steps where the UE was not visible (or
padding) are masked: reversible instance normalisation (eq. 23, learnable affine) takes
its statistics over the visible steps only and the masked steps are zero after it; the
visible flag itself goes in unnormalised, so the tokens say where the box is unknown.
Each channel is cut into patches of length P with stride S, N_p = floor((L - P) / S) + 1
per channel (eq. 24), and each patch becomes a token through one linear layer (eq. 25).
RevIN's statistics (mean, std of the coordinates and the visible share) carry where the
UE is, so they become one extra token instead of being thrown away.  A window with no
visible step gives no usable token: :meth:`BoxTokenizer.forward` reports it so the
predictor masks them.
"""
from __future__ import annotations

import torch
from torch import nn

from beam_predictor.model.config import PAHeadConfig

COORDS = 4                        # the box's coordinate channels; the last channel is the visible flag


class RevIN(nn.Module):
    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor,
                valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, L, C), valid (B, L) -> normalised x, mean (B, C), std (B, C); invalid steps are 0."""
        w = valid.to(x.dtype).unsqueeze(-1)
        count = w.sum(1).clamp_min(1.0)
        mean = (x * w).sum(1) / count
        std = torch.sqrt(((x - mean[:, None]) ** 2 * w).sum(1) / count + self.eps)
        y = ((x - mean[:, None]) / std[:, None] * self.weight + self.bias) * w
        return y, mean, std


def num_patches(length: int, cfg: PAHeadConfig) -> int:
    if length < cfg.patch_len:
        raise ValueError(f"pa.patch_len {cfg.patch_len} is longer than the input length {length}")
    return (length - cfg.patch_len) // cfg.stride + 1


class BoxTokenizer(nn.Module):
    """(B, L, C) box series -> (B, C * N_p + 1, out_dim) tokens and a (B,) "no visible step" flag."""

    def __init__(self, channels: int, length: int, out_dim: int, cfg: PAHeadConfig):
        super().__init__()
        self.cfg = cfg
        self.revin = RevIN(COORDS)
        self.patch_map = nn.Linear(cfg.patch_len, cfg.token_dim)
        self.channel_embedding = nn.Parameter(torch.zeros(channels, 1, cfg.token_dim))
        self.stats_map = nn.Linear(2 * COORDS + 1, cfg.token_dim)
        self.out = nn.Linear(cfg.token_dim, out_dim)
        self.num_tokens = channels * num_patches(length, cfg) + 1

    def forward(self, box: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``valid`` (B, L): visible and not padding."""
        y, mean, std = self.revin(box[..., :COORDS], valid)
        seen = valid.to(box.dtype)
        series = torch.cat([y, seen.unsqueeze(-1)], dim=-1)
        patches = series.transpose(1, 2).unfold(-1, self.cfg.patch_len, self.cfg.stride)   # (B, C, N_p, P)
        tokens = (self.patch_map(patches) + self.channel_embedding).flatten(1, 2)
        share = seen.mean(1, keepdim=True)
        stats = self.stats_map(torch.cat([mean, std, share], dim=-1)).unsqueeze(1)
        return self.out(torch.cat([tokens, stats], dim=1)), ~valid.any(dim=1)
