"""LLM-PASS checkpoints (paper 003): what the live ``llm_pass`` node loads.

Like the predictor's checkpoints (:mod:`beam_predictor.model.checkpoint`) they store only
what training changed: the token maps, slot embeddings, heads and LoRA adapters, never the
frozen LLM, whose hash is checked on load.  With them, everything serving needs to rebuild
the same decisions live: the PassConfig, the site's waveguide geometry (the pinching
config), the array (carrier, its position on the street), the fixed-placement fallback
codewords learned from the training frames, and the site geometry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from beam_predictor.config import from_mapping, to_mapping
from beam_predictor.model.checkpoint import _read, stored_state
from beam_predictor.model.errors import CheckpointError
from beam_predictor.model.pass_config import PassConfig
from beam_predictor.model.registry import frozen_digest
from beam_predictor.physics.site import SiteGeometry

FORMAT = "llm_pass/1"
REMAKE = "`beam-predictor pass --save` on a multi-user twin"


@dataclass
class PassBundle:
    """A loaded LLM-PASS checkpoint: the network and what serving it needs."""

    model: object                    # model.pass_net.PassNet
    cfg: PassConfig
    pinching: object                 # twin.config.PinchingConfig: the waveguides it was trained on
    array: dict                      # the twin's array section (frequency_hz, position, ...)
    fixed: np.ndarray                # (U,) fixed-placement codeword per waveguide (the last fallback)
    site: SiteGeometry | None = None
    metrics: dict = field(default_factory=dict)

    @property
    def description(self) -> str:
        tuned = "LoRA" if self.model.lora else "adapters"
        kept = self.metrics.get("kept") or {}
        when = ""
        if kept:
            when = (f"; kept: the untrained prior (validation Top-1 {kept['val_top1']:.3f})"
                    if kept.get("stage") == "prior" else f"; kept: {kept['stage']} epoch {kept['epoch']}")
        return (f"LLM-PASS, {self.cfg.users} user(s), {self.cfg.num_pas} PAs per waveguide, "
                f"{self.model.num_codewords} codewords, {self.model.source} with {tuned}{when}")


def save_pass(path: str | Path, bundle: PassBundle) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = bundle.model
    blob = {"format": FORMAT, "config": to_mapping(bundle.cfg), "num_codewords": model.num_codewords,
            "lora": model.lora, "state": stored_state(model), "frozen_digest": frozen_digest(model),
            "backbone_source": model.source, "pinching": to_mapping(bundle.pinching), "array": bundle.array,
            "fixed": np.asarray(bundle.fixed).tolist(), "metrics": bundle.metrics,
            "site": None if bundle.site is None else bundle.site.to_dict()}
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)
    return path


def load_pass(path: str | Path) -> PassBundle:
    """Rebuild the network (frozen LLM from its source, LoRA injected when it was trained with it) and
    overlay the stored weights; a checkpoint whose frozen weights or layout differ is refused."""
    from beam_predictor.model.pass_net import PassNet
    from beam_predictor.twin.config import PinchingConfig
    path = Path(path)
    blob = _read(path, FORMAT, REMAKE)
    cfg = from_mapping(PassConfig, blob["config"], f"{path}:config")
    model = PassNet(cfg, int(blob["num_codewords"]))
    if blob["frozen_digest"] is not None and frozen_digest(model) != blob["frozen_digest"]:
        raise CheckpointError(f"{path}: the frozen backbone weights ({model.source}) differ from the ones it "
                              "was trained on")
    if blob["lora"]:
        model.add_lora()
    try:
        missing, unexpected = model.load_state_dict(blob["state"], strict=False)
    except RuntimeError as exc:                  # shapes that do not fit the stored config
        raise CheckpointError(f"{path}: weights do not fit the config ({str(exc)[:300]})") from exc
    lost = sorted(set(stored_state(model)) & set(missing))
    if lost or unexpected:
        raise CheckpointError(f"{path}: weights do not fit the config (missing {lost[:3]}, unexpected "
                              f"{list(unexpected)[:3]})")
    site = blob["site"]
    return PassBundle(model.eval(), cfg, from_mapping(PinchingConfig, blob["pinching"], f"{path}:pinching"),
                      blob["array"], np.asarray(blob["fixed"], int),
                      None if site is None else SiteGeometry.from_dict(site, f"{path}:site"), blob["metrics"])


def read_pass_config(path: str | Path) -> PassConfig:
    """The PassConfig a checkpoint was trained with (how many users it serves), without building it."""
    return from_mapping(PassConfig, _read(Path(path), FORMAT, REMAKE)["config"], f"{path}:config")
