"""Synthetic windows and tiny configs for the model tests."""
import numpy as np

from beam_predictor.model.config import ModelConfig, with_overrides
from beam_predictor.model.data import BOX_CHANNELS, FrameTable, Windows

TINY_GPT2 = {"backbone": {"kind": "gpt2", "gpt2_layers": 2, "gpt2_width": 32, "gpt2_heads": 2,
                          "unfreeze_last": 1},
             "fusion": {"feature_dim": 16, "heads": 2, "ffn_dim": 32}, "pa": {"token_dim": 8}}


def tiny_config(**over) -> ModelConfig:
    cfg = with_overrides(ModelConfig(), TINY_GPT2)
    return with_overrides(cfg, over) if over else cfg


def synthetic_windows(n: int, cfg: ModelConfig, num_codewords: int = 4, seed: int = 0) -> Windows:
    """Windows whose beams and codewords are a function of the features (learnable)."""
    rng = np.random.default_rng(seed)
    length, steps = cfg.task.input_len, cfg.task.horizon + 1
    n_mod, m = len(cfg.fusion.modalities), cfg.fusion.feature_dim
    beam = rng.integers(0, 64, size=n)
    feats = rng.normal(size=(n, length, n_mod, m)).astype(np.float32)
    feats[:, :, :, 0] += (beam[:, None, None] / 8.0).astype(np.float32)
    pad = np.zeros((n, length), bool)
    pad[:, :length - cfg.task.history] = True
    feats[pad] = 0
    missing = np.repeat(pad[:, :, None], n_mod, axis=2)
    power = rng.random((n, steps, 64)).astype(np.float32)
    gain = rng.normal(-100, 5, size=(n, steps, num_codewords)).astype(np.float32)
    gain[np.arange(n), :, beam % num_codewords] = -60
    return Windows(feats=feats, missing=missing, pad=pad, box=np.zeros((n, length, BOX_CHANNELS), np.float32),
                   beam=np.repeat(beam[:, None], steps, axis=1), power=power, pa_gain_db=gain,
                   seq=np.arange(n), frame=np.arange(n))


def synthetic_table(pass_lengths, n_mod=2, m=4, k=3) -> FrameTable:
    seq = np.concatenate([np.full(n, i + 1) for i, n in enumerate(pass_lengths)])
    f = len(seq)
    mods = ["image", "gps"][:n_mod]
    idx = np.arange(1, f + 1)
    return FrameTable(index=idx, seq=seq, split=np.array(["train"] * f), beam=idx % 64,
                      power=np.ones((f, 64), np.float32),
                      features={md: np.tile(idx[:, None], (1, m)).astype(np.float32) for md in mods},
                      missing={md: np.zeros(f, bool) for md in mods},
                      box=np.zeros((f, BOX_CHANNELS), np.float32),
                      pa_gain_db=np.zeros((f, k), np.float32), pa_codebook=None, encoder_versions={})
