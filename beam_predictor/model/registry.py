"""The predictor networks behind one name: ``ModelConfig.kind`` -> class.

Every registered model takes ``(cfg, num_codewords)``, reads the window tensors of
:meth:`beam_predictor.window.HistoryWindow.arrays` and returns at least ``beam_logits``
(B, T+1, 64); it has a ``source`` (what its weights are, for logs and checkpoints) and
``prepare(train_windows, image_encoder)``, called once before training, which returns the
parameters that need a learning rate of their own (the geometric prior's).  A model with
a frozen LLM keeps it as ``backbone`` (``backbone.llm``), whose digest a checkpoint checks.
"""
from __future__ import annotations

from torch import nn

from beam_predictor.config import ConfigError
from beam_predictor.model.config import ModelConfig
from beam_predictor.model.paper002 import MLMBeamPredictor, PositionDNN, ResNetPosition, VisionCNN
from beam_predictor.model.predictor import BeamPredictor

MODEL_CLASSES: dict[str, type[nn.Module]] = {
    "m2beamllm": BeamPredictor, "mlm_bp": MLMBeamPredictor, "position_dnn": PositionDNN,
    "vision_cnn": VisionCNN, "resnet_position": ResNetPosition}


def build_model(cfg: ModelConfig, num_codewords: int = 0) -> nn.Module:
    if cfg.kind not in MODEL_CLASSES:
        raise ConfigError(f"kind '{cfg.kind}' has no registered model; known: {sorted(MODEL_CLASSES)}")
    return MODEL_CLASSES[cfg.kind](cfg, num_codewords)


def frozen_digest(model: nn.Module) -> str | None:
    """Hash of the model's frozen LLM weights, or None when it has no frozen LLM."""
    backbone = getattr(model, "backbone", None)
    return backbone.frozen_digest() if hasattr(backbone, "frozen_digest") else None
