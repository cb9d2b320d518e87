import pytest
import torch

from beam_predictor.config import ConfigError
from beam_predictor.model.backbones import ProbSparseAttention, build_backbone
from beam_predictor.model.config import BackboneConfig

# one all-MiniLM-L6-v2 block (hidden 384, intermediate 1536), counted by hand:
# Q, K, V 3 * (384 * 384 + 384) + attention output 384 * 384 + 384 + LayerNorm 2 * 384
# + intermediate 384 * 1536 + 1536 + output 1536 * 384 + 384 + LayerNorm 2 * 384
MINILM_BLOCK = 3 * (384 * 384 + 384) + 384 * 384 + 384 + 768 + 384 * 1536 + 1536 + 1536 * 384 + 384 + 768
# one GPT-2 block at width 32: ln_1 + c_attn (32 -> 96) + c_proj + ln_2 +
# c_fc (32 -> 128) + c_proj (128 -> 32)
GPT2_BLOCK_32 = 64 + (32 * 96 + 96) + (32 * 32 + 32) + 64 + (32 * 128 + 128) + (128 * 32 + 32)


def trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.mark.parametrize("n", [0, 2, 6])
def test_minilm_freezing_exact_counts(n):
    bb = build_backbone(BackboneConfig(kind="minilm", unfreeze_last=n), d_in=16, seq_len=8, time_len=8)
    assert MINILM_BLOCK == 1_774_464
    assert trainable(bb.llm) == n * MINILM_BLOCK
    assert trainable(bb.input) == 16 * 384 + 384
    assert "pretrained" in bb.source
    out = bb(torch.randn(2, 8, 16), torch.zeros(2, 8, dtype=torch.bool))
    assert out.shape == (2, 8, 384)


def test_gpt2_random_init_freezing_counts_and_reproducible():
    cfg = BackboneConfig(kind="gpt2", gpt2_layers=2, gpt2_width=32, gpt2_heads=2, unfreeze_last=1)
    a = build_backbone(cfg, d_in=16, seq_len=8, time_len=8)
    assert trainable(a.llm) == GPT2_BLOCK_32 + 64                 # last block + final layer norm
    assert "RANDOM INIT" in a.source
    b = build_backbone(cfg, d_in=16, seq_len=8, time_len=8)
    assert a.frozen_digest() == b.frozen_digest()                 # the seed rebuilds the frozen weights
    c = build_backbone(BackboneConfig(**{**cfg.__dict__, "init_seed": 1}), d_in=16, seq_len=8, time_len=8)
    assert c.frozen_digest() != a.frozen_digest()


def test_unfreeze_more_blocks_than_exist_is_a_config_error():
    with pytest.raises(ConfigError, match="unfreeze_last"):
        build_backbone(BackboneConfig(kind="gpt2", gpt2_layers=2, gpt2_width=32, gpt2_heads=2,
                                      unfreeze_last=3),
                       16, 8, 8)


def test_missing_gpt2_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="gpt2_path"):
        build_backbone(BackboneConfig(kind="gpt2", gpt2_path=str(tmp_path)), 16, 8, 8)


@pytest.mark.parametrize("kind,out_len,hidden", [("gru", 24, 32), ("lstm", 24, 32), ("nlinear", 24, 16),
                                                 ("informer", 12, 32)])
def test_baseline_shapes(kind, out_len, hidden):
    bb = build_backbone(BackboneConfig(kind=kind, hidden=32, layers=2, heads=4), d_in=16, seq_len=24,
                        time_len=8)
    pad = torch.zeros(3, 24, dtype=torch.bool)
    pad[:, :5] = True
    out = bb(torch.randn(3, 24, 16), pad)
    assert out.shape == (3, out_len, hidden) == (3, bb.out_len, bb.hidden_size)
    assert torch.isfinite(out).all()


def test_nlinear_normalises_by_the_last_observed_step_not_the_last_token():
    bb = build_backbone(BackboneConfig(kind="nlinear"), d_in=4, seq_len=6, time_len=3)
    with torch.no_grad():
        bb.time.weight.zero_()
        bb.time.bias.zero_()
    x = torch.randn(2, 6, 4)
    # with the time map zeroed, every output token is the newest observed step (token 2), not token 5
    torch.testing.assert_close(bb(x, torch.zeros(2, 6, dtype=torch.bool)), x[:, 2:3].expand(-1, 6, -1))


def test_probsparse_lazy_queries_get_mean_of_values():
    torch.manual_seed(0)
    attn = ProbSparseAttention(d=8, heads=1, factor=1, dropout=0.0).eval()
    x = torch.randn(1, 64, 8)                          # u = ceil(ln 64) = 5 active queries of 64
    out = attn(x, torch.zeros(1, 64, dtype=torch.bool))
    _, _, v = attn.qkv(x).chunk(3, dim=-1)
    lazy = attn.out(v.mean(dim=1, keepdim=True))       # what every non-selected query returns
    same = torch.isclose(out, lazy.expand_as(out), atol=1e-5).all(dim=-1)
    assert int(same.sum()) == 64 - 5
