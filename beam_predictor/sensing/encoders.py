"""Per-modality encoders mapping preprocessed inputs to M-dimensional features (paper 000, Fig. 3).

- image: ResNet-18 layout (BasicBlock x [2, 2, 2, 2]) with configurable base width, then FC.
  Width 64 is exactly torchvision's ResNet-18; no ImageNet weights can be had offline
  here, so it is trained from scratch (see the README).
- radar: a small CNN on the range-angle map.
- LiDAR: the same ResNet-style network on the one-channel histogram.
- GPS: an MLP.

Blocks come from torchvision's ResNet implementation (``BasicBlock``); only the stem and
widths are assembled here, because torchvision cannot scale a BasicBlock ResNet's width.
Every encoder takes an optional ``missing`` mask (B,) and returns zeros for those rows,
so downstream fusion can mask them by the same flag.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

from beam_predictor.sensing.config import EncoderConfig

MODALITIES = ("image", "radar", "lidar", "gps")


def resnet18_trunk(in_channels: int, width: int) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
    inplanes = width
    for stage, planes in enumerate((width, 2 * width, 4 * width, 8 * width)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            down = None
            if stride != 1 or inplanes != planes:
                down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                                     nn.BatchNorm2d(planes))
            layers.append(BasicBlock(inplanes, planes, stride=stride, downsample=down))
            inplanes = planes
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """A trunk plus the FC to M features, with missing rows zeroed."""

    def __init__(self, trunk: nn.Module, trunk_dim: int, feature_dim: int):
        super().__init__()
        self.trunk = trunk
        self.fc = nn.Linear(trunk_dim, feature_dim)
        self.feature_dim = feature_dim

    def forward(self, x: torch.Tensor, missing: torch.Tensor | None = None) -> torch.Tensor:
        feats = self.fc(self.trunk(x))
        if missing is not None:
            feats = feats.masked_fill(missing.view(-1, 1), 0.0)
        return feats


def _radar_trunk(channels) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    c_in = 1
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2)]
        c_in = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), c_in


def build_encoder(modality: str, cfg: EncoderConfig) -> Encoder:
    m = cfg.feature_dim
    if modality == "image":
        return Encoder(resnet18_trunk(3, cfg.image_width), 8 * cfg.image_width, m)
    if modality == "lidar":
        return Encoder(resnet18_trunk(1, cfg.lidar_width), 8 * cfg.lidar_width, m)
    if modality == "radar":
        trunk, dim = _radar_trunk(cfg.radar_channels)
        return Encoder(trunk, dim, m)
    if modality == "gps":
        layers: list[nn.Module] = []
        d = 2
        for h in cfg.gps_hidden:
            layers += [nn.Linear(d, h), nn.ReLU(inplace=True)]
            d = h
        return Encoder(nn.Sequential(*layers), d, m)
    raise ValueError(f"unknown modality '{modality}'; known: {MODALITIES}")


def parameter_count(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
