"""Evaluation of trained predictors and anchors, and the ``reports/<run>/`` folder (CSV + PNG).

Metrics are over the future offsets 1..T (``now_*``: offset 0; a task with T = 0 is scored on
offset 0), and again per target
category (:mod:`beam_predictor.model.eval_labels`): ``los_in_*`` (LoS inside the
codebook's field of view), ``los_out_*`` (LoS outside it), ``nlos_*``.  How well defined
the labels are: ``tie_share`` (targets whose best beam leads the second by < 0.5 dB) and
``decisive_top1`` (Top-1 over the targets where it leads by >= 1 dB).

Files: ``summary.csv`` (one row per model, task and seed), ``per_step.csv`` (Top-K at every
offset), ``dba.csv`` (DBA for K = 1..3 and Delta = 1, 2), ``history.csv`` (training
curves), and the plots ``topk.png``, ``dba.png``, ``per_step.png``, ``training.png``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beam_predictor.model.data import Windows
from beam_predictor.model.eval_labels import LOS_IN_FOV, LOS_OUT_FOV, NLOS
from beam_predictor.model.metrics import (beam_metrics, pa_metrics, per_step_topk, power_loss_db,
                                          target_steps, topk_hits)
from beam_predictor.model.train import predict


@dataclass
class RunResult:
    model: str
    task: str
    metrics: dict
    per_step: np.ndarray                       # (T+1, 3) Top-1/3/5 at every offset
    history: list[dict] = field(default_factory=list)
    seed: int = 0


CATEGORY_KEYS = {"los_in": LOS_IN_FOV, "los_out": LOS_OUT_FOV, "nlos": NLOS}
TIE_DB = 0.5          # a target whose best beam leads the second by less than this is a near-tie
DECISIVE_DB = 1.0     # ... and by at least this, a well-defined label (``decisive_top1``)


def score_metrics(scores: np.ndarray, w: Windows) -> tuple[dict, np.ndarray]:
    """Metrics of beam scores (N, T+1, B) on windows: future offsets, offset 0, per category."""
    metrics = beam_metrics(scores, w.beam, w.power)
    now = beam_metrics(scores, w.beam, w.power, steps=[0])
    metrics.update({"now_top1": now["top1"], "now_top3": now["top3"], "windows": len(w)})
    steps = target_steps(scores.shape[1])
    s, b, p, c = scores[:, steps], w.beam[:, steps], w.power[:, steps], w.category[:, steps]
    # how well defined the label is: the best beam's margin over the second best
    top2 = np.sort(p, axis=-1)[..., -2:]
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = 10 * np.log10(top2[..., 1] / top2[..., 0])
    decisive = margin >= DECISIVE_DB
    metrics["tie_share"] = float((margin < TIE_DB).mean())
    metrics["decisive_share"] = float(decisive.mean())
    if decisive.any():
        metrics["decisive_top1"] = float(topk_hits(s[decisive], b[decisive], 1).mean())
    for key, cat in CATEGORY_KEYS.items():
        rows = c == cat
        metrics[f"{key}_targets"] = int(rows.sum())
        if rows.any():
            metrics[f"{key}_top1"] = float(topk_hits(s[rows], b[rows], 1).mean())
            metrics[f"{key}_top3"] = float(topk_hits(s[rows], b[rows], 3).mean())
            loss = power_loss_db(s[rows], p[rows])
            metrics[f"{key}_loss_db"] = float(loss.mean()) if len(loss) else float("nan")
    return metrics, per_step_topk(scores, w.beam)


def evaluate(model, w: Windows, fixed_codeword: int = 0) -> tuple[dict, np.ndarray]:
    """Metrics over the future offsets 1..T (and per category), PA metrics at offset 0, Top-K per offset."""
    probs = predict(model, w)
    metrics, per_step = score_metrics(probs["beam"], w)
    if "pa" in probs:
        metrics.update(pa_metrics(probs["pa"][:, :1], w.pa_gain_db[:, :1], fixed_codeword))
    return metrics, per_step


def aggregate(results: list[RunResult]) -> list[dict]:
    """One row per (model, task): the mean of every numeric metric over seeds, ``<metric>_std`` their
    standard deviation, ``seeds`` their number and ``per_step`` the mean per-offset Top-K."""
    groups: dict[tuple, list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.model, r.task), []).append(r)
    rows = []
    for (model, task), rs in groups.items():
        row = {"model": model, "task": task, "seeds": len(rs),
               "per_step": np.mean([r.per_step for r in rs], axis=0)}
        for k in rs[0].metrics:
            vals = [r.metrics.get(k) for r in rs]
            if all(isinstance(v, (int, float, np.floating, np.integer)) for v in vals):
                row[k] = float(np.mean(vals))
                row[f"{k}_std"] = float(np.std(vals))
        rows.append(row)
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.5g}" if isinstance(v, float) else v) for k, v in r.items()})


def write_report(out: str | Path, results: list[RunResult]) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "summary.csv", [{"model": r.model, "task": r.task, "seed": r.seed, **r.metrics}
                                     for r in results])
    _write_csv(out / "per_step.csv", [{"model": r.model, "task": r.task, "seed": r.seed, "offset": s,
                                       "top1": row[0], "top3": row[1], "top5": row[2]}
                                      for r in results for s, row in enumerate(r.per_step)])
    _write_csv(out / "dba.csv", [{"model": r.model, "task": r.task, "seed": r.seed, "k": k, "delta": d,
                                  "dba": r.metrics[f"dba_k{k}_d{d}"]}
                                 for r in results for d in (1, 2) for k in (1, 2, 3)])
    _write_csv(out / "history.csv", [{"model": r.model, "task": r.task, "seed": r.seed, **h}
               for r in results for h in r.history])
    groups = aggregate(results)
    _write_csv(out / "summary_mean.csv", [{k: v for k, v in g.items() if k != "per_step"} for g in groups])
    tasks = list(dict.fromkeys(g["task"] for g in groups))

    def per_task(name: str, draw) -> None:
        """One panel per task; ``draw(ax, the task's groups)``."""
        fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False)
        for ax, task in zip(axes[0], tasks):
            draw(ax, [g for g in groups if g["task"] == task])
            ax.set_title(task)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)

    def topk(ax, gs):
        x = np.arange(len(gs))
        for j, k in enumerate((1, 3, 5)):
            ax.bar(x + (j - 1) * 0.27, [100 * g[f"top{k}"] for g in gs], 0.27,
                   yerr=[100 * g.get(f"top{k}_std", 0.0) for g in gs], label=f"Top-{k}")
        ax.set_xticks(x, [g["model"] for g in gs], rotation=30, ha="right")
        ax.set(ylabel="accuracy over future steps (%), mean over seeds", ylim=(0, 100))
        ax.legend()

    def dba(ax, gs):
        for g in gs:
            for d, style in ((1, "-"), (2, "--")):
                ax.plot([1, 2, 3], [g[f"dba_k{k}_d{d}"] for k in (1, 2, 3)], style, marker="o",
                        label=f"{g['model']} Δ={d}")
        ax.set(xlabel="K", ylabel="DBA score")
        ax.legend(fontsize=6, ncol=2)

    def per_step(ax, gs):
        for g in gs:
            ax.plot(np.arange(len(g["per_step"])), 100 * g["per_step"][:, 0], marker="o", label=g["model"])
        ax.set(xlabel="offset (frames after the last observed one)", ylabel="Top-1 (%)")
        ax.legend(fontsize=7)

    per_task("topk.png", topk)
    per_task("dba.png", dba)
    per_task("per_step.png", per_step)

    with_hist = [r for r in results if r.history]
    if with_hist:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for r in with_hist:
            trained = [h for h in r.history if "train_beam" in h]      # epoch 0 (the prior alone) has none
            axes[0].plot([h["epoch"] for h in trained], [h["train_beam"] for h in trained],
                         label=f"{r.model} {r.task} seed {r.seed}")
            axes[1].plot([h["epoch"] for h in r.history], [100 * h["val_top1"] for h in r.history],
                         label=f"{r.model} {r.task} seed {r.seed}")
        axes[0].set_ylabel("train beam cross-entropy")
        axes[1].set_ylabel("validation Top-1 (%)")
        for ax in axes:
            ax.set_xlabel("epoch")
            ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(out / "training.png", dpi=110)
        plt.close(fig)
    return out


def few_shot_figure(out: str | Path, groups: list[dict], ratios: dict[str, float]) -> Path:
    """``few_shot.csv`` and ``few_shot.png``: Top-1 and Top-3 of every model (and anchor) against the
    share of training passes of each task (``ratios``: task -> data_ratio), mean ± std over seeds
    (paper 002, Fig. 6).  ``groups`` are :func:`aggregate`'s rows."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = Path(out)
    rows = [{"model": g["model"], "data_ratio": ratios[g["task"]], "seeds": g["seeds"],
             **{f"{k}{s}": g.get(f"{k}{s}", float("nan")) for k in ("top1", "top3") for s in ("", "_std")},
             **{k: g[k] for k in ("trainable_params", "train_seconds", "train_windows") if k in g}}
            for g in groups if g["task"] in ratios]
    _write_csv(out / "few_shot.csv", rows)
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, k in zip(axes, ("top1", "top3")):
        for m in models:
            pts = sorted((r["data_ratio"], r[k], r[f"{k}_std"]) for r in rows if r["model"] == m)
            x, y, e = (np.array(v) for v in zip(*pts))
            style = ":" if m.startswith("anchor") else "-"
            ax.errorbar(100 * x, 100 * y, yerr=100 * e, fmt=style, marker="o", capsize=3, label=m)
        name = "Top-1" if k == "top1" else "Top-3"
        ax.set(xlabel="training passes used (%)", ylabel=f"{name} accuracy (%)",
               ylim=(0, 100), xticks=sorted({100 * r["data_ratio"] for r in rows}))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "few_shot.png", dpi=110)
    plt.close(fig)
    return out / "few_shot.png"
