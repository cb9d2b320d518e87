"""One frame at a time through preprocessing and a pretrained encoder (the encoder node's core).

The encoder runs in torch or in ONNX Runtime on a graph exported from the same checkpoint
(:mod:`beam_predictor.runtime.engine`; ``runtime`` auto = ONNX Runtime on the CPU); the
preprocessing is the same numpy code either way.  Once an export is made, its serving bundle
holds the preprocessing config and the GPS scaling, and a later start reads those instead of
the checkpoint, without importing torch (:func:`engine.read_bundle`).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from beam_predictor.config import from_mapping, to_mapping
from beam_predictor.sensing.config import SensingConfig
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
        self.modality, self.device, self.encoder, self.session = modality, device, None, None
        self.runtime = engine.resolve_runtime(runtime, device)
        key = f"encoder_{modality}_{engine.file_key(checkpoint)}"
        bundle = engine.read_bundle(key) if self.runtime == "onnxruntime" else None
        if bundle is not None and bundle[0].get("modality") != modality:
            bundle = None
        if bundle is not None:                  # a verified export: serve it without torch
            doc, onnx_path = bundle
            self.cfg = from_mapping(SensingConfig, doc["sensing"], f"{onnx_path}:sensing")
            scaler = doc["gps_scaler"]
        else:
            from beam_predictor.runtime.online import resolve_device
            from beam_predictor.sensing.features import load_encoder
            self.device = resolve_device(device)
            self.encoder, self.cfg, ckpt = load_encoder(checkpoint)
            if ckpt["modality"] != modality:
                raise ValueError(f"{checkpoint}: an encoder of '{ckpt['modality']}', not '{modality}'")
            self.encoder.to(self.device).eval()
            scaler = ckpt["gps_scaler"] if modality == "gps" else None
        self.scaler = GpsScaler.from_dict(scaler) if modality == "gps" else None
        if bundle is not None:
            self.session = engine.OrtModule(bundle[1], threads)
        elif self.runtime == "onnxruntime":
            import torch
            shape = self.input_shape()
            name = f"encoder_{modality}_{engine.file_key(checkpoint, shape)}.onnx"
            example = {"x": torch.zeros((1,) + shape)}
            onnx_path = engine.cached(
                name, lambda out: engine.export_module(self.encoder, example, ("features",), out))
            engine.write_bundle(key, onnx_path, {"modality": modality, "sensing": to_mapping(self.cfg),
                                                 "gps_scaler": scaler})
            self.session = engine.OrtModule(onnx_path, threads)
        log.info("encoder %s: loaded %s (%s%s)", modality, checkpoint, self.runtime,
                 ", from the verified export's bundle, no torch" if bundle is not None else "")

    def input_shape(self) -> tuple[int, ...]:
        """The preprocessed input of one frame (without the batch axis)."""
        if self.modality == "image":
            return (3, self.cfg.image.size, self.cfg.image.size)
        if self.modality == "radar":
            return (1, self.cfg.radar.range_bins, self.cfg.radar.angle_bins)
        if self.modality == "lidar":
            return (1, self.cfg.lidar.grid, self.cfg.lidar.grid)
        return (2,)

    def warm_up(self) -> None:
        """One all-zero input through the encoder (first-call allocations happen before the first frame)."""
        self._run(np.zeros((1,) + self.input_shape(), np.float32))

    def _run(self, x: np.ndarray) -> np.ndarray:
        """The features of a batch of one, in this encoder's runtime."""
        if self.session is not None:
            return self.session.run(x=x)[0][0]
        import torch
        with torch.inference_mode():
            return self.encoder(torch.from_numpy(x).to(self.device))[0].cpu().numpy().astype(np.float32)

    def prepare(self, raw) -> Prepared:
        """``raw``: JPEG bytes (image), complex cube (radar), (N, 4) points (lidar), (lat, lon) (gps)."""
        if self.modality == "image":
            return prep_image(raw, self.cfg.image)
        if self.modality == "radar":
            return prep_radar(raw, self.cfg.radar)
        if self.modality == "lidar":
            return prep_lidar(raw, self.cfg.lidar)
        return self.scaler(raw)

    def encode(self, raw) -> tuple[np.ndarray | None, str, float]:
        """(features or None, reason when None, seconds)."""
        start = time.perf_counter()
        prep = self.prepare(raw)
        if prep.missing:
            return None, prep.reason, time.perf_counter() - start
        x = np.ascontiguousarray(prep.value, dtype=np.float32)[None]
        if self.session is not None and x.shape[1:] != self.input_shape():
            return None, (f"preprocessed {self.modality} of shape {x.shape[1:]}, the exported encoder "
                          f"takes {self.input_shape()}"), time.perf_counter() - start
        return self._run(x), "", time.perf_counter() - start
