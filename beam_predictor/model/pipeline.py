"""Train-and-evaluate glue shared by the CLIs and the benchmark suites."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from beam_predictor.model.config import ModelConfig
from beam_predictor.model.data import FrameTable, Windows, make_windows, select_passes
from beam_predictor.model.metrics import fixed_codeword
from beam_predictor.model.predictor import BeamPredictor, parameter_counts
from beam_predictor.model.report import RunResult, evaluate
from beam_predictor.model.train import fit


@dataclass
class TrainedRun:
    model: BeamPredictor
    result: RunResult
    fixed_codeword: int
    windows: dict[str, Windows]


def split_windows(table: FrameTable, cfg: ModelConfig) -> dict[str, Windows]:
    mods = cfg.fusion.modalities
    return {"train": make_windows(table, cfg.task, mods, select_passes(table, "train", cfg.train.data_ratio,
                                                                       cfg.train.seed)),
            "val": make_windows(table, cfg.task, mods, select_passes(table, "val")),
            "test": make_windows(table, cfg.task, mods, select_passes(table, "test"))}


def drop_modalities(w: Windows, modalities, drop) -> Windows:
    """A copy of ``w`` with the ``drop`` modalities marked missing everywhere (a silent sensor)."""
    out = w.subset(slice(None))
    out.missing = w.missing.copy()
    out.feats = w.feats.copy()
    for m in drop:
        i = list(modalities).index(m)
        out.missing[:, :, i] = True
        out.feats[:, :, i] = 0.0
    return out


def train_and_evaluate(cfg: ModelConfig, table: FrameTable, task: str = "standard", name: str | None = None,
                       progress: bool = True) -> TrainedRun:
    windows = split_windows(table, cfg)
    num_codewords = table.pa_gain_db.shape[1] if np.isfinite(table.pa_gain_db).any() else 0
    start = time.perf_counter()
    model, history = fit(cfg, windows["train"], windows["val"], num_codewords, progress=progress,
                         desc=f"{name or cfg.name} {task}")
    seconds = time.perf_counter() - start
    fixed = fixed_codeword(windows["train"].pa_gain_db[:, 0]) if num_codewords else 0
    metrics, per_step = evaluate(model, windows["test"], fixed)
    trainable, total = parameter_counts(model)
    metrics.update({"train_seconds": seconds, "trainable_params": trainable, "total_params": total,
                    "train_windows": len(windows["train"])})
    return TrainedRun(model, RunResult(name or cfg.name, task, metrics, per_step, history), fixed, windows)
