"""Paper 004's networks (pure torch): sparse sweep (B, 2, coarse) -> fine-beam logits.

The paper's inputs are 2-D beam grids of a planar array, bilinearly upsampled (eq. 16) and read
by 2-D RegNets.  Our array is a 16-element ULA, so the sweep is a 1-D profile over the beam
axis: it is linearly interpolated to ``net.upsample`` samples (eq. 16 in one dimension) and read
by 1-D convolutions.  torchvision's RegNets are 2-D ImageNet models with fixed stems, so the
1-D RegNet is written here from the paper's rule.

* :class:`RegNet1d`: a 3-tap stem, then stages of bottleneck blocks (1x1 reduce, grouped 3-tap,
  1x1 expand, residual).  Widths from (w_a, w_0, w_m, d): w_j = w_0 + w_a j, quantised to
  w_0 w_m^floor(log(w_j / w_0) / log w_m), equal widths form a stage, each stage halves the
  length.  The default (14, 16, 2, 10) gives stages of 2, 2, 4, 2 blocks of 16, 32, 64, 128
  channels (the paper's (31.41, 96, 2.24, 22) is sized for a GPU; config/sweep.yaml sets
  them).  The last map is flattened,
  not pooled: where along the beam axis the energy sits is the answer.
* :class:`DualBranch`: two RegNets read the same sweep; one is supervised to regress the UE
  position (eq. 19, training only), the other feeds the beam head through a fusion module:
  ``auto`` (AutoFusion, eq. 17: concat -> Basic MLP -> fused; a Gen MLP reconstructs the
  concatenation) or ``gan`` (GanFusion, eq. 18: AutoFusion enhances the position feature; a
  Generator maps the beam feature toward it; a Discriminator tells them apart; the beam head
  reads [generated, enhanced]).
* Baselines: :class:`ResNet1d` (basic residual blocks), :class:`CnnMlp` (two convolutions on
  the raw sweep and an MLP), :class:`LstmNet` (an LSTM along the sweep's beams), and the
  single-branch RegNet.

Every model returns a dict with ``beam`` logits; the dual models add ``position`` and their
fusion's auxiliary tensors.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from beam_predictor.model.sweep_config import SweepNetConfig

IN_CHANNELS = 2     # linear power over the peak, dB over the peak (sweep_features)


def regnet_stages(w_a: float, w_0: int, w_m: float, depth: int) -> list[tuple[int, int]]:
    """[(width, blocks)] of the quantised linear width rule."""
    widths = []
    for j in range(depth):
        w = w_0 + w_a * j
        q = w_0 * w_m ** math.floor(math.log(w / w_0) / math.log(w_m) + 1e-9)
        widths.append(int(round(q / 8) * 8) or 8)
    stages: list[list[int]] = []
    for w in widths:
        if stages and stages[-1][0] == w:
            stages[-1][1] += 1
        else:
            stages.append([w, 1])
    return [(w, n) for w, n in stages]


class Bottleneck(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, group_width: int):
        super().__init__()
        groups = max(1, c_out // group_width)
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True),
            nn.Conv1d(c_out, c_out, 3, stride, 1, groups=groups, bias=False), nn.BatchNorm1d(c_out),
            nn.ReLU(inplace=True), nn.Conv1d(c_out, c_out, 1, bias=False), nn.BatchNorm1d(c_out))
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm1d(c_out)))

    def forward(self, x):
        return F.relu(self.body(x) + self.skip(x))


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True),
            nn.Conv1d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm1d(c_out))
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm1d(c_out)))

    def forward(self, x):
        return F.relu(self.body(x) + self.skip(x))


def _upsample(x: torch.Tensor, length: int) -> torch.Tensor:
    return F.interpolate(x, size=length, mode="linear", align_corners=True)


class _ConvTrunk(nn.Module):
    """Upsample -> stem -> stages -> flatten -> feature_dim."""

    def __init__(self, cfg: SweepNetConfig, stages: list[nn.Module], c_last: int, length_last: int):
        super().__init__()
        self.length = cfg.upsample
        w0 = cfg.regnet_w_0
        self.stem = nn.Sequential(nn.Conv1d(IN_CHANNELS, w0, 3, 1, 1, bias=False), nn.BatchNorm1d(w0),
                                  nn.ReLU(inplace=True))
        self.stages = nn.Sequential(*stages)
        self.proj = nn.Sequential(nn.Flatten(), nn.Dropout(cfg.dropout),
                                  nn.Linear(c_last * length_last, cfg.feature_dim), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.proj(self.stages(self.stem(_upsample(x, self.length))))


def _out_len(length: int, stages: int) -> int:
    for _ in range(stages):
        length = (length - 1) // 2 + 1
    return length


class RegNet1d(_ConvTrunk):
    def __init__(self, cfg: SweepNetConfig):
        plan = regnet_stages(cfg.regnet_w_a, cfg.regnet_w_0, cfg.regnet_w_m, cfg.regnet_depth)
        blocks, c = [], cfg.regnet_w_0
        for width, n in plan:
            stage = [Bottleneck(c if i == 0 else width, width, 2 if i == 0 else 1, cfg.group_width)
                     for i in range(n)]
            blocks.append(nn.Sequential(*stage))
            c = width
        super().__init__(cfg, blocks, c, _out_len(cfg.upsample, len(plan)))
        self.plan = plan


class ResNet1d(_ConvTrunk):
    """ResNet-style baseline: two basic blocks per stage at the RegNet's stage widths."""

    def __init__(self, cfg: SweepNetConfig):
        plan = regnet_stages(cfg.regnet_w_a, cfg.regnet_w_0, cfg.regnet_w_m, cfg.regnet_depth)
        blocks, c = [], cfg.regnet_w_0
        for width, _ in plan:
            blocks.append(nn.Sequential(BasicBlock(c, width, 2), BasicBlock(width, width, 1)))
            c = width
        super().__init__(cfg, blocks, c, _out_len(cfg.upsample, len(plan)))


def _mlp(sizes: list[int], last_relu: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_relu:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class SingleBranch(nn.Module):
    def __init__(self, trunk: nn.Module, feature_dim: int, fine: int):
        super().__init__()
        self.trunk, self.head = trunk, nn.Linear(feature_dim, fine)

    def forward(self, x):
        return {"beam": self.head(self.trunk(x))}


class CnnMlp(nn.Module):
    """CNN + MLP baseline on the raw sweep (no upsampling)."""

    def __init__(self, cfg: SweepNetConfig, coarse: int, fine: int):
        super().__init__()
        h = cfg.hidden
        self.conv = nn.Sequential(nn.Conv1d(IN_CHANNELS, 32, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv1d(32, 32, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten())
        self.mlp = nn.Sequential(nn.Linear(32 * coarse, h), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout),
                                 nn.Linear(h, h), nn.ReLU(inplace=True), nn.Linear(h, fine))

    def forward(self, x):
        return {"beam": self.mlp(self.conv(x))}


class LstmNet(nn.Module):
    """LSTM along the sweep's beams, then an MLP."""

    def __init__(self, cfg: SweepNetConfig, coarse: int, fine: int):
        super().__init__()
        self.lstm = nn.LSTM(IN_CHANNELS, cfg.hidden // 2, num_layers=2, batch_first=True, bidirectional=True)
        self.mlp = nn.Sequential(nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(inplace=True),
                                 nn.Linear(cfg.hidden, fine))

    def forward(self, x):
        out, _ = self.lstm(x.transpose(1, 2))
        return {"beam": self.mlp(out[:, -1])}


class AutoFusion(nn.Module):
    """eq. 17: x -> Basic (two linear + ReLU) -> fused; Gen (linear, ReLU, linear) reconstructs x."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.basic = _mlp([dim_in, dim_out, dim_out], last_relu=True)
        self.gen = _mlp([dim_out, dim_in, dim_in])

    def forward(self, x):
        fused = self.basic(x)
        return fused, F.mse_loss(self.gen(fused), x)


class Discriminator(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.LeakyReLU(0.2),
                                 nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.LeakyReLU(0.2),
                                 nn.Linear(dim, 1))

    def forward(self, x):
        return self.net(x)


class DualBranch(nn.Module):
    def __init__(self, cfg: SweepNetConfig, fine: int, fusion: str):
        super().__init__()
        d = cfg.feature_dim
        self.fusion = fusion
        self.beam_branch, self.pos_branch = RegNet1d(cfg), RegNet1d(cfg)
        self.pos_head = nn.Linear(d, 2)
        if fusion == "auto":
            self.auto = AutoFusion(2 * d, d)
            self.head = nn.Linear(d, fine)
        else:
            self.auto = AutoFusion(d, d)                  # enhances the position feature
            self.generator = _mlp([d, 2 * d, 2 * d, d])   # three linear layers, two ReLUs
            self.discriminator = Discriminator(d)
            self.head = nn.Linear(2 * d, fine)

    def forward(self, x):
        fb, fp = self.beam_branch(x), self.pos_branch(x)
        out = {"position": self.pos_head(fp)}
        if self.fusion == "auto":
            fused, out["auto_loss"] = self.auto(torch.cat([fb, fp], dim=1))
            out["beam"] = self.head(fused)
        else:
            enhanced, out["auto_loss"] = self.auto(fp)
            generated = self.generator(fb)
            out.update(enhanced=enhanced, generated=generated,
                       beam=self.head(torch.cat([generated, enhanced], dim=1)))
        return out

    def generator_parameters(self):
        """Everything but the discriminator (its own optimiser, eq. 18's max player)."""
        return [p for n, p in self.named_parameters() if not n.startswith("discriminator.")]


def build_sweep_net(cfg: SweepNetConfig, coarse: int, fine: int) -> nn.Module:
    kind = cfg.kind
    if kind == "dual_auto":
        return DualBranch(cfg, fine, "auto")
    if kind == "dual_gan":
        return DualBranch(cfg, fine, "gan")
    if kind == "regnet":
        return SingleBranch(RegNet1d(cfg), cfg.feature_dim, fine)
    if kind == "resnet":
        return SingleBranch(ResNet1d(cfg), cfg.feature_dim, fine)
    if kind == "cnn_mlp":
        return CnnMlp(cfg, coarse, fine)
    if kind == "lstm":
        return LstmNet(cfg, coarse, fine)
    raise ValueError(f"net.kind '{kind}' has no network")
