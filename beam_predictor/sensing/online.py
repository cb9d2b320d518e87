"""One frame at a time through preprocessing and a pretrained encoder (the encoder node's core)."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from beam_predictor.sensing.features import load_encoder
from beam_predictor.sensing.preprocess import GpsScaler, Prepared, prep_image, prep_lidar, prep_radar

log = logging.getLogger(__name__)
MODALITIES = ("image", "radar", "lidar", "gps")


def default_checkpoint(modality: str, root: str | Path = "models/encoders") -> Path:
    return Path(root) / f"encoder_{modality}.pt"


class OnlineEncoder:
    def __init__(self, modality: str, checkpoint: str | Path, device: str = "cpu"):
        if modality not in MODALITIES:
            raise ValueError(f"modality '{modality}': choose from {MODALITIES}")
        from beam_predictor.runtime.online import resolve_device
        self.device = resolve_device(device)
        self.encoder, self.cfg, ckpt = load_encoder(checkpoint)
        if ckpt["modality"] != modality:
            raise ValueError(f"{checkpoint}: an encoder of '{ckpt['modality']}', not '{modality}'")
        self.encoder.to(self.device)
        self.modality = modality
        self.scaler = GpsScaler.from_dict(ckpt["gps_scaler"]) if modality == "gps" else None
        log.info("encoder %s: loaded %s", modality, checkpoint)

    def prepare(self, raw) -> Prepared:
        """``raw``: JPEG bytes (image), complex cube (radar), (N, 4) points (lidar), (lat, lon) (gps)."""
        if self.modality == "image":
            return prep_image(raw, self.cfg.image)
        if self.modality == "radar":
            return prep_radar(raw, self.cfg.radar)
        if self.modality == "lidar":
            return prep_lidar(raw, self.cfg.lidar)
        return self.scaler(raw)

    @torch.inference_mode()
    def encode(self, raw) -> tuple[np.ndarray | None, str, float]:
        """(features or None, reason when None, seconds)."""
        start = time.perf_counter()
        prep = self.prepare(raw)
        if prep.missing:
            return None, prep.reason, time.perf_counter() - start
        x = torch.from_numpy(np.ascontiguousarray(prep.value)[None]).to(self.device)
        feats = self.encoder(x)[0].cpu().numpy().astype(np.float32)
        return feats, "", time.perf_counter() - start
