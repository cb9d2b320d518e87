"""One frame at a time through preprocessing and a pretrained encoder (the encoder node's core).

The encoder runs in torch or in ONNX Runtime on a graph exported from the same checkpoint
(:mod:`beam_predictor.runtime.engine`; ``runtime`` auto = ONNX Runtime on the CPU); the
preprocessing is the same numpy code either way.
"""
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


def encoder_checkpoint(modality: str, given: str = "") -> str:
    """A node's ``checkpoint`` parameter for ``modality``: a file as given, or encoder_<modality>.pt in
    the given folder ("" = models/encoders; the working directory's, else the package's)."""
    from beam_predictor.config import resolve_resource
    if given and not Path(given).is_dir():
        return given
    return resolve_resource(str(default_checkpoint(modality, given or "models/encoders")))


class OnlineEncoder:
    def __init__(self, modality: str, checkpoint: str | Path, device: str = "cpu", runtime: str = "auto",
                 threads: int = 1):
        if modality not in MODALITIES:
            raise ValueError(f"modality '{modality}': choose from {MODALITIES}")
        from beam_predictor.runtime import engine
        from beam_predictor.runtime.online import resolve_device
        self.device = resolve_device(device)
        self.runtime = engine.resolve_runtime(runtime, device)
        self.encoder, self.cfg, ckpt = load_encoder(checkpoint)
        if ckpt["modality"] != modality:
            raise ValueError(f"{checkpoint}: an encoder of '{ckpt['modality']}', not '{modality}'")
        self.encoder.to(self.device).eval()
        self.modality = modality
        self.scaler = GpsScaler.from_dict(ckpt["gps_scaler"]) if modality == "gps" else None
        self.session = None
        if self.runtime == "onnxruntime":
            shape = self.input_shape()
            name = f"encoder_{modality}_{engine.file_key(checkpoint, shape)}.onnx"
            example = {"x": torch.zeros((1,) + shape)}
            self.session = engine.OrtModule(engine.cached(
                name, lambda out: engine.export_module(self.encoder, example, ("features",), out)), threads)
        log.info("encoder %s: loaded %s (%s)", modality, checkpoint, self.runtime)

    def input_shape(self) -> tuple[int, ...]:
        """The preprocessed input of one frame (without the batch axis)."""
        if self.modality == "image":
            return (3, self.cfg.image.size, self.cfg.image.size)
        if self.modality == "radar":
            return (1, self.cfg.radar.range_bins, self.cfg.radar.angle_bins)
        if self.modality == "lidar":
            return (1, self.cfg.lidar.grid, self.cfg.lidar.grid)
        return (2,)

    @torch.inference_mode()
    def warm_up(self) -> None:
        """One all-zero input through the encoder (first-call allocations happen before the first frame)."""
        x = np.zeros((1,) + self.input_shape(), np.float32)
        if self.session is not None:
            self.session.run(x=x)
        else:
            self.encoder(torch.from_numpy(x).to(self.device))

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
        x = np.ascontiguousarray(prep.value, dtype=np.float32)[None]
        if self.session is not None:
            if x.shape[1:] != self.input_shape():
                return None, (f"preprocessed {self.modality} of shape {x.shape[1:]}, the exported encoder "
                              f"takes {self.input_shape()}"), time.perf_counter() - start
            feats = self.session.run(x=x)[0][0]
        else:
            feats = self.encoder(torch.from_numpy(x).to(self.device))[0].cpu().numpy().astype(np.float32)
        return feats, "", time.perf_counter() - start
