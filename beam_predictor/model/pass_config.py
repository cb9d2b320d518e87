"""Config of paper 003's LLM-enabled PASS beam training (config/pass.yaml; ``PassConfig``).

The link (transmit power and its sweep, noise, SINR constraints, the Top-K label search,
probing), the network (per-user box and GPS tokens into a pretrained LLM, two-stage
fine-tuning: adapters, then LoRA) and training (DWA over the per-user losses).
Torch-free, so the CLI can check a config before it loads torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from beam_predictor.config import ConfigError
from beam_predictor.model.config import BackboneConfig
from beam_predictor.physics.pass_codebook import GenerationConfig


@dataclass(frozen=True)
class PassLinkConfig:
    tx_power_dbm: float = 20.0          # P_max of (37d): the operating point of the labels and tables
    power_grid_dbm: tuple[float, ...] = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)    # the sum-rate sweep
    noise_figure_db: float = 7.0        # noise = -174 dBm/Hz + 10 log10(bandwidth) + NF (twin bandwidth)
    min_sinr_db: float = 0.0            # (37b): a user below this is reported as not served
    target_sinr_db: float = 10.0        # the minimum-power figure's SINR target
    top_k: int = 4                      # each user's candidate codewords of the label search (eqs. 39-40)
    probes: int = 3                     # M: codewords probed per waveguide (LLM: its top M; conventional:
    #                                     M spread over the codebook)
    probe_snr_db: float = 10.0          # single user: SNR of the best codeword during probing
    snr_grid_db: tuple[float, ...] = (-10.0, -5.0, 0.0, 5.0, 10.0, 20.0)   # the Top-1-against-SNR figure

    def __post_init__(self):
        if self.top_k < 1 or self.probes < 1:
            raise ConfigError(f"link.top_k {self.top_k} and link.probes {self.probes} must be >= 1")


@dataclass(frozen=True)
class PassNetConfig:
    history: int = 8                    # H: frames of box and GPS per user (eq. 22)
    patch_len: int = 4                  # P (eq. 24)
    stride: int = 2                     # S
    token_dim: int = 64
    backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig(kind="minilm", unfreeze_last=0))
    lora_r: int = 8                     # stage 2: LoRA (peft) on the LLM's attention
    lora_alpha: int = 16
    lora_experts: int = 1               # E > 1: a mixture of E LoRA experts with a token-wise gate (eq. 43)
    lora_dropout: float = 0.05
    dropout: float = 0.1


@dataclass(frozen=True)
class PassTrainConfig:
    adapter_epochs: int = 10            # stage 1: the LLM frozen, the token maps and heads train
    lora_epochs: int = 6                # stage 2: LoRA adapters on the frozen LLM as well
    batch_size: int = 64
    lr: float = 1e-3
    lora_lr: float = 3e-4
    weight_decay: float = 1e-4
    dwa_temperature: float = 2.0        # dynamic weight averaging of the per-user losses (eq. 44)
    seed: int = 0


@dataclass(frozen=True)
class PassConfig:
    users: int = 3                      # users served at once (1: the single-user case, MRT)
    num_pas: int = 4                    # PAs per waveguide: one of the twin's pinching.pas_grid
    link: PassLinkConfig = field(default_factory=PassLinkConfig)
    net: PassNetConfig = field(default_factory=PassNetConfig)
    train: PassTrainConfig = field(default_factory=PassTrainConfig)
    codebook: GenerationConfig = field(default_factory=GenerationConfig)   # `beam-predictor pass-codebook`

    def __post_init__(self):
        if self.users < 1:
            raise ConfigError(f"users {self.users}: at least one")
