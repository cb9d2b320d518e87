"""The LLM-PASS network (paper 003, Secs. III-B and IV-B): per-user tokens into one pretrained LLM.

Each user brings its tracker box series (RevIN, patches and a linear token map, eqs. 23-25:
:class:`beam_predictor.model.box_tokens.BoxTokenizer`), one token of its GPS track (the
window's positions in site metres with their missing flags, one linear map) and one token
of its GPS kinematics (the window's constant-velocity fit: steering angle, distance,
speed ...), and one token of the geometric codebook prior: each codeword's line-of-sight gain
at the newest fix from the site's own waveguide geometry
(:func:`beam_predictor.model.pass_data.codebook_prior`), which also enters the logits with a
learned scale, so the network learns what geometry misses (blockage, GPS error, the other
users).  The head starts at zero: untrained, the network is the prior.  A learned user-slot
embedding marks whose tokens they are, and the token sequences of all users enter the LLM
together (eq. 41), so attention sees every user at once.  Each user's hidden states are
mean-pooled and a head maps them to the K codewords of that user's waveguide (eq. 42).

Two-stage fine-tuning (Sec. IV-B): :meth:`PassNet.adapter_parameters` are the token maps,
the slot embeddings and the heads (the LLM frozen); :meth:`PassNet.add_lora` then injects
LoRA (peft) into the LLM's attention query and value projections, or with
``net.lora_experts`` E > 1 the paper's mixture of E LoRA experts with a token-wise gate
(MoE-LoRA, eq. 43; :mod:`beam_predictor.model.moe_lora`).
"""
from __future__ import annotations

import torch
from torch import nn

from beam_predictor.model.backbones import build_backbone
from beam_predictor.model.box_tokens import BoxTokenizer
from beam_predictor.model.config import PAHeadConfig
from beam_predictor.window import BOX_CHANNELS, KIN_CHANNELS, POSITION_CHANNELS

POSITION_SCALE_M = 30.0
LORA_TARGETS = ("query", "value")          # BERT / MiniLM attention projections
PRIOR_SCALE = 5.0       # initial weight of the prior in the logits: 2 dB of line-of-sight gain = 1 logit


class PassNet(nn.Module):
    def __init__(self, cfg, num_codewords: int):
        super().__init__()
        net = cfg.net
        self.users, self.num_codewords, self.net_cfg = cfg.users, num_codewords, net
        pa = PAHeadConfig(patch_len=net.patch_len, stride=net.stride, token_dim=net.token_dim)
        self.box = BoxTokenizer(BOX_CHANNELS, net.history, net.token_dim, pa)
        self.pos = nn.Linear(net.history * (POSITION_CHANNELS + 1), net.token_dim)
        self.kin = nn.Linear(KIN_CHANNELS + 1, net.token_dim)
        self.prior = nn.Linear(num_codewords, net.token_dim)
        self.prior_scale = nn.Parameter(torch.tensor(PRIOR_SCALE))
        self.slot = nn.Parameter(torch.zeros(cfg.users, 1, net.token_dim))
        self.tokens_per_user = self.box.num_tokens + 3
        self.backbone = build_backbone(net.backbone, net.token_dim, cfg.users * self.tokens_per_user, 0)
        self.source = self.backbone.source
        self.head = nn.Sequential(nn.Dropout(net.dropout),
                                  nn.Linear(self.backbone.hidden_size, num_codewords))
        nn.init.zeros_(self.head[-1].weight)        # a residual on the prior: untrained, the net is the prior
        nn.init.zeros_(self.head[-1].bias)
        self.lora = False

    def adapter_parameters(self) -> list[nn.Parameter]:
        """Stage 1: everything but the LLM."""
        llm = {id(p) for p in self.backbone.llm.parameters()}
        return [p for p in self.parameters() if id(p) not in llm and p.requires_grad]

    def add_lora(self) -> list[nn.Parameter]:
        """Stage 2: LoRA adapters in the frozen LLM's attention (peft), or with ``net.lora_experts`` E > 1 a
        mixture of E LoRA experts with a token-wise gate (eq. 43, :mod:`beam_predictor.model.moe_lora`);
        returns their parameters."""
        net = self.net_cfg
        self.lora = True
        if net.lora_experts > 1:
            from beam_predictor.model.moe_lora import inject
            return inject(self.backbone.llm, LORA_TARGETS, net.lora_experts, net.lora_r, net.lora_alpha,
                          net.lora_dropout)
        from peft import LoraConfig, inject_adapter_in_model
        inject_adapter_in_model(LoraConfig(r=net.lora_r, lora_alpha=net.lora_alpha,
                                           lora_dropout=net.lora_dropout, target_modules=list(LORA_TARGETS)),
                                self.backbone.llm)
        return [p for n, p in self.backbone.llm.named_parameters() if "lora_" in n]

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, U, K) codeword logits from the UsersWindow arrays (B, U, ...)."""
        box, pad = x["box"], x["pad"]
        b, u, length = pad.shape
        flat = {k: v.reshape(b * u, *v.shape[2:]) for k, v in x.items()}
        valid = (flat["box"][..., 4] > 0) & ~flat["pad"]
        tb, _ = self.box(flat["box"], valid)
        pos = torch.cat([flat["pos"] / POSITION_SCALE_M, flat["pos_missing"].float().unsqueeze(-1)], -1)
        tp = self.pos(pos.flatten(1)).unsqueeze(1)
        tk = self.kin(torch.cat([flat["kin"], flat["kin_missing"].float().unsqueeze(-1)], -1)).unsqueeze(1)
        tq = self.prior(flat["prior"]).unsqueeze(1)
        tokens = torch.cat([tb, tp, tk, tq], 1).reshape(b, u, self.tokens_per_user, -1) + self.slot[:u]
        mask = torch.zeros(b, u * self.tokens_per_user, dtype=torch.bool, device=box.device)   # no padding
        h = self.backbone(tokens.reshape(b, u * self.tokens_per_user, -1), mask)
        return self.head(h.reshape(b, u, self.tokens_per_user, -1).mean(2)) + self.prior_scale * x["prior"]
