"""Online prediction from a history window with a trained checkpoint (the fusion node's core)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from beam_predictor.model import checkpoint
from beam_predictor.runtime.window import HistoryWindow

log = logging.getLogger(__name__)


@dataclass
class Prediction:
    beams: np.ndarray          # (T+1, K) 0-based beam indices, most probable first; row 0 = the current frame
    probs: np.ndarray          # (T+1, K) their probabilities
    pa_codeword: np.ndarray    # (T+1,) 0-based best PA codeword (-1 without a PA head)
    pa_positions: np.ndarray   # (T+1, num_pas) metres along the waveguide (empty without a codebook)
    seconds: float             # model forward time


def resolve_device(device: str) -> torch.device:
    """``cpu`` or ``cuda[:n]``; a clear error when CUDA is asked for and absent."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device '{device}' requested but CUDA is not available on this machine")
    return torch.device(device)


class OnlinePredictor:
    def __init__(self, path: str, device: str = "cpu", top_k: int = 3, gap_ns: int = 1_000_000_000):
        self.device = resolve_device(device)
        self.model, self.meta = checkpoint.load(path, device=str(self.device))
        cfg = self.model.cfg
        self.modalities, self.top_k = cfg.fusion.modalities, top_k
        self.history, self.horizon = cfg.task.history, cfg.task.horizon
        self.window = HistoryWindow(cfg.fusion.modalities, cfg.fusion.feature_dim, cfg.task.history,
                                    cfg.task.input_len, gap_ns)
        self.description = f"{path}: {self.meta.backbone_source}; H={self.history}, T={self.horizon}"
        log.info("loaded %s", self.description)

    @torch.inference_mode()
    def predict(self) -> Prediction:
        start = time.perf_counter()
        x = {k: torch.from_numpy(v).to(self.device) for k, v in self.window.arrays().items()}
        out = self.model(x["feats"], x["missing"], x["pad"], x["box"])
        probs = out["beam_logits"][0].softmax(-1)
        top = probs.topk(self.top_k, dim=-1)
        steps = self.horizon + 1
        if "pa_logits" in out:
            codeword = out["pa_logits"][0].argmax(-1).cpu().numpy()
        else:
            codeword = -np.ones(steps, int)
        book = self.meta.pa_codebook
        positions = book[codeword] if book is not None and (codeword >= 0).all() else np.zeros((steps, 0))
        return Prediction(top.indices.cpu().numpy(), top.values.cpu().numpy(), codeword, positions,
                          time.perf_counter() - start)
