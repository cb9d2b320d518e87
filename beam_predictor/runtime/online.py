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
are checked against the checkpoint's when the export is first loaded
(:func:`engine.frozen_weights_check`); the export's serving bundle then holds the config,
site and codebook, and a later start with the same checkpoint reads those instead of the
checkpoint: no torch import, no model build (:func:`engine.read_bundle`).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from beam_predictor.config import from_mapping, to_mapping
from beam_predictor.model.config import ModelConfig
from beam_predictor.model.errors import CheckpointError
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


def _by_name(model, keys: tuple[str, ...], outputs: tuple[str, ...]):
    """The model with positional inputs (ONNX has no dicts) and a tuple of its logits out."""
    from torch import nn

    class ByName(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *xs):
            out = self.model(dict(zip(keys, xs)))
            return tuple(out[k] for k in outputs)

    return ByName()


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def resolve_device(device: str):
    """``cpu`` or ``cuda[:n]`` (a torch.device); a clear error when CUDA is asked for and absent."""
    import torch
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device '{device}' requested but CUDA is not available on this machine")
    return torch.device(device)


class OnlinePredictor:
    def __init__(self, path: str, device: str = "cpu", top_k: int = 3, site: str = "", runtime: str = "auto",
                 threads: int = 1):
        """``site``: a site file (twin_meta.json or site YAML) overriding the checkpoint's site."""
        from beam_predictor.runtime import engine
        self.runtime = engine.resolve_runtime(runtime, device)
        self.frozen_check, self.model, self.session = None, None, None
        self.top_k, self.device = top_k, device
        bundle = engine.read_bundle(f"predictor_{engine.file_key(path)}") \
            if self.runtime == "onnxruntime" else None
        if bundle is not None:                  # a verified export: serve it without torch
            doc, onnx_path = bundle
            cfg = from_mapping(ModelConfig, doc["config"], f"{onnx_path}:config")
            ckpt_site = None if doc["site"] is None else SiteGeometry.from_dict(doc["site"])
            book = None if doc["pa_codebook"] is None else np.asarray(doc["pa_codebook"])
            source, self.image_prep = doc["backbone_source"], None
            self.frozen_check = tuple(doc["frozen_check"]) if doc["frozen_check"] else None
        else:
            from beam_predictor.model import checkpoint
            self.device = resolve_device(device)
            self.model, meta = checkpoint.load(path, device=str(self.device))
            self.model.eval()
            cfg, ckpt_site, book, source = self.model.cfg, meta.site, meta.pa_codebook, meta.backbone_source
            self.image_prep = None
            if cfg.needs_image:
                if meta.image_prep is None:
                    raise CheckpointError(f"{path}: reads camera images but stores no image "
                                          "preprocessing; retrain it")
                self.image_prep = from_mapping(ImagePrepConfig, meta.image_prep, f"{path}:image_prep")
        self.site: SiteGeometry | None = read_site(site) if site else ckpt_site
        if cfg.needs_site and self.site is None:
            raise CheckpointError(f"{path}: uses kinematics or positions but carries no site geometry; give "
                                  "the fusion node a site file")
        self.cfg, self.pa_codebook = cfg, book
        self.modalities = cfg.feature_modalities
        self.history, self.horizon = cfg.task.history, cfg.task.horizon
        self.frame_period = cfg.inputs.frame_period_s
        self.uses_box, self.needs_image = cfg.inputs.box, cfg.needs_image
        self.window = HistoryWindow(cfg.window_spec(), self.site if cfg.needs_site else None)
        if bundle is not None:
            self.session = engine.OrtModule(bundle[1], threads)
        elif self.runtime == "onnxruntime":
            if cfg.kind not in EXPORTABLE:
                if runtime == "onnxruntime":
                    raise engine.ExportError(f"{path}: a '{cfg.kind}' model is not exportable to ONNX "
                                             f"(exportable: {EXPORTABLE}); use runtime torch")
                self.runtime = "torch"
            else:
                self.session = self._export(path, threads, engine, ckpt_site, book, source)
        self.predict()                     # warm-up: first-call allocations happen before the first frame
        loaded = "the verified export's bundle, no torch" if bundle is not None else "the checkpoint"
        self.description = (f"{path}: {source}; H={self.history}, T={self.horizon}"
                            + (f"; site {site or 'of the checkpoint'}" if cfg.needs_site else "")
                            + f"; runtime {self.runtime} (from {loaded})")
        log.info("loaded %s", self.description)

    def _export(self, path: str, threads: int, engine, site, book, source):
        """The ONNX Runtime session of this checkpoint (exported once), its frozen LLM weights checked;
        then the serving bundle that lets the next start skip the checkpoint."""
        import torch
        example = {k: torch.from_numpy(v) for k, v in self.window.arrays().items()}
        with torch.inference_mode():
            outputs = tuple(k for k in OUTPUTS if k in self.model(example))
        wrapped = _by_name(self.model, tuple(example), outputs)
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
        engine.write_bundle(f"predictor_{engine.file_key(path)}", onnx_path, {
            "config": to_mapping(self.cfg), "site": None if site is None else site.to_dict(),
            "pa_codebook": None if book is None else np.asarray(book).tolist(), "backbone_source": source,
            "frozen_check": list(self.frozen_check) if self.frozen_check else None})
        return engine.OrtModule(onnx_path, threads)

    def image(self, jpeg: bytes | None) -> np.ndarray | None:
        """A camera frame as the model reads it (None: undecodable or black, the camera counts as silent)."""
        return prep_image(jpeg, self.image_prep).value

    def logits(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The model's logits (``OUTPUTS``, batch of one) for window arrays, in this predictor's runtime."""
        if self.session is not None:
            return dict(zip(OUTPUTS, self.session.run(**arrays)))
        import torch
        with torch.inference_mode():
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
        book = self.pa_codebook
        positions = book[codeword] if book is not None and (codeword >= 0).all() else np.zeros((steps, 0))
        return Prediction(top, np.take_along_axis(probs, top, -1), codeword, positions,
                          time.perf_counter() - start)
