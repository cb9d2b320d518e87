"""Supervised fine-tuning of a predictor on windows: cross-entropy over the T + 1 beams
(eq. 20) + lambda * InfoNCE alignment (eqs. 21-22) + the PA codeword cross-entropy.

Any registered model (:mod:`beam_predictor.model.registry`).  Seeded.  The model's
``prepare`` runs first: for M2BeamLLM the geometric prior is fitted alone to the training
labels (:meth:`GeometricPrior.fit`: the angle -> beam calibration), the reflector's
distance next (:meth:`Reflection.calibrate`), and both then train with everything else at
their own learning rate; the paper 002 models start from the pretrained image encoder.
The alignment loss applies to models that return aligned modality features.  The kept
epoch is the one with the best validation Top-1 over the scored offsets (ties: the lower
validation loss): the validation loss bottoms out while Top-1 is
still rising.  With a prior, the fitted prior before any network step competes as epoch 0.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from beam_predictor.model.alignment import info_nce
from beam_predictor.model.config import ModelConfig
from beam_predictor.model.data import Windows
from beam_predictor.model.metrics import target_steps, topk_accuracy
from beam_predictor.model.registry import build_model


def to_tensors(w: Windows, rows=None) -> dict[str, torch.Tensor]:
    """Model inputs and the training targets of the windows ``rows``."""
    rows = slice(None) if rows is None else rows
    gain = w.pa_gain_db[rows]
    ok = np.isfinite(gain).all(axis=-1)
    pa_best = np.where(ok, np.nan_to_num(gain, nan=-np.inf).argmax(axis=-1), -100)
    out = {k: torch.from_numpy(v[rows]) for k, v in w.inputs.items()}
    out.update({"beam": torch.from_numpy(w.beam[rows]).long(), "pa_best": torch.from_numpy(pa_best).long(),
                "seq": torch.from_numpy(np.asarray(w.seq[rows])).long(),
                "frame": torch.from_numpy(np.asarray(w.frame[rows])).long()})
    return out


def losses(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = model(batch)
    cfg = model.cfg
    beam = F.cross_entropy(out["beam_logits"].flatten(0, 1), batch["beam"].flatten())
    total, parts = beam, {"beam": beam}
    if "aligned" in out and cfg.fusion.align_weight > 0 and len(cfg.fusion.modalities) > 1:
        valid = ~batch["pad"]
        length = valid.shape[1]
        # every step's pass and frame index, so that nearby frames of one pass are no negatives
        step_frame = batch["frame"][:, None] - torch.arange(length - 1, -1, -1)
        step_seq = batch["seq"][:, None].expand(-1, length)
        align = info_nce(out["aligned"][valid], out["missing"][valid], cfg.fusion.temperature,
                         step_seq[valid], step_frame[valid], span=length)
        total = total + cfg.fusion.align_weight * align
        parts["align"] = align
    if "pa_logits" in out and bool((batch["pa_best"] >= 0).any()):
        pa = F.cross_entropy(out["pa_logits"].flatten(0, 1), batch["pa_best"].flatten(), ignore_index=-100)
        total = total + cfg.train.pa_weight * pa
        parts["pa"] = pa
    parts["total"] = total
    return parts


@torch.inference_mode()
def predict(model: nn.Module, w: Windows, batch: int = 256) -> dict[str, np.ndarray]:
    """Beam (and PA) probabilities (N, T+1, C) of every window, in eval mode."""
    model.eval()
    beams, pas = [], []
    for i in range(0, len(w), batch):
        out = model(to_tensors(w, slice(i, i + batch)))
        beams.append(out["beam_logits"].softmax(-1).numpy())
        if "pa_logits" in out:
            pas.append(out["pa_logits"].softmax(-1).numpy())
    res = {"beam": np.concatenate(beams)}
    if pas:
        res["pa"] = np.concatenate(pas)
    return res


@torch.inference_mode()
def _validate(model: nn.Module, w: Windows) -> dict[str, float]:
    model.eval()
    # one batch (the alignment loss's negatives are the batch), unless the windows carry images
    batch = 256 if "image" in w.inputs else max(len(w), 1)
    loss = sum(float(losses(model, to_tensors(w, slice(i, i + batch)))["total"]) * len(w.beam[i:i + batch])
               for i in range(0, len(w), batch)) / len(w)
    steps = target_steps(w.beam.shape[1])
    acc = topk_accuracy(predict(model, w)["beam"][:, steps], w.beam[:, steps], ks=(1, 3))
    return {"val_loss": loss, "val_top1": acc[1], "val_top3": acc[3]}


def fit(cfg: ModelConfig, train: Windows, val: Windows, num_codewords: int = 0,
        progress: bool = True, desc: str = "", image_encoder=None) -> tuple[nn.Module, list[dict]]:
    """Train a fresh predictor of ``cfg.kind``; returns the best-validation-Top-1 model and the
    per-epoch history.  ``image_encoder``: the pretrained encoder the paper 002 models start from."""
    tc = cfg.train
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    model = build_model(cfg, num_codewords)
    prior_params = model.prepare(train, image_encoder)
    params = [p for p in model.parameters() if p.requires_grad]
    others = [p for p in params if all(p is not q for q in prior_params)]
    groups = [{"params": others, "lr": tc.lr, "weight_decay": tc.weight_decay}]
    if prior_params:
        groups.append({"params": prior_params, "lr": cfg.inputs.prior_lr, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups)
    steps = tc.epochs * max(1, int(np.ceil(len(train) / tc.batch_size)))
    # (at least 20 steps: OneCycle's 10 % warm-up needs two; a tiny run stops early in the cycle)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups],
                                                total_steps=max(steps, 20),
                                                pct_start=0.1)
    history, best, best_key = [], None, (-1.0, 0.0)

    def keep(row: dict) -> None:
        nonlocal best, best_key
        key = (row["val_top1"], -row["val_loss"])
        if key > best_key:
            best_key, best = key, copy.deepcopy(model.state_dict())
            row["kept"] = True

    if getattr(model, "prior", None) is not None:    # epoch 0: the fitted prior with a zero residual
        history.append({"epoch": 0, **_validate(model, val), "seconds": 0.0})
        keep(history[-1])
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
        keep(row)
        bar.set_postfix(loss=f"{row['train_total']:.3f}", val_top1=f"{row['val_top1']:.3f}")
    if best is not None:
        model.load_state_dict(best)
    return model.eval(), history
