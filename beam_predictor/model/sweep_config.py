"""Config of paper 004's sparse-sweep beam prediction (config/sweep.yaml; ``SweepConfig``).

The task (sparse sweep size, fine codebook, the SNR grid and the SNR of a run), the networks
(the RegNet-style branches and the baselines, sized for a CPU) and training (eqs. 19-21).
Torch-free, so the CLI can check a config before it loads torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from beam_predictor.config import ConfigError

# proposed: dual-branch RegNet with AutoFusion / GanFusion; baselines: a ResNet-style CNN, CNN + MLP,
# LSTM, the single-branch RegNet; non-learned: hierarchical codebook search, the best sparse beam,
# a single-path fit of the sweep (geometry)
SWEEP_MODELS = ("dual_auto", "dual_gan", "resnet", "cnn_mlp", "lstm", "regnet")
SWEEP_ANCHORS = ("hc", "sparse_argmax", "pattern_fit")
DUAL_MODELS = ("dual_auto", "dual_gan")


@dataclass(frozen=True)
class SweepTask:
    coarse_beams: int = 16                    # beams of the sparse sweep (every fine/coarse-th fine beam)
    fine_beams: int = 64                      # codebook whose best beam is predicted (64, 128, 256 ...)
    snr_grid_db: tuple[float, ...] = (0.0, 10.0, 20.0)   # SNRs the experiments may use (eqs. 14-15)
    snr_db: float = 20.0                      # this run's SNR; must be in the grid

    def __post_init__(self):
        if self.coarse_beams <= 0 or self.fine_beams % self.coarse_beams:
            raise ConfigError(f"task.fine_beams {self.fine_beams} is not a multiple of task.coarse_beams "
                              f"{self.coarse_beams}")
        check_snr(self.snr_db, self.snr_grid_db)


def check_snr(snr_db: float, grid) -> None:
    if not any(abs(float(snr_db) - float(g)) < 1e-9 for g in grid):
        raise ConfigError(f"SNR {snr_db} dB is not in task.snr_grid_db {list(grid)}")


@dataclass(frozen=True)
class SweepNetConfig:
    kind: str = "dual_gan"
    upsample: int = 64              # the sparse powers are linearly interpolated to this length (eq. 16, 1-D)
    # RegNet width rule w_j = w_0 + w_a j (j < depth), quantised to w_0 w_m^floor(log(w_j / w_0) / log w_m)
    # and grouped into stages of equal width; paper: (31.41, 96, 2.24, 22), here scaled to a CPU
    regnet_w_a: float = 14.0
    regnet_w_0: int = 16
    regnet_w_m: float = 2.0
    regnet_depth: int = 10
    group_width: int = 8            # channels per group of the 3-tap convolution
    feature_dim: int = 128          # each branch's feature size (paper: 1079)
    hidden: int = 128               # width of the baselines' MLP / LSTM
    dropout: float = 0.1

    def __post_init__(self):
        if self.kind not in SWEEP_MODELS:
            raise ConfigError(f"net.kind '{self.kind}' unknown; choose from {SWEEP_MODELS}")


@dataclass(frozen=True)
class SweepTrainConfig:
    epochs: int = 60
    batch_size: int = 128
    lr: float = 5e-4                # AdamW peak (paper: 5e-4, weight decay 1e-5)
    weight_decay: float = 1e-5
    warmup_epochs: int = 5          # linear warm-up, then ReduceLROnPlateau on validation Top-1
    plateau_factor: float = 0.8
    plateau_patience: int = 10
    plateau_cooldown: int = 2
    min_lr: float = 1e-8
    lambda_pos: float = 0.01        # eq. 21 (paper: 0.01 / 0.99, adversarial and reconstruction tuned)
    lambda_bm: float = 0.99
    lambda_adv: float = 0.01
    lambda_auto: float = 0.1
    position_scale_m: float = 30.0  # the position target is site metres / this
    fresh_noise: bool = True        # draw the channel noise anew every epoch (else once)
    seed: int = 0


@dataclass(frozen=True)
class SweepConfig:
    task: SweepTask = field(default_factory=SweepTask)
    net: SweepNetConfig = field(default_factory=SweepNetConfig)
    train: SweepTrainConfig = field(default_factory=SweepTrainConfig)
