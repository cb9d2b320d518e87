"""Multimodal fusion of one time step's modality tokens (paper 000, eqs. 14-16).

Each step's L2-normalised modality features form a small token set; multi-head
self-attention (Q = K = V) lets every modality attend to the others, the attended tokens
are summed over the present modalities and refined by a position-wise FFN.  A learned
modality embedding is added first so attention knows which token is which sensor (an
addition to the paper, which leaves it implicit).

Missing modalities are masked out of attention and of the sum (never zero-imputed); a
step with no modality at all gives a zero vector and is flagged.  (Modality dropout in
training is the predictor's: :meth:`BeamPredictor.drop_inputs`.)
"""
from __future__ import annotations

import torch
from torch import nn

from beam_predictor.model.alignment import l2_normalise
from beam_predictor.model.config import FusionConfig


class ModalityFusion(nn.Module):
    def __init__(self, cfg: FusionConfig):
        super().__init__()
        self.cfg = cfg
        n, m = len(cfg.modalities), cfg.feature_dim
        self.modality_embedding = nn.Parameter(torch.zeros(n, m))
        self.attention = nn.MultiheadAttention(m, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.norm = nn.LayerNorm(m)
        self.ffn = nn.Sequential(nn.Linear(m, cfg.ffn_dim), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.ffn_dim, m))

    def forward(self, feats: torch.Tensor, missing: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """feats (B, L, n_mod, M), missing (B, L, n_mod) -> fused (B, L, M), empty step mask (B, L)."""
        b, length, n, m = feats.shape
        tokens = (l2_normalise(feats) + self.modality_embedding).reshape(b * length, n, m)
        miss = missing.reshape(b * length, n)
        empty = miss.all(dim=1)
        # rows with nothing present attend to everything (result discarded) to avoid NaN softmax
        key_mask = miss & ~empty[:, None]
        attended, _ = self.attention(tokens, tokens, tokens, key_padding_mask=key_mask, need_weights=False)
        present = (~miss).unsqueeze(-1).to(attended.dtype)
        fused = self.norm((attended * present).sum(dim=1))
        fused = fused + self.ffn(fused)
        fused = fused.masked_fill(empty[:, None], 0.0)
        return fused.reshape(b, length, m), empty.reshape(b, length)
