"""Training and evaluation of paper 004's sparse-sweep predictors (``beam-predictor sweep``).

Loss (eq. 21): lambda_bm * cross-entropy of the fine beam (eq. 20) + lambda_pos * MSE of the
position (eq. 19, dual models; frames without a GPS fix are left out of it) + lambda_auto *
AutoFusion's reconstruction (eq. 17) + lambda_adv * the generator's adversarial loss (eq. 18,
GanFusion; its discriminator takes its own AdamW step on the same batch).  AdamW with a linear
warm-up, then ReduceLROnPlateau on the validation Top-1 (the paper's schedule, shorter).  The
kept epoch is the best validation Top-1.

Twin sweeps get a new channel-noise draw every epoch (``train.fresh_noise``), so a few thousand
frames do not teach the noise; validation and test use fixed draws, seeded by the SNR.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from beam_predictor.config import from_mapping, to_mapping
from beam_predictor.model.errors import CheckpointError
from beam_predictor.model.metrics import topk_accuracy
from beam_predictor.model.sweep import SweepSet, sweep_features
from beam_predictor.model.sweep_config import DUAL_MODELS, SweepConfig, check_snr
from beam_predictor.model.sweep_nets import build_sweep_net

EVAL_STREAM = 7           # rng stream of the fixed evaluation noise: [seed, EVAL_STREAM, split, snr]
# a frame whose best fine beam leads the second by less than this (clean power) is a near-tie: adjacent
# beams of an oversampled codebook overlap, and no sweep at a finite SNR tells them apart
TIE_DB = 0.1


@dataclass
class SweepRun:
    cfg: SweepConfig
    model: torch.nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0


def _snr(cfg: SweepConfig, data: SweepSet) -> float | None:
    return cfg.task.snr_db if data.has_channel else None


def eval_rng(seed: int, split: str, snr_db: float | None) -> np.random.Generator:
    code = {"train": 0, "val": 1, "test": 2, "all": 3}[split]
    return np.random.default_rng([seed, EVAL_STREAM, code, int(round(10 * (snr_db or 0.0))) + 1000])


def inputs(cfg: SweepConfig, data: SweepSet, rng: np.random.Generator) -> np.ndarray:
    t = cfg.task
    return sweep_features(data.sweep(t.fine_beams, t.coarse_beams, _snr(cfg, data), rng))


def _usable(cfg: SweepConfig, data: SweepSet, split: str) -> np.ndarray:
    t = cfg.task
    rows = data.valid(t.fine_beams, t.coarse_beams) & (data.labels(t.fine_beams) >= 0)
    return rows if split == "all" else rows & (data.split == split)


@torch.no_grad()
def predict(model: torch.nn.Module, x: np.ndarray, batch: int = 1024) -> np.ndarray:
    """(n, fine) logits; rows with a NaN input get NaN scores (masked, never zero-filled)."""
    model.eval()
    ok = np.isfinite(x).all(axis=(1, 2))
    out = None
    for i in range(0, len(x), batch):
        part = np.nan_to_num(x[i:i + batch])
        logits = model(torch.from_numpy(part))["beam"].numpy()
        out = np.empty((len(x), logits.shape[1]), np.float32) if out is None else out
        out[i:i + batch] = logits
    if out is None:
        return np.empty((0, 0), np.float32)
    out[~ok] = np.nan
    return out


def train_sweep(cfg: SweepConfig, data: SweepSet, progress: bool = True) -> SweepRun:
    t, tc = cfg.task, cfg.train
    if data.has_channel:
        check_snr(t.snr_db, t.snr_grid_db)
    torch.manual_seed(tc.seed)
    train, val = data.subset(_usable(cfg, data, "train")), data.subset(_usable(cfg, data, "val"))
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"{data.name}: no usable train or val frames for the {t.fine_beams}-beam task")
    y_tr = torch.from_numpy(train.labels(t.fine_beams)).long()
    pos = train.position / tc.position_scale_m
    pos_ok = torch.from_numpy(np.isfinite(pos).all(axis=1))
    pos = torch.from_numpy(np.nan_to_num(pos)).float()
    x_val = inputs(cfg, val, eval_rng(tc.seed, "val", _snr(cfg, val)))
    y_val = val.labels(t.fine_beams)

    model = build_sweep_net(cfg.net, t.coarse_beams, t.fine_beams)
    dual, gan = cfg.net.kind in DUAL_MODELS, cfg.net.kind == "dual_gan"
    params = model.generator_parameters() if gan else list(model.parameters())
    opt = torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay)
    d_opt = (torch.optim.AdamW(model.discriminator.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
             if gan else None)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", factor=tc.plateau_factor, patience=tc.plateau_patience, threshold=0.01,
        cooldown=tc.plateau_cooldown, min_lr=tc.min_lr)
    steps_per_epoch = -(-len(train) // tc.batch_size)
    warmup = max(1, tc.warmup_epochs * steps_per_epoch)
    run = SweepRun(cfg, model)
    best = (-1.0, None)
    x_tr = None
    step = 0
    epochs = tqdm(range(1, tc.epochs + 1), desc=f"sweep {cfg.net.kind} {t.coarse_beams}->{t.fine_beams}",
                  disable=not progress, leave=False)
    for epoch in epochs:
        if x_tr is None or tc.fresh_noise:
            fresh = inputs(cfg, train, np.random.default_rng([tc.seed, epoch]))
            x_tr = torch.from_numpy(np.nan_to_num(fresh))
        model.train()
        perm = torch.randperm(len(train))
        totals = {"loss": 0.0, "ce": 0.0}
        for i in range(0, len(train), tc.batch_size):
            b = perm[i:i + tc.batch_size]
            if len(b) < 2:
                continue
            for g in opt.param_groups:
                if step < warmup:
                    g["lr"] = tc.lr * (step + 1) / warmup
            step += 1
            out = model(x_tr[b])
            ce = F.cross_entropy(out["beam"], y_tr[b])
            loss = tc.lambda_bm * ce
            if dual:
                ok = pos_ok[b]
                if ok.any():
                    loss = loss + tc.lambda_pos * F.mse_loss(out["position"][ok], pos[b][ok])
                loss = loss + tc.lambda_auto * out["auto_loss"]
            if gan:
                judged = model.discriminator(out["generated"])        # the generator wants "enhanced"
                adv = F.binary_cross_entropy_with_logits(judged, torch.ones_like(judged))
                loss = loss + tc.lambda_adv * adv
            opt.zero_grad()
            loss.backward()
            opt.step()
            if gan:
                on_enhanced = model.discriminator(out["enhanced"].detach())
                on_generated = model.discriminator(out["generated"].detach())
                d_loss = (F.binary_cross_entropy_with_logits(on_enhanced, torch.ones_like(on_enhanced))
                          + F.binary_cross_entropy_with_logits(on_generated, torch.zeros_like(on_generated)))
                d_opt.zero_grad()
                d_loss.backward()
                d_opt.step()
            totals["loss"] += loss.item() * len(b)
            totals["ce"] += ce.item() * len(b)
        val_top1 = topk_accuracy(predict(model, x_val), y_val, ks=(1,))[1]
        if step >= warmup:
            plateau.step(val_top1)
        record = {"epoch": epoch, "train_loss": totals["loss"] / len(train),
                  "train_ce": totals["ce"] / len(train), "val_top1": val_top1,
                  "lr": opt.param_groups[0]["lr"]}
        run.history.append(record)
        epochs.set_postfix(val_top1=f"{val_top1:.3f}")
        if val_top1 > best[0]:
            best = (val_top1, copy.deepcopy(model.state_dict()))
            run.best_epoch = epoch
    model.load_state_dict(best[1])
    model.eval()
    return run


def evaluate_sweep(run_or_model, cfg: SweepConfig, data: SweepSet, split: str = "test",
                   scores: np.ndarray | None = None) -> dict:
    """Top-1/3, mean power loss against the best fine beam (clean power), the rate (Table VI), the
    share of near-ties (``TIE_DB``) and Top-1 on the other frames (``decisive_top1``) on ``split``'s
    frames; ``scores`` (n_split_frames, fine) evaluates given scores instead of a model
    (the anchors).  Frames whose sweep is masked are counted in ``masked``."""
    t = cfg.task
    in_split = data.split == split if split != "all" else np.ones(len(data), bool)
    if data.has_channel:
        check_snr(t.snr_db, t.snr_grid_db)
    rows = _usable(cfg, data, split)
    if not rows.any():
        raise ValueError(f"{data.name}: no usable '{split}' frames for the {t.fine_beams}-beam task")
    part = data.subset(rows)
    y = part.labels(t.fine_beams)
    if scores is None:
        model = run_or_model.model if isinstance(run_or_model, SweepRun) else run_or_model
        x = inputs(cfg, part, eval_rng(cfg.train.seed, split, _snr(cfg, part)))
        scores = predict(model, x)
    ok = np.isfinite(scores).any(axis=1)
    chosen = np.argmax(np.nan_to_num(scores, nan=-np.inf), axis=1)
    clean = part.clean_power(t.fine_beams)
    best = clean[np.arange(len(part)), y]
    got = clean[np.arange(len(part)), chosen]
    loss = 10 * np.log10(best / np.maximum(got, 1e-30))
    top2 = np.sort(clean, axis=1)[:, -2:]
    decisive = 10 * np.log10(top2[:, 1] / np.maximum(top2[:, 0], 1e-30)) >= TIE_DB
    out = {"frames": int(ok.sum()), "masked": int(in_split.sum() - ok.sum()),
           **{f"top{k}": v for k, v in topk_accuracy(np.nan_to_num(scores[ok], nan=-np.inf), y[ok],
                                                     ks=(1, 3)).items()},
           "power_loss_db": float(np.mean(loss[ok])), "tie_share": float(np.mean(~decisive[ok])),
           "decisive_top1": float(np.mean(chosen[ok & decisive] == y[ok & decisive]))}
    out["rate"] = float(np.nanmean(part.rate(t.fine_beams, chosen, t.snr_db)[ok])) if part.has_channel \
        else float("nan")
    return out


def save_sweep(run: SweepRun, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": "beam_predictor.sweep/1", "config": to_mapping(run.cfg),
                "state": run.model.state_dict(), "history": run.history, "best_epoch": run.best_epoch}, path)
    return path


def load_sweep(path: str | Path) -> SweepRun:
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a readable sweep checkpoint ({exc})") from None
    if not isinstance(blob, dict) or blob.get("format") != "beam_predictor.sweep/1":
        raise CheckpointError(f"{path}: not a sweep checkpoint (format beam_predictor.sweep/1)")
    cfg = from_mapping(SweepConfig, blob["config"], str(path))
    model = build_sweep_net(cfg.net, cfg.task.coarse_beams, cfg.task.fine_beams)
    model.load_state_dict(blob["state"])
    model.eval()
    return SweepRun(cfg, model, blob.get("history", []), blob.get("best_epoch", 0))


def anchor_results(cfg: SweepConfig, data: SweepSet, split: str = "test") -> dict[str, dict]:
    """The non-learned anchors on ``split``, with the sweep noise every model sees there, and each
    one's beams measured per frame (the sweep, plus stage 2 for hierarchical search)."""
    from beam_predictor.model.sweep import hierarchical_search, pattern_fit, sparse_argmax
    t = cfg.task
    part = data.subset(_usable(cfg, data, split))
    snr = _snr(cfg, part)
    sweep = part.sweep(t.fine_beams, t.coarse_beams, snr, eval_rng(cfg.train.seed, split, snr))
    masked = ~np.isfinite(sweep).all(axis=1)
    hc, hc_beams = hierarchical_search(part, sweep, t.fine_beams, snr,
                                       np.random.default_rng([cfg.train.seed, 99]))
    found = {"sparse_argmax": (sparse_argmax(sweep, t.fine_beams), t.coarse_beams), "hc": (hc, hc_beams)}
    if part.has_channel:
        found["pattern_fit"] = (pattern_fit(part, sweep, t.fine_beams), t.coarse_beams)
    out = {}
    for name, (scores, beams) in found.items():
        scores = scores.astype(np.float64)
        scores[masked] = np.nan
        out[name] = {**evaluate_sweep(None, cfg, data, split, scores=scores), "beams_measured": beams}
    return out
