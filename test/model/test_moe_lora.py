"""MoE-LoRA (paper 003, eq. 43): a gated mixture of LoRA experts on a frozen linear layer."""
import pytest
import torch
from torch import nn

from beam_predictor.model.moe_lora import MoELoRALinear, inject


def test_starts_as_the_frozen_layer_and_trains_experts_and_gate():
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    layer = MoELoRALinear(base, experts=3, r=2, alpha=4, dropout=0.0)
    x = torch.randn(4, 7, 6)
    torch.testing.assert_close(layer(x), base(x))                  # B = 0: unchanged until trained
    assert not any(p.requires_grad for p in base.parameters())
    opt = torch.optim.SGD([layer.A, layer.B, *layer.gate.parameters()], lr=0.1)
    target = torch.randn(4, 7, 5)
    for _ in range(3):
        opt.zero_grad()
        ((layer(x) - target) ** 2).mean().backward()
        opt.step()
    assert layer.B.abs().sum() > 0 and layer.gate.weight.grad.abs().sum() > 0
    # the update is the gate-weighted sum of the experts' low-rank maps
    g = torch.softmax(layer.gate(x), -1)
    each = torch.stack([x @ layer.A[e].T @ layer.B[e].T for e in range(3)], -2)
    torch.testing.assert_close(layer(x), base(x) + layer.scale * (g[..., None] * each).sum(-2))


def test_inject_wraps_the_named_layers_only():
    model = nn.Sequential()
    model.add_module("query", nn.Linear(4, 4))
    model.add_module("key", nn.Linear(4, 4))
    params = inject(model, ("query",), experts=2, r=2, alpha=2, dropout=0.0)
    assert isinstance(model.query, MoELoRALinear) and isinstance(model.key, nn.Linear) and len(params) == 4
    with pytest.raises(ValueError, match="no linear layer"):
        inject(model, ("value",), 2, 2, 2, 0.0)
    with pytest.raises(ValueError, match="2 experts"):
        MoELoRALinear(nn.Linear(2, 2), 1, 2, 2, 0.0)
