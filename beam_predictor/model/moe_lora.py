"""Mixture of LoRA experts (MoE-LoRA, paper 003 eq. 43) on a frozen linear layer.

    y = W0 x + b + (alpha / r) * sum_e g_e(x) B_e A_e x,     g(x) = softmax(G x)   (E experts)

Each expert is a rank-r LoRA pair (A_e, B_e); a token-wise gate G picks how much of each expert
every token uses, so different users and scenarios can lean on different low-rank updates.  B
starts at zero (the wrapped layer is unchanged until training moves it), A as LoRA initialises
it.  The frozen weights stay in ``base_layer``, where peft keeps them too, so the frozen-weight
digest of a checkpoint is the same whichever adapter is injected.

Why by hand: peft has one mixture of LoRA experts, X-LoRA, which is another design.  It loads
LoRA experts trained and saved beforehand, freezes them, and trains a classifier that scales
them from the hidden states of an extra forward pass of the whole model.  The paper's experts
and gate are trained together in its second stage, inside each adapted layer, which is this.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class MoELoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, experts: int, r: int, alpha: float, dropout: float):
        super().__init__()
        if experts < 2:
            raise ValueError(f"MoE-LoRA needs at least 2 experts, got {experts}")
        self.base_layer = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.scale = alpha / r
        self.A = nn.Parameter(torch.empty(experts, r, base.in_features))
        self.B = nn.Parameter(torch.zeros(experts, base.out_features, r))
        for e in range(experts):
            nn.init.kaiming_uniform_(self.A.data[e], a=math.sqrt(5))
        self.gate = nn.Linear(base.in_features, experts)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.softmax(self.gate(x), dim=-1)                                  # (..., E)
        low = torch.einsum("...i,eri->...er", self.dropout(x), self.A)          # (..., E, r)
        update = torch.einsum("...er,eor->...o", low * g[..., None], self.B)    # gated sum over experts
        return self.base_layer(x) + self.scale * update


def inject(model: nn.Module, targets: tuple[str, ...], experts: int, r: int, alpha: float,
           dropout: float) -> list[nn.Parameter]:
    """Wrap every linear layer of ``model`` whose name ends with one of ``targets``; the new parameters."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.split(".")[-1] in targets]
    if not names:
        raise ValueError(f"no linear layer named {targets} to adapt")
    params = []
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer = MoELoRALinear(getattr(parent, child), experts, r, alpha, dropout)
        setattr(parent, child, layer)
        params += [layer.A, layer.B, *layer.gate.parameters()]
    return params
