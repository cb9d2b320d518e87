"""The beam predictor: feature adapters, alignment, fusion, temporal backbone and the two heads.

Data flow for one window (B windows of L = ``task.input_len`` steps):

1. The cached encoder features (B, L, n_mod, M) are standardised with training statistics
   (buffers, stored in the checkpoint) and passed through one trainable linear adapter per
   modality.  The encoders themselves are frozen (their features are cached), so the
   adapters are what the alignment loss (eq. 21) shapes.
2. :class:`ModalityFusion` turns each step's modality tokens into one fused vector (eqs. 14-16).
3. With the PA head enabled, the UE box series becomes C * N_p + 1 tokens (paper 003) that
   are appended after the L fused tokens, so the backbone sees both.
4. The backbone (LLM or baseline) gives hidden states; the output projection maps each back
   to the feature width M (paper 000, III-E).
5. How L input tokens become T + 1 outputs: the projected states of *all* output tokens are
   flattened and one linear layer maps them to (T + 1) x 64 beam logits, offsets 0..T
   (offset 0 is the current frame).  This is the flatten-and-project head of
   time-series LLMs (GPT4TS/Time-LLM): every future step can use every input step, the
   LLM runs once per window instead of T autoregressive passes, and the number of outputs
   is independent of H (few-shot H=3 and standard H=8 share the architecture).  The PA head
   maps the same vector to (T + 1) x K codeword logits.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from beam_predictor import contract
from beam_predictor.model.backbones import build_backbone
from beam_predictor.model.box_tokens import BoxTokenizer
from beam_predictor.model.config import ModelConfig
from beam_predictor.model.data import BOX_CHANNELS
from beam_predictor.model.fusion import ModalityFusion


class BeamPredictor(nn.Module):
    def __init__(self, cfg: ModelConfig, num_codewords: int = 0):
        super().__init__()
        self.cfg = cfg
        n, m = len(cfg.fusion.modalities), cfg.fusion.feature_dim
        length, steps = cfg.task.input_len, cfg.task.horizon + 1
        self.register_buffer("feat_mean", torch.zeros(n, m))
        self.register_buffer("feat_std", torch.ones(n, m))
        self.adapter_weight = nn.Parameter(torch.eye(m).repeat(n, 1, 1))
        self.adapter_bias = nn.Parameter(torch.zeros(n, m))
        self.fusion = ModalityFusion(cfg.fusion)
        self.num_codewords = num_codewords if cfg.pa.enabled else 0
        self.box = BoxTokenizer(BOX_CHANNELS, length, m, cfg.pa) if self.num_codewords else None
        seq_len = length + (self.box.num_tokens if self.box is not None else 0)
        self.backbone = build_backbone(cfg.backbone, m, seq_len)
        self.out_proj = nn.Linear(self.backbone.hidden_size, m)
        flat = self.backbone.out_len * m
        self.beam_head = nn.Sequential(nn.Dropout(cfg.backbone.dropout),
                                       nn.Linear(flat, steps * contract.NUM_BEAMS))
        self.pa_head = nn.Linear(flat, steps * self.num_codewords) if self.num_codewords else None

    def set_feature_stats(self, feats: np.ndarray, missing: np.ndarray) -> None:
        """Per-modality mean/std of the training features (only present rows count)."""
        for i in range(feats.shape[-2]):
            rows = feats[..., i, :][~missing[..., i]]
            if len(rows):
                self.feat_mean[i] = torch.from_numpy(rows.mean(0))
                self.feat_std[i] = torch.from_numpy(np.maximum(rows.std(0), 1e-3))

    def adapt(self, feats: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
        x = (feats - self.feat_mean) / self.feat_std
        x = torch.einsum("blnm,nmk->blnk", x, self.adapter_weight) + self.adapter_bias
        return x.masked_fill(missing.unsqueeze(-1), 0.0)

    def forward(self, feats: torch.Tensor, missing: torch.Tensor, pad: torch.Tensor,
                box: torch.Tensor) -> dict[str, torch.Tensor]:
        missing = self.fusion.drop_modalities(missing)
        aligned = self.adapt(feats, missing)
        fused, _ = self.fusion(aligned, missing)
        tokens, token_pad = fused, pad
        if self.box is not None:
            box_tokens = self.box(box, pad)
            tokens = torch.cat([fused, box_tokens], dim=1)
            token_pad = torch.cat([pad, pad.new_zeros(pad.shape[0], box_tokens.shape[1])], dim=1)
        z = self.out_proj(self.backbone(tokens, token_pad)).flatten(1)
        b, steps = z.shape[0], self.cfg.task.horizon + 1
        out = {"beam_logits": self.beam_head(z).view(b, steps, contract.NUM_BEAMS),
               "aligned": aligned, "missing": missing}
        if self.pa_head is not None:
            out["pa_logits"] = self.pa_head(z).view(b, steps, self.num_codewords)
        return out


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total
