"""Checkpoints that store only what training changed, plus everything needed to rebuild.

A checkpoint holds the config tree, the trainable weights and the buffers outside the
frozen LLM (feature statistics), the PA codebook (positions in metres for every codeword),
the site geometry it was trained at (its kinematic input and learned angle -> beam
calibration belong to that site), the encoder and tracker versions the inputs came from,
and a hash of the frozen LLM weights.
Loading rebuilds the model from the config (frozen LLM weights come from their source:
the shipped MiniLM, a local GPT-2 folder, or the seeded random init), overlays the stored
tensors and refuses a checkpoint whose frozen weights would differ.  Tensors are stored
in ``dtype`` (float16 halves the size of the shipped default) and loaded as float32.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from beam_predictor.config import from_mapping, to_mapping
from beam_predictor.model.config import ModelConfig
from beam_predictor.model.errors import CheckpointError
from beam_predictor.model.registry import build_model, frozen_digest
from beam_predictor.physics.site import SiteGeometry

FORMAT = 2


@dataclass
class CheckpointMeta:
    pa_codebook: np.ndarray | None = None
    encoder_versions: dict[str, str] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    fixed_codeword: int = 0
    backbone_source: str = ""
    site: SiteGeometry | None = None
    box_version: str = ""
    image_prep: dict | None = None      # how camera images were preprocessed (models that read them)


def stored_state(model: nn.Module) -> dict[str, torch.Tensor]:
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    llm_prefix = "backbone.llm."
    return {k: v for k, v in model.state_dict().items()
            if k in trainable or not k.startswith(llm_prefix)}


def save(path: str | Path, model: nn.Module, meta: CheckpointMeta, dtype: str = "float32") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = getattr(torch, dtype)
    state = {k: (v.to(store) if v.is_floating_point() else v) for k, v in stored_state(model).items()}
    blob = {"format": FORMAT, "config": to_mapping(model.cfg), "num_codewords": model.num_codewords,
            "state": state, "dtype": dtype,
            "frozen_digest": frozen_digest(model),
            "pa_codebook": None if meta.pa_codebook is None else np.asarray(meta.pa_codebook).tolist(),
            "encoder_versions": meta.encoder_versions, "metrics": meta.metrics,
            "fixed_codeword": meta.fixed_codeword, "backbone_source": model.source,
            "site": None if meta.site is None else meta.site.to_dict(), "box_version": meta.box_version,
            "image_prep": meta.image_prep}
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)
    return path


def _read(path: Path, fmt: int = FORMAT, remake: str = "`make model` for the shipped default") -> dict:
    """The stored blob of a checkpoint of format ``fmt``; ``remake`` says how to rebuild a stale one."""
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:          # a truncated or foreign file
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from exc
    if not isinstance(blob, dict) or "format" not in blob:
        raise CheckpointError(f"{path}: not a beam_predictor model checkpoint")
    if blob["format"] != fmt:
        raise CheckpointError(f"{path}: checkpoint format {blob['format']}, this version reads format "
                              f"{fmt}; retrain it ({remake})")
    return blob


def read_config(path: str | Path) -> ModelConfig:
    """The model config a checkpoint was trained with (its inputs, modalities), without building it."""
    return from_mapping(ModelConfig, _read(Path(path))["config"], f"{path}:config")


def load(path: str | Path, device: str = "cpu") -> tuple[nn.Module, CheckpointMeta]:
    path = Path(path)
    blob = _read(path)
    cfg = from_mapping(ModelConfig, blob["config"], f"{path}:config")
    model = build_model(cfg, blob["num_codewords"])
    if blob["frozen_digest"] is not None and frozen_digest(model) != blob["frozen_digest"]:
        raise CheckpointError(f"{path}: the frozen backbone weights ({model.source}) differ from the ones it "
                              "was trained on")
    state = {k: v.float() if v.is_floating_point() else v for k, v in blob["state"].items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    expected = set(stored_state(model))
    lost = sorted(expected & set(missing))
    if lost or unexpected:
        raise CheckpointError(f"{path}: weights do not fit the config (missing {lost[:3]}, unexpected "
                              f"{list(unexpected)[:3]})")
    book, site = blob["pa_codebook"], blob["site"]
    meta = CheckpointMeta(pa_codebook=None if book is None else np.asarray(book), metrics=blob["metrics"],
                          encoder_versions=blob["encoder_versions"], fixed_codeword=blob["fixed_codeword"],
                          backbone_source=blob["backbone_source"],
                          site=None if site is None else SiteGeometry.from_dict(site, f"{path}:site"),
                          box_version=blob["box_version"], image_prep=blob.get("image_prep"))
    return model.to(device).eval(), meta
