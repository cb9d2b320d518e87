"""Inference runtimes of the live graph: torch, or ONNX Runtime on an exported graph.

Every model stage of the graph (the YOLO detector, the four encoders, the predictor) can
run in torch or in ONNX Runtime.  ``auto`` (the default) picks ONNX Runtime on the CPU and
torch on CUDA: on the 2-core development machine every stage is faster in ONNX Runtime at
batch 1 and one thread, preprocessing included (``make bench-stages`` prints the figures),
and its CUDA provider is not part of the CPU wheel.

Exports are made from the loaded torch module, once, and cached under
``$ROS_HOME/beam_predictor/onnx`` (git-ignored by nature, never committed; ``beam-predictor
export`` builds them ahead of a run), keyed by the sha256 of the checkpoint file and the
exporter's versions, so a retrained checkpoint is never served by a stale graph.  The
exporter is torch's ``torch.export``-based one (``dynamo=True``): it lowers every operator
the models use (the TorchScript exporter has no ``logaddexp``), and with ``optimize=False``
the parameters keep their module names as ONNX initializer names, which
:func:`frozen_weights_check` reads to prove the exported LLM carries its exact frozen
weights.  Sessions run with ``threads`` intra-op threads (default 1: the graph's processes
share the cores), one inter-op thread and no spinning, so an idle stage leaves its core to
the others.

Next to each verified export lies its serving bundle (:func:`write_bundle`, JSON): what
serving the graph needs besides it (the model config, the site, the PA codebook, an
encoder's preprocessing), and the sha256 of the ONNX file as verified.  A node whose bundle
and export are in the cache starts without importing torch or building the model
(:func:`read_bundle`): a respawned fusion node or encoder is back in about a second instead
of five (``make faults``), and its process holds no torch.  A bundle whose export changed
is ignored (the node then takes the full path: rebuild, export, check).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "onnxruntime", "torch")


class ExportError(RuntimeError):
    """A model that cannot be exported or served by ONNX Runtime (named in the message)."""


def resolve_runtime(runtime: str, device: str) -> str:
    """``onnxruntime`` or ``torch`` for a stage's ``runtime`` parameter on ``device``."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime '{runtime}': choose from {RUNTIMES}")
    if runtime == "auto":
        return "torch" if device.startswith("cuda") else "onnxruntime"
    if runtime == "onnxruntime" and device.startswith("cuda"):
        raise ValueError(f"runtime onnxruntime with device '{device}': the installed ONNX Runtime serves on "
                         "the CPU; use runtime torch (or auto) on CUDA")
    return runtime


def export_dir() -> Path:
    from beam_predictor.config import ros_home
    return ros_home() / "beam_predictor" / "onnx"


def file_key(path: str | Path, *extra: str) -> str:
    """sha256 of a checkpoint file's bytes and ``extra`` (exporter versions, settings): 16 hex digits.
    The versions come from the package metadata: keying imports no torch."""
    h = hashlib.sha256(Path(path).read_bytes())
    for item in (metadata.version("torch"), metadata.version("onnx")) + extra:
        h.update(str(item).encode())
    return h.hexdigest()[:16]


def cached(name: str, build: Callable[[Path], None]) -> Path:
    """``export_dir()/name``, built by ``build(tmp_path)`` first when absent (atomically: a killed
    export leaves no partial graph)."""
    path = export_dir() / name
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    log.info("exporting %s to ONNX (once; cached at %s)", name, path)
    try:
        build(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_bundle(name: str, onnx_path: Path, data: dict) -> Path:
    """``export_dir()/name.json``: ``data`` (JSON-able) for serving ``onnx_path`` without torch, with
    the export's sha256 as it was verified; written atomically."""
    path = export_dir() / f"{name}.json"
    doc = {"onnx": onnx_path.name, "onnx_sha256": _sha256(onnx_path), **data}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=1))
    tmp.replace(path)
    return path


def read_bundle(name: str) -> tuple[dict, Path] | None:
    """(the bundle ``name``, its export) when both are cached and the export is the one verified; else
    None (and why, in the log, when a bundle is there but unusable)."""
    path = export_dir() / f"{name}.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        onnx_path = export_dir() / doc["onnx"]
        if onnx_path.is_file() and _sha256(onnx_path) == doc["onnx_sha256"]:
            return doc, onnx_path
        log.warning("%s: its export %s is missing or changed; loading the checkpoint", path, onnx_path)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("%s: unreadable bundle (%s); loading the checkpoint instead", path, exc)
    return None


def export_module(module, inputs: dict, outputs: tuple[str, ...], path: Path) -> None:
    """Export ``module(*inputs.values())`` (a tuple of tensors out) to ``path`` with those names."""
    import warnings

    import torch
    module.eval()
    args = tuple(inputs.values())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(module, args, dynamo=True, optimize=False, verbose=False,
                                        input_names=list(inputs), output_names=list(outputs),
                                        external_data=False)
        program.save(str(path))
    except Exception as exc:
        raise ExportError(f"{type(module).__name__}: ONNX export failed: "
                          f"{type(exc).__name__}: {exc}") from exc


class OrtModule:
    """An ONNX Runtime session on the CPU: ``run(name=array, ...)`` -> the outputs in order."""

    def __init__(self, path: str | Path, threads: int = 1):
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_names = tuple(i.name for i in self.session.get_inputs())

    def run(self, **arrays: np.ndarray) -> list[np.ndarray]:
        missing = [n for n in self.input_names if n not in arrays]
        if missing:
            raise ExportError(f"{self.path}: inputs {missing} not given")
        return self.session.run(None, {n: arrays[n] for n in self.input_names})


def initializers(path: str | Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def frozen_weights_check(llm, prefix: str, path: str | Path) -> tuple[str, str, list[str]]:
    """(digest of the frozen LLM weights as the ONNX file stores them, the same digest of the torch
    module, frozen weights the graph does not use).  Equal digests: every frozen weight the exported
    graph computes with is bit-identical to the checkpoint's LLM (whose own digest the checkpoint
    loader checks).  ``prefix``: the LLM's module path in the exported model."""
    stored = initializers(path)
    onnx_h, torch_h, unused = hashlib.sha256(), hashlib.sha256(), []
    for name, p in llm.named_parameters():
        if p.requires_grad:
            continue
        key = prefix + name
        if key not in stored:
            unused.append(name)
            continue
        for h, value in ((onnx_h, stored[key]), (torch_h, p.detach().cpu().numpy())):
            h.update(name.encode())
            h.update(np.ascontiguousarray(value, dtype=np.float32).tobytes())
    return onnx_h.hexdigest()[:16], torch_h.hexdigest()[:16], unused
