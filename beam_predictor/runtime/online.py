"""Online prediction with a trained checkpoint (the fusion node's core).

The node pushes each synchronized frame as a :class:`beam_predictor.window.FrameInput`
into ``window``, the same :class:`beam_predictor.window.HistoryWindow` that built the
training windows, configured from the checkpoint (its input format) and the site
geometry the checkpoint was trained at (or another one, for a new deployment).  Models
that read the camera image themselves (paper 002) get it preprocessed here, by the image
configuration their checkpoint stores (the one training used).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from beam_predictor.model import checkpoint
from beam_predictor.config import from_mapping
from beam_predictor.physics.site import SiteGeometry, read_site
from beam_predictor.sensing.config import ImagePrepConfig
from beam_predictor.sensing.preprocess import prep_image
from beam_predictor.window import HistoryWindow

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
    def __init__(self, path: str, device: str = "cpu", top_k: int = 3, site: str = ""):
        """``site``: a site file (twin_meta.json or site YAML) overriding the checkpoint's site."""
        self.device = resolve_device(device)
        self.model, self.meta = checkpoint.load(path, device=str(self.device))
        cfg = self.model.cfg
        self.site: SiteGeometry | None = read_site(site) if site else self.meta.site
        if cfg.needs_site and self.site is None:
            raise checkpoint.CheckpointError(f"{path}: uses kinematics or positions but carries no site "
                                             "geometry; give the fusion node a site file")
        self.modalities, self.top_k = cfg.feature_modalities, top_k
        self.history, self.horizon = cfg.task.history, cfg.task.horizon
        self.frame_period = cfg.inputs.frame_period_s
        self.uses_box, self.needs_image = cfg.inputs.box, cfg.needs_image
        self.image_prep = None
        if self.needs_image:
            if self.meta.image_prep is None:
                raise checkpoint.CheckpointError(f"{path}: reads camera images but stores no image "
                                                 "preprocessing; retrain it")
            self.image_prep = from_mapping(ImagePrepConfig, self.meta.image_prep, f"{path}:image_prep")
        self.window = HistoryWindow(cfg.window_spec(), self.site if cfg.needs_site else None)
        self.description = (f"{path}: {self.meta.backbone_source}; H={self.history}, T={self.horizon}"
                            + (f"; site {site or 'of the checkpoint'}" if cfg.needs_site else ""))
        log.info("loaded %s", self.description)

    def image(self, jpeg: bytes | None) -> np.ndarray | None:
        """A camera frame as the model reads it (None: undecodable or black, the camera counts as silent)."""
        return prep_image(jpeg, self.image_prep).value

    @torch.inference_mode()
    def predict(self) -> Prediction:
        start = time.perf_counter()
        out = self.model({k: torch.from_numpy(v).to(self.device) for k, v in self.window.arrays().items()})
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
