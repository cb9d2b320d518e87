"""Encoder feature cache: every frame's M-dim features, computed once per encoder checkpoint.

Features are stored per (scenario, modality, encoder version) in
``<cache>/features-<scenario key>-<modality>-<checkpoint sha256[:12]>.npz`` with the frame
index and the missing mask.  The version is the checkpoint file's content hash, so
retraining an encoder (a new checkpoint) invalidates its cached features automatically.
Fusion and LLM training read these instead of images, clouds and cubes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from beam_predictor.atomic import write_npz
from beam_predictor.config import from_mapping
from beam_predictor.deepsense.reader import scenario_key
from beam_predictor.sensing.config import SensingConfig
from beam_predictor.sensing.dataset import PreparedSet


@dataclass
class ModalityFeatures:
    index: np.ndarray       # (N,) frame index
    features: np.ndarray    # (N, M) float32, zero where missing
    missing: np.ndarray     # (N,) bool
    version: str            # checkpoint content hash


def checkpoint_version(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def load_encoder(path: str | Path):
    """(encoder module in eval mode, SensingConfig, checkpoint dict) from a pretrain checkpoint."""
    from beam_predictor.sensing.pretrain import BeamClassifier
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    cfg = from_mapping(SensingConfig, ckpt["sensing"], f"{path}:sensing")
    model = BeamClassifier(ckpt["modality"], cfg)
    model.load_state_dict(ckpt["state_dict"])
    return model.encoder.eval(), cfg, ckpt


def prepare_for_encoders(scenario: str | Path, checkpoints: dict[str, Path],
                         cache_dir: str | Path | None = None, progress: bool = True,
                         split_cfg=None) -> PreparedSet:
    """Preprocess ``scenario`` as these encoders expect: their preprocessing config, and GPS
    scaled as the GPS encoder was trained (whatever scenario it is)."""
    from beam_predictor.sensing.dataset import prepare
    from beam_predictor.sensing.preprocess import GpsScaler
    _, sensing, _ = load_encoder(next(iter(checkpoints.values())))
    scaler = None
    if "gps" in checkpoints:
        scaler = GpsScaler.from_dict(load_encoder(checkpoints["gps"])[2]["gps_scaler"])
    return prepare(scenario, sensing, tuple(checkpoints), cache_dir=cache_dir, progress=progress,
                   gps_scaler=scaler, split_cfg=split_cfg)


def encode(data: PreparedSet | Callable[[], PreparedSet], modality: str, checkpoint: str | Path,
           scenario: str | Path,
           cache_dir: str | Path | None = None, batch: int = 128, progress: bool = True) -> ModalityFeatures:
    """Features of every frame of ``data`` for one modality (from the cache when present).

    ``data`` may be a callable returning the prepared set, called only on a cache miss.
    """
    version = checkpoint_version(checkpoint)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"features-{scenario_key(Path(scenario))}-{modality}-{version}.npz"
        if cache.is_file():
            z = np.load(cache)
            return ModalityFeatures(z["index"], z["features"], z["missing"], version)
    encoder, _, ckpt = load_encoder(checkpoint)
    if ckpt["modality"] != modality:
        raise ValueError(f"{checkpoint}: encoder of '{ckpt['modality']}', not '{modality}'")
    if callable(data):
        data = data()
    x, missing = data.inputs[modality], data.missing[modality]
    out = []
    with torch.inference_mode():
        for i in tqdm(range(0, len(x), batch), desc=f"encode {modality}", disable=not progress):
            rows = slice(i, i + batch)
            out.append(encoder(torch.from_numpy(x[rows]), torch.from_numpy(missing[rows])).numpy())
    feats = ModalityFeatures(data.index.copy(), np.concatenate(out).astype(np.float32), missing.copy(),
                             version)
    if cache is not None:
        write_npz(cache, index=feats.index, features=feats.features, missing=feats.missing)
    return feats
