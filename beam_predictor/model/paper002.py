"""MLM-BP (paper 002) and its baselines, on the window inputs every predictor shares.

MLM-BP (``kind: mlm_bp``), paper 002 Sec. III mapped onto what can be had offline here:

* **Positions as text.**  The fix of every observed step, in metres of the site frame
  (along the array axis, along the boresight, the UE antenna's height over the array;
  :meth:`beam_predictor.window.HistoryWindow.arrays`), is written
  ``"Position: 12.3, -4.5, -4.2"`` (several steps: ``"Position: x, y, z; x, y, z"``,
  oldest first; a step without a fix reads ``unknown``).  The text is tokenised by the
  tokenizer shipped with all-MiniLM-L6-v2 and embedded by MiniLM's own frozen word
  embeddings.  How numbers tokenise (BERT WordPiece, uncased): ``12.3`` becomes the three
  tokens ``12``, ``.``, ``3``; a minus sign is a token of its own; integers up to a few
  hundred are single vocabulary entries.  Two nearby positions therefore share all their
  tokens but the last digits, which is what makes nearby positions embed nearby
  (``test/model/test_paper002.py``).
* **Image tokens.**  The image encoder is the package's pretrained ResNet-18 image
  encoder (``encoder_image.pt`` of ``make pretrain``; no pretrained vision weights such as
  SigLIP's can be had offline).  Its last feature map, before pooling, gives one token per
  cell (4 x 4 = 16 patches at 112 px), which a two-layer aligner projects to the LLM
  width.  ``paper002.lora``: LoRA (peft; rank ``lora_r``, scaling ``lora_alpha``) on every
  convolution, plus the BatchNorm weights unfrozen (the CNN's normalisation layers: the
  paper's LoRA on q, k, v and unfrozen LayerNorms of a ViT, for a CNN).  ``lora: false``
  fine-tunes the whole encoder instead.
* **The LLM**: MiniLM with only its LayerNorms trained (``backbone.train_norms_only`` with
  ``unfreeze_last: 0``), fed [image tokens | text tokens] as input embeddings.
* **The head**: the mean of the output states over the present tokens, then an MLP with
  three hidden layers to (T + 1) x 64 beam logits (and a linear PA head when enabled).
* Training: whole-image dropout with probability ``fusion.modality_dropout``, so a silent
  camera degrades the prediction instead of breaking it.

The baselines of paper 002 (Sec. IV-A3), on the same windows:

* ``position_dnn``: the positions of the observed steps (scaled by ``position_scale_m``,
  with a missing flag each) through an input layer and 5 residual blocks of LayerNorm +
  linear + ReLU.
* ``vision_cnn``: the newest image through 3 convolution layers (BatchNorm, ReLU, dropout,
  stride 2), global pooling and a linear layer.
* ``resnet_position`` (the paper's reference [8]): the frozen pretrained ResNet's pooled
  feature concatenated with the scaled positions, then an MLP with 2 hidden layers.

Written here rather than taken from a library: the models are the paper's small
networks assembled from torch and torchvision blocks; LoRA itself is peft's.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from beam_predictor import contract
from beam_predictor.config import ConfigError
from beam_predictor.model.backbones import LLMBackbone, minilm_package_dir
from beam_predictor.model.config import ModelConfig, Paper002Config
from beam_predictor.sensing.encoders import resnet18_trunk
from beam_predictor.window import POSITION_CHANNELS

log = logging.getLogger(__name__)

TOKENS_PER_STEP = 14        # "-130.0, 48.7, -4.2;" is at most 14 WordPiece tokens at one decimal


def position_text(pos: np.ndarray, missing: np.ndarray, decimals: int = 1) -> str:
    """The text of one window's observed positions (L, 3) with their missing flags (L,)."""
    steps = ["unknown" if m else ", ".join(f"{v:.{decimals}f}" for v in p) for p, m in zip(pos, missing)]
    return "Position: " + "; ".join(steps)


class PositionText:
    """Window positions -> token ids of their text, by the LLM's own tokenizer."""

    def __init__(self, cfg: Paper002Config, steps: int, tokenizer_dir: Path):
        from transformers import AutoTokenizer
        self.cfg, self.steps = cfg, steps
        self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
        self.max_len = 4 + TOKENS_PER_STEP * steps

    def texts(self, pos: torch.Tensor, missing: torch.Tensor, pad: torch.Tensor) -> list[str]:
        """One text per window; padding steps (before the pass began) are left out, and a position
        beyond ``max_range_m`` reads as unknown (training refuses such fixes: ``make_windows``)."""
        p, m, keep = pos.detach().cpu().numpy(), missing.cpu().numpy(), ~pad.cpu().numpy()
        m = m | (np.linalg.norm(p[..., :2], axis=-1) > self.cfg.max_range_m)
        return [position_text(p[i][keep[i]], m[i][keep[i]], self.cfg.decimals) for i in range(len(p))]

    def __call__(self, pos: torch.Tensor, missing: torch.Tensor, pad: torch.Tensor):
        """(token ids (B, max_len), token padding mask (B, max_len), True = padding)."""
        enc = self.tokenizer(self.texts(pos, missing, pad), padding="max_length", truncation=True,
                             max_length=self.max_len, return_tensors="pt")
        return enc["input_ids"].to(pos.device), enc["attention_mask"].to(pos.device) == 0


def _load_pretrained_trunk(path: Path, width: int) -> nn.Module:
    """The trunk of a pretrained image encoder (``make pretrain``), checked against ``width``."""
    from beam_predictor.sensing.features import load_encoder
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no pretrained image encoder (build it with `make pretrain`)")
    encoder, sensing, ckpt = load_encoder(path)
    if ckpt["modality"] != "image":
        raise ConfigError(f"{path}: an encoder of '{ckpt['modality']}', not of images")
    if sensing.encoder.image_width != width:
        raise ConfigError(f"paper002.image_width {width} differs from {path}'s encoder.image_width "
                          f"{sensing.encoder.image_width}")
    return encoder.trunk


class ImageTokens(nn.Module):
    """ResNet-18 feature map -> patch tokens -> aligner to the LLM width; LoRA or full fine-tuning."""

    def __init__(self, cfg: Paper002Config, d_model: int, lora: bool):
        super().__init__()
        self.trunk = resnet18_trunk(3, cfg.image_width)[:-2]     # without pooling: (B, 8w, S/32, S/32)
        self.lora = lora
        if lora:
            from peft import LoraConfig, inject_adapter_in_model
            convs = [n for n, m in self.trunk.named_modules() if isinstance(m, nn.Conv2d)]
            lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                              target_modules=convs)
            inject_adapter_in_model(lora, self.trunk)
            for m in self.trunk.modules():             # the normalisation layers train too
                if isinstance(m, nn.BatchNorm2d):
                    for p in m.parameters():
                        p.requires_grad_(True)
        channels = 8 * cfg.image_width
        self.aligner = nn.Sequential(nn.Linear(channels, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.num_tokens = (cfg.image_size // 32) ** 2

    @torch.no_grad()
    def load_pretrained(self, path: Path, width: int) -> None:
        """Copy the pretrained encoder's weights under the LoRA wrappers (their deltas stay zero)."""
        source = _load_pretrained_trunk(path, width)[:-2].state_dict()
        target = self.trunk.state_dict()
        mapped = {}
        for key, value in source.items():
            wrapped = ".base_layer.".join(key.rsplit(".", 1))
            mapped[key if key in target else wrapped] = value
        missing, unexpected = self.trunk.load_state_dict(mapped, strict=False)
        lost = [k for k in missing if "lora_" not in k]
        if lost or unexpected:
            raise ConfigError(f"{path}: encoder weights do not fit (missing {lost[:3]}, unexpected "
                              f"{unexpected[:3]})")

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        fmap = self.trunk(image)                                  # (B, C, h, w)
        return self.aligner(fmap.flatten(2).transpose(1, 2))      # (B, h*w, d)


def _mlp(d_in: int, hidden, d_out: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d_in, h), nn.ReLU(), nn.Dropout(dropout)]
        d_in = h
    return nn.Sequential(*layers, nn.Linear(d_in, d_out))


class _Paper002Model(nn.Module):
    """Shared parts: the (T+1) x 64 output layout, a PA head, and the pretrained-encoder hook."""

    pretrained_image = False           # starts from the pretrained image encoder (load_pretrained)

    def __init__(self, cfg: ModelConfig, num_codewords: int):
        super().__init__()
        self.cfg, self.steps = cfg, cfg.task.horizon + 1
        self.num_codewords = num_codewords if cfg.pa.enabled else 0

    def prepare(self, train, image_encoder: Path | None = None) -> list[nn.Parameter]:
        """Before training: start the image encoder from the pretrained one.  No parameter
        needs a learning rate of its own."""
        if self.pretrained_image:
            if image_encoder is None:
                raise ConfigError(f"kind {self.cfg.kind} starts from the pretrained image encoder: "
                                  "load the frame table with images=True")
            self.load_pretrained(Path(image_encoder))
            self.source += f"; image encoder from {image_encoder}"
            log.info("%s: image encoder starts from the pretrained weights of %s", self.cfg.kind,
                     image_encoder)
        return []

    def outputs(self, z: torch.Tensor, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"beam_logits": logits.view(len(z), self.steps, contract.NUM_BEAMS)}
        if self.pa_head is not None:
            out["pa_logits"] = self.pa_head(z).view(len(z), self.steps, self.num_codewords)
        return out

    def scaled_positions(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, L * 4): each step's position over ``position_scale_m`` and its missing flag."""
        miss = (x["pos_missing"] | x["pad"]).unsqueeze(-1)
        pos = (x["pos"] / self.cfg.paper002.position_scale_m).masked_fill(miss, 0.0)
        return torch.cat([pos, miss.to(pos.dtype)], -1).flatten(1)


class MLMBeamPredictor(_Paper002Model):
    """MLM-BP: [image tokens | position text tokens] -> MiniLM (norms trained) -> mean pool -> MLP."""

    pretrained_image = True

    def __init__(self, cfg: ModelConfig, num_codewords: int = 0):
        super().__init__(cfg, num_codewords)
        pc = cfg.paper002
        path = Path(cfg.backbone.minilm_path) if cfg.backbone.minilm_path else minilm_package_dir()
        self.image = ImageTokens(pc, 384, pc.lora)        # MiniLM's width (checked below)
        text_len = 4 + TOKENS_PER_STEP * cfg.task.history         # padding steps are not written
        self.backbone = LLMBackbone(cfg.backbone, 0, self.image.num_tokens + text_len, 0)
        d = self.backbone.hidden_size
        if d != 384:
            raise ConfigError(f"MLM-BP expects MiniLM's width 384, got {d}")
        self.text = PositionText(pc, cfg.task.history, path)
        self.head = _mlp(d, pc.head_hidden, self.steps * contract.NUM_BEAMS, pc.dropout)
        self.pa_head = nn.Linear(d, self.steps * self.num_codewords) if self.num_codewords else None
        tuning = (f"LoRA r={pc.lora_r} alpha={pc.lora_alpha} + BatchNorm" if pc.lora else "full fine-tuning")
        self.source = (f"MLM-BP: {self.backbone.source}, "
                       f"{'LayerNorms' if cfg.backbone.train_norms_only else 'no norms'} + "
                       f"{cfg.backbone.unfreeze_last} blocks trained; ResNet-18 image encoder ({tuning})")

    def load_pretrained(self, path: Path) -> None:
        self.image.load_pretrained(path, self.cfg.paper002.image_width)

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        image_missing = x["image_missing"]
        p = self.cfg.fusion.modality_dropout
        if self.training and p > 0:
            image_missing = image_missing | (torch.rand(len(image_missing), device=image_missing.device) < p)
        img = self.image(x["image"]).masked_fill(image_missing[:, None, None], 0.0)
        img_pad = image_missing[:, None].expand(-1, img.shape[1])
        ids, txt_pad = self.text(x["pos"], x["pos_missing"], x["pad"])
        txt = self.backbone.llm.embeddings.word_embeddings(ids)          # MiniLM's own, frozen
        pad = torch.cat([img_pad, txt_pad], 1)
        states = self.backbone(torch.cat([img, txt], 1), pad)
        keep = (~pad).unsqueeze(-1).to(states.dtype)
        z = (states * keep).sum(1) / keep.sum(1).clamp_min(1.0)           # mean pooling
        return self.outputs(z, self.head(z))


class PositionDNN(_Paper002Model):
    """Paper 002's position-only DNN: 5 linear layers with LayerNorm and residual connections."""

    def __init__(self, cfg: ModelConfig, num_codewords: int = 0):
        super().__init__(cfg, num_codewords)
        pc, w = cfg.paper002, cfg.paper002.dnn_width
        self.input = nn.Linear(cfg.task.input_len * (POSITION_CHANNELS + 1), w)
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(w), nn.Linear(w, w), nn.ReLU(),
                                                  nn.Dropout(pc.dropout)) for _ in range(pc.dnn_layers))
        self.out = nn.Linear(w, self.steps * contract.NUM_BEAMS)
        self.pa_head = nn.Linear(w, self.steps * self.num_codewords) if self.num_codewords else None
        self.source = f"position DNN ({pc.dnn_layers} residual layers x {w})"

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        z = self.input(self.scaled_positions(x))
        for block in self.blocks:
            z = z + block(z)
        return self.outputs(z, self.out(z))


class VisionCNN(_Paper002Model):
    """Paper 002's image-only CNN: 3 convolution layers with BatchNorm, ReLU and dropout."""

    def __init__(self, cfg: ModelConfig, num_codewords: int = 0):
        super().__init__(cfg, num_codewords)
        pc = cfg.paper002
        layers, c_in = [], 3
        for c in pc.cnn_channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.Dropout2d(pc.dropout)]
            c_in = c
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out = nn.Linear(c_in, self.steps * contract.NUM_BEAMS)
        self.pa_head = nn.Linear(c_in, self.steps * self.num_codewords) if self.num_codewords else None
        self.source = f"vision CNN (channels {list(pc.cnn_channels)})"

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        z = self.features(x["image"]).masked_fill(x["image_missing"][:, None], 0.0)
        return self.outputs(z, self.out(z))


class ResNetPosition(_Paper002Model):
    """Paper 002's reference [8]: a frozen pretrained ResNet's feature + positions -> 2-hidden-layer MLP."""

    pretrained_image = True

    def __init__(self, cfg: ModelConfig, num_codewords: int = 0):
        super().__init__(cfg, num_codewords)
        pc = cfg.paper002
        self.trunk = resnet18_trunk(3, pc.image_width)
        for p in self.trunk.parameters():
            p.requires_grad_(False)
        d_in = 8 * pc.image_width + cfg.task.input_len * (POSITION_CHANNELS + 1)
        self.mlp = _mlp(d_in, pc.mlp_hidden, self.steps * contract.NUM_BEAMS, pc.dropout)
        self.pa_head = nn.Linear(d_in, self.steps * self.num_codewords) if self.num_codewords else None
        self.source = "ResNet-18 (pretrained, frozen) + position MLP"

    def load_pretrained(self, path: Path) -> None:
        self.trunk.load_state_dict(_load_pretrained_trunk(path, self.cfg.paper002.image_width).state_dict())

    def train(self, mode: bool = True):
        super().train(mode)
        self.trunk.eval()                 # stage one is a fixed feature extractor (BatchNorm statistics too)
        return self

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        feat = self.trunk(x["image"]).masked_fill(x["image_missing"][:, None], 0.0)
        z = torch.cat([feat, self.scaled_positions(x)], 1)
        return self.outputs(z, self.mlp(z))
