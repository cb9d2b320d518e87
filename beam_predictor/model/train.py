"""Supervised fine-tuning of a predictor on windows: cross-entropy over the T + 1 beams
(eq. 20) + lambda * InfoNCE alignment (eqs. 21-22) + the PA codeword cross-entropy.

Seeded; the best epoch on the validation passes (by validation loss) is kept.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from beam_predictor.model.alignment import info_nce
from beam_predictor.model.config import ModelConfig
from beam_predictor.model.data import Windows
from beam_predictor.model.metrics import topk_accuracy
from beam_predictor.model.predictor import BeamPredictor


def to_tensors(w: Windows, rows=None) -> dict[str, torch.Tensor]:
    rows = slice(None) if rows is None else rows
    gain = w.pa_gain_db[rows]
    ok = np.isfinite(gain).all(axis=-1)
    pa_best = np.where(ok, np.nan_to_num(gain, nan=-np.inf).argmax(axis=-1), -100)
    return {"feats": torch.from_numpy(w.feats[rows]), "missing": torch.from_numpy(w.missing[rows]),
            "pad": torch.from_numpy(w.pad[rows]), "box": torch.from_numpy(w.box[rows]),
            "beam": torch.from_numpy(w.beam[rows]).long(), "pa_best": torch.from_numpy(pa_best).long()}


def losses(model: BeamPredictor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = model(batch["feats"], batch["missing"], batch["pad"], batch["box"])
    cfg = model.cfg
    beam = F.cross_entropy(out["beam_logits"].flatten(0, 1), batch["beam"].flatten())
    total, parts = beam, {"beam": beam}
    if cfg.fusion.align_weight > 0 and len(cfg.fusion.modalities) > 1:
        valid = ~batch["pad"]
        align = info_nce(out["aligned"][valid], out["missing"][valid], cfg.fusion.temperature)
        total = total + cfg.fusion.align_weight * align
        parts["align"] = align
    if "pa_logits" in out and bool((batch["pa_best"] >= 0).any()):
        pa = F.cross_entropy(out["pa_logits"].flatten(0, 1), batch["pa_best"].flatten(), ignore_index=-100)
        total = total + cfg.train.pa_weight * pa
        parts["pa"] = pa
    parts["total"] = total
    return parts


@torch.inference_mode()
def predict(model: BeamPredictor, w: Windows, batch: int = 256) -> dict[str, np.ndarray]:
    """Beam (and PA) probabilities (N, T+1, C) of every window, in eval mode."""
    model.eval()
    beams, pas = [], []
    for i in range(0, len(w), batch):
        t = to_tensors(w, slice(i, i + batch))
        out = model(t["feats"], t["missing"], t["pad"], t["box"])
        beams.append(out["beam_logits"].softmax(-1).numpy())
        if "pa_logits" in out:
            pas.append(out["pa_logits"].softmax(-1).numpy())
    res = {"beam": np.concatenate(beams)}
    if pas:
        res["pa"] = np.concatenate(pas)
    return res


@torch.inference_mode()
def _validate(model: BeamPredictor, w: Windows) -> dict[str, float]:
    model.eval()
    t = to_tensors(w)
    loss = float(losses(model, t)["total"])
    probs = predict(model, w)["beam"][:, 1:]
    acc = topk_accuracy(probs, w.beam[:, 1:], ks=(1, 3))
    return {"val_loss": loss, "val_top1": acc[1], "val_top3": acc[3]}


def fit(cfg: ModelConfig, train: Windows, val: Windows, num_codewords: int = 0,
        progress: bool = True, desc: str = "") -> tuple[BeamPredictor, list[dict]]:
    """Train a fresh predictor; returns the best-validation-loss model and the per-epoch history."""
    tc = cfg.train
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    model = BeamPredictor(cfg, num_codewords)
    model.set_feature_stats(train.feats[~train.pad], train.missing[~train.pad])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay)
    steps = tc.epochs * max(1, int(np.ceil(len(train) / tc.batch_size)))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=steps, pct_start=0.1)
    history, best, best_loss = [], None, float("inf")
    bar = tqdm(range(tc.epochs), desc=desc or f"train {cfg.name}", disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        order = rng.permutation(len(train))
        sums: dict[str, float] = {}
        for i in range(0, len(order), tc.batch_size):
            parts = losses(model, to_tensors(train, order[i:i + tc.batch_size]))
            opt.zero_grad()
            parts["total"].backward()
            torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
            opt.step()
            sched.step()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(order[i:i + tc.batch_size])
        row = {"epoch": epoch + 1, **{f"train_{k}": v / len(order) for k, v in sums.items()},
               **_validate(model, val),
               "seconds": time.perf_counter() - start}
        history.append(row)
        if row["val_loss"] < best_loss:
            best_loss, best = row["val_loss"], copy.deepcopy(model.state_dict())
        bar.set_postfix(loss=f"{row['train_total']:.3f}", val_top1=f"{row['val_top1']:.3f}")
    if best is not None:
        model.load_state_dict(best)
    return model.eval(), history
