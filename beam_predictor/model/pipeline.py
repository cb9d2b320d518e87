"""Train-and-evaluate glue shared by the CLIs and the benchmark suites."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
from torch import nn

from beam_predictor.model.anchors import anchor_scores
from beam_predictor.model.config import POSITION_KINDS, ModelConfig, with_overrides
from beam_predictor.model.data import FrameTable, Windows, make_windows, select_passes
from beam_predictor.model.metrics import fixed_codeword
from beam_predictor.model.predictor import parameter_counts
from beam_predictor.model.report import RunResult, evaluate, score_metrics
from beam_predictor.model.train import fit
from beam_predictor.sensing.beam_history import BEAM_MODALITY

# inputs besides the encoder modalities, for silencing: the tracker's box series, the GPS kinematics, and
# for the paper 002 models the camera image and the position (text)
BOX, KINEMATICS, CAMERA, POSITION = "box", "kinematics", "camera", "position"


@dataclass
class TrainedRun:
    model: nn.Module
    result: RunResult
    fixed_codeword: int
    windows: dict[str, Windows]


def split_windows(table: FrameTable, cfg: ModelConfig) -> dict[str, Windows]:
    train = select_passes(table, "train", cfg.train.data_ratio, cfg.train.seed)
    return {"train": make_windows(table, cfg, train),
            "val": make_windows(table, cfg, select_passes(table, "val")),
            "test": make_windows(table, cfg, select_passes(table, "test"))}


def silence(w: Windows, modalities, drop) -> Windows:
    """A copy of ``w`` with the inputs in ``drop`` missing in every window (a silent sensor):
    encoder modalities, ``box`` (the tracker never sees the UE) or ``kinematics`` (no GPS fix)."""
    x = {k: v.copy() for k, v in w.inputs.items()}
    for name in drop:
        if name == BOX:
            x["box"][:] = 0.0
        elif name == KINEMATICS:
            x["kin"][:] = 0.0
            x["kin_missing"][:] = True
        elif name == CAMERA:
            x["image"][:] = 0.0
            x["image_missing"][:] = True
        elif name == POSITION:
            x["pos"][:] = 0.0
            x["pos_missing"][:] = True
        else:
            i = list(modalities).index(name)
            x["missing"][:, :, i] = True
            x["feats"][:, :, i] = 0.0
    return dataclasses.replace(w, inputs=x)


def inputs_of(cfg: ModelConfig) -> list[str]:
    """The inputs a model uses: its encoder modalities, then box and kinematics when enabled, then
    the camera image and the position for the models that read them."""
    return (list(cfg.feature_modalities) + [BOX] * cfg.inputs.box + [KINEMATICS] * cfg.inputs.kinematics
            + [CAMERA] * cfg.needs_image + [POSITION] * (cfg.kind in POSITION_KINDS))


def train_and_evaluate(cfg: ModelConfig, table: FrameTable, task: str = "standard", name: str | None = None,
                       progress: bool = True) -> TrainedRun:
    windows = split_windows(table, cfg)
    num_codewords = table.pa_gain_db.shape[1] if np.isfinite(table.pa_gain_db).any() else 0
    start = time.perf_counter()
    model, history = fit(cfg, windows["train"], windows["val"], num_codewords, progress=progress,
                         desc=f"{name or cfg.name} {task} seed {cfg.train.seed}",
                         image_encoder=table.image_encoder)
    seconds = time.perf_counter() - start
    fixed = fixed_codeword(windows["train"].pa_gain_db[:, 0]) if num_codewords else 0
    metrics, per_step = evaluate(model, windows["test"], fixed)
    trainable, total = parameter_counts(model)
    metrics.update({"train_seconds": seconds, "trainable_params": trainable, "total_params": total,
                    "train_windows": len(windows["train"]),
                    "kept_epoch": max((h["epoch"] for h in history if h.get("kept")), default=0)})
    return TrainedRun(model, RunResult(name or cfg.name, task, metrics, per_step, history, cfg.train.seed),
                      fixed, windows)


def evaluate_anchors(table: FrameTable, cfg: ModelConfig, task: str = "standard") -> list[RunResult]:
    """Every anchor on the test windows of ``cfg``'s task (built with kinematics when the scenario
    has a site, whatever ``cfg`` says), the calibrated one fitted on the training windows; with the
    past-beam modality, also the anchors on the beams it offers (t-H..t-1)."""
    delayed = BEAM_MODALITY in cfg.fusion.modalities
    has_site = table.site is not None
    cfg = with_overrides(cfg, {"inputs": {"kinematics": has_site, "prior": has_site and cfg.inputs.prior}})
    if cfg.needs_image:          # the same windows without the images (no anchor reads them)
        cfg = with_overrides(cfg, {"kind": "position_dnn"})
    windows = split_windows(table, cfg)
    out = []
    num_beams = table.power.shape[1]
    for name, scores in anchor_scores(windows["train"], windows["test"], table.site, num_beams,
                                      delayed).items():
        metrics, per_step = score_metrics(scores, windows["test"])
        out.append(RunResult(f"anchor: {name}", task, metrics, per_step))
    return out
