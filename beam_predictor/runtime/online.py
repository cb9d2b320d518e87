"""Online prediction with a trained checkpoint (the fusion node's core).

The node pushes each synchronized frame as a :class:`beam_predictor.window.FrameInput`
into ``window``, the same :class:`beam_predictor.window.HistoryWindow` that built the
training windows, configured from the checkpoint (its input format) and the site
geometry the checkpoint was trained at (or another one, for a new deployment).  Models
that read the camera image themselves (paper 002) get it preprocessed here, by the image
configuration their checkpoint stores (the one training used).

The network runs in torch or in ONNX Runtime (:mod:`beam_predictor.runtime.engine`;
``runtime`` auto = ONNX Runtime on the CPU for the kinds in ``EXPORTABLE``).  The exported
graph takes the window's arrays by name and returns the logits; the softmax and top-k
after it are the same numpy code for both runtimes.  The exported LLM's frozen weights
are checked against the checkpoint's at load (:func:`engine.frozen_weights_check`).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

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


# Model kinds whose forward pass is tensors only (paper 002's MLM-BP writes positions as text in Python,
# so it is served by torch).
EXPORTABLE = ("m2beamllm",)
OUTPUTS = ("beam_logits", "pa_logits")


class _ByName(nn.Module):
    """The model with positional inputs (ONNX has no dicts) and a tuple of its logits out."""

    def __init__(self, model: nn.Module, keys: tuple[str, ...], outputs: tuple[str, ...]):
        super().__init__()
        self.model, self.keys, self.outputs = model, keys, outputs

    def forward(self, *xs):
        out = self.model(dict(zip(self.keys, xs)))
        return tuple(out[k] for k in self.outputs)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def resolve_device(device: str) -> torch.device:
    """``cpu`` or ``cuda[:n]``; a clear error when CUDA is asked for and absent."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device '{device}' requested but CUDA is not available on this machine")
    return torch.device(device)


class OnlinePredictor:
    def __init__(self, path: str, device: str = "cpu", top_k: int = 3, site: str = "", runtime: str = "auto",
                 threads: int = 1):
        """``site``: a site file (twin_meta.json or site YAML) overriding the checkpoint's site."""
        from beam_predictor.runtime import engine
        self.device = resolve_device(device)
        self.model, self.meta = checkpoint.load(path, device=str(self.device))
        self.model.eval()
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
        self.runtime, self.frozen_check = engine.resolve_runtime(runtime, device), None
        if self.runtime == "onnxruntime" and cfg.kind not in EXPORTABLE:
            if runtime == "onnxruntime":
                raise engine.ExportError(f"{path}: a '{cfg.kind}' model is not exportable to ONNX "
                                         f"(exportable: {EXPORTABLE}); use runtime torch")
            self.runtime = "torch"
        self.session = self._export(path, threads, engine) if self.runtime == "onnxruntime" else None
        self.predict()                     # warm-up: first-call allocations happen before the first frame
        self.description = (f"{path}: {self.meta.backbone_source}; H={self.history}, T={self.horizon}"
                            + (f"; site {site or 'of the checkpoint'}" if cfg.needs_site else "")
                            + f"; runtime {self.runtime}")
        log.info("loaded %s", self.description)

    def _export(self, path: str, threads: int, engine):
        """The ONNX Runtime session of this checkpoint (exported once), its frozen LLM weights checked."""
        example = {k: torch.from_numpy(v) for k, v in self.window.arrays().items()}
        with torch.inference_mode():
            outputs = tuple(k for k in OUTPUTS if k in self.model(example))
        wrapped = _ByName(self.model, tuple(example), outputs)
        name = f"predictor_{engine.file_key(path, tuple(example), outputs)}.onnx"
        onnx_path = engine.cached(name, lambda out: engine.export_module(wrapped, example, outputs, out))
        llm = getattr(getattr(self.model, "backbone", None), "llm", None)
        if llm is not None:
            stored, expected, unused = engine.frozen_weights_check(llm, "model.backbone.llm.", onnx_path)
            if stored != expected:
                raise engine.ExportError(f"{onnx_path}: its frozen LLM weights differ from {path}'s "
                                         f"(digest {stored} != {expected}); delete it to re-export")
            log.info("%s: frozen LLM weights identical to the checkpoint's (digest %s; unused by the graph: "
                     "%s)", onnx_path, stored, unused or "none")
            self.frozen_check = (stored, expected, unused)
        return engine.OrtModule(onnx_path, threads)

    def image(self, jpeg: bytes | None) -> np.ndarray | None:
        """A camera frame as the model reads it (None: undecodable or black, the camera counts as silent)."""
        return prep_image(jpeg, self.image_prep).value

    @torch.inference_mode()
    def logits(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The model's logits (``OUTPUTS``, batch of one) for window arrays, in this predictor's runtime."""
        if self.session is not None:
            return dict(zip(OUTPUTS, self.session.run(**arrays)))
        out = self.model({k: torch.from_numpy(v).to(self.device) for k, v in arrays.items()})
        return {k: out[k].float().cpu().numpy() for k in OUTPUTS if k in out}

    def predict(self, arrays: dict[str, np.ndarray] | None = None) -> Prediction:
        """The prediction for ``arrays`` (default: the window's now)."""
        start = time.perf_counter()
        out = self.logits(self.window.arrays() if arrays is None else arrays)
        probs = _softmax(out["beam_logits"][0].astype(np.float64))
        top = np.argsort(-probs, axis=-1, kind="stable")[:, :self.top_k]
        steps = self.horizon + 1
        codeword = out["pa_logits"][0].argmax(-1) if "pa_logits" in out else -np.ones(steps, int)
        book = self.meta.pa_codebook
        positions = book[codeword] if book is not None and (codeword >= 0).all() else np.zeros((steps, 0))
        return Prediction(top, np.take_along_axis(probs, top, -1), codeword, positions,
                          time.perf_counter() - start)
