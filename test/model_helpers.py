"""Synthetic windows, tables and tiny configs for the model tests."""
from pathlib import Path

import numpy as np

from beam_predictor.model.config import ModelConfig, with_overrides
from beam_predictor.model.data import FrameTable, Windows
from beam_predictor.physics.geo import enu_to_latlon
from beam_predictor.physics.site import SiteGeometry
from beam_predictor.window import BOX_CHANNELS, KIN, KIN_CHANNELS

TINY_GPT2 = {"backbone": {"kind": "gpt2", "gpt2_layers": 2, "gpt2_width": 32, "gpt2_heads": 2,
                          "unfreeze_last": 1},
             "fusion": {"feature_dim": 16, "heads": 2, "ffn_dim": 32}, "pa": {"token_dim": 8}}
REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "twin_sample"          # the sample twin scenario (`make test` builds it)
SITE = SiteGeometry(bs_latlon=(33.42, -111.93), heading_deg=0.0, array_height_m=5.0, ue_antenna_height_m=1.7)


def model_config_for_tests() -> ModelConfig:
    """The shipped model config (its input format decides the windows), with a cheap backbone."""
    from beam_predictor.config import config_path, load_config
    return with_overrides(load_config(ModelConfig, config_path("model.yaml")), {"backbone": {"kind": "gru"}})


def tiny_config(**over) -> ModelConfig:
    cfg = with_overrides(ModelConfig(), TINY_GPT2)
    return with_overrides(cfg, over) if over else cfg


def synthetic_windows(n: int, cfg: ModelConfig, num_codewords: int = 4, seed: int = 0) -> Windows:
    """Windows whose beams and codewords are a function of the features (learnable); the kinematic
    input points half-way across the codebook, so the prior alone cannot tell the beams apart."""
    rng = np.random.default_rng(seed)
    length, steps, h = cfg.task.input_len, cfg.task.horizon + 1, cfg.task.history
    n_mod, m = len(cfg.fusion.modalities), cfg.fusion.feature_dim
    beam = rng.integers(0, 64, size=n)
    feats = rng.normal(size=(n, length, n_mod, m)).astype(np.float32)
    feats[:, :, :, 0] += (beam[:, None, None] / 8.0).astype(np.float32)
    pad = np.zeros((n, length), bool)
    pad[:, :length - h] = True
    feats[pad] = 0
    missing = np.repeat(pad[:, :, None], n_mod, axis=2)
    kin = np.zeros((n, steps, KIN_CHANNELS), np.float32)
    kin[..., KIN["beam"]] = 0.5
    power = rng.random((n, steps, 64)).astype(np.float32)
    gain = rng.normal(-100, 5, size=(n, steps, num_codewords)).astype(np.float32)
    gain[np.arange(n), :, beam % num_codewords] = -60
    inputs = {"feats": feats, "missing": missing, "pad": pad,
              "box": np.zeros((n, length, BOX_CHANNELS), np.float32), "kin": kin,
              "kin_missing": np.zeros(n, bool)}
    return Windows(inputs=inputs, beam=np.repeat(beam[:, None], steps, axis=1), power=power, pa_gain_db=gain,
                   past_beam=np.repeat(beam[:, None], h, axis=1),
                   beam_before=beam.copy(), category=np.zeros((n, steps), np.int8),
                   seq=np.arange(n), frame=np.arange(n), stamp=np.arange(n) * 100_000_000)


def synthetic_table(pass_lengths, n_mod=2, m=4, k=3, speed=10.0) -> FrameTable:
    """Passes at 10 Hz, 1 s apart or more; the UE drives east at ``speed``, 12 m north of the array,
    from 5 m west of it."""
    seq = np.concatenate([np.full(n, i + 1) for i, n in enumerate(pass_lengths)])
    pos = np.concatenate([np.arange(n) for n in pass_lengths])
    f = len(seq)
    mods = ["image", "gps"][:n_mod]
    idx = np.arange(1, f + 1)
    stamp = (seq * 100 + pos * 0.1) * 1e9
    latlon = enu_to_latlon(-5.0 + speed * 0.1 * pos, np.full(f, 12.0), SITE.bs_latlon)
    return FrameTable(index=idx, seq=seq, split=np.array(["train"] * f), stamp_ns=stamp.astype(np.int64),
                      features={md: np.tile(idx[:, None], (1, m)).astype(np.float32) for md in mods},
                      missing={md: np.zeros(f, bool) for md in mods},
                      box=np.tile([0.1, 0.2, 0.3, 0.4], (f, 1)).astype(np.float32), box_visible=idx % 3 != 0,
                      latlon=latlon, beam=idx % 64, power=np.ones((f, 64), np.float32),
                      pa_gain_db=np.zeros((f, k), np.float32), category=np.zeros(f, np.int8),
                      pa_codebook=None, encoder_versions={}, site=SITE)
