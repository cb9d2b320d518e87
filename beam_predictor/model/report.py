"""Evaluation of trained predictors and the ``reports/<run>/`` folder (CSV + PNG).

Files: ``summary.csv`` (one row per model and task), ``per_step.csv`` (Top-K at every
offset), ``dba.csv`` (DBA for K = 1..3 and Delta = 1, 2), ``history.csv`` (training
curves), and the plots ``topk.png``, ``dba.png``, ``per_step.png``, ``training.png``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beam_predictor.model.data import Windows
from beam_predictor.model.metrics import beam_metrics, pa_metrics, per_step_topk
from beam_predictor.model.predictor import BeamPredictor
from beam_predictor.model.train import predict


@dataclass
class RunResult:
    model: str
    task: str
    metrics: dict
    per_step: np.ndarray                       # (T+1, 3) Top-1/3/5 at every offset
    history: list[dict] = field(default_factory=list)


def evaluate(model: BeamPredictor, w: Windows, fixed_codeword: int = 0) -> tuple[dict, np.ndarray]:
    """Metrics over the future offsets 1..T, PA metrics at offset 0, Top-K per offset."""
    probs = predict(model, w)
    metrics = beam_metrics(probs["beam"], w.beam, w.power)
    now = beam_metrics(probs["beam"], w.beam, w.power, steps=[0])
    metrics.update({"now_top1": now["top1"], "now_top3": now["top3"], "windows": len(w)})
    if "pa" in probs:
        metrics.update(pa_metrics(probs["pa"][:, :1], w.pa_gain_db[:, :1], fixed_codeword))
    return metrics, per_step_topk(probs["beam"], w.beam)


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
    _write_csv(out / "summary.csv", [{"model": r.model, "task": r.task, **r.metrics} for r in results])
    _write_csv(out / "per_step.csv", [{"model": r.model, "task": r.task, "offset": s, "top1": row[0],
                                       "top3": row[1],
                                       "top5": row[2]} for r in results for s, row in enumerate(r.per_step)])
    _write_csv(out / "dba.csv", [{"model": r.model, "task": r.task, "k": k, "delta": d,
                                  "dba": r.metrics[f"dba_k{k}_d{d}"]}
                                 for r in results for d in (1, 2) for k in (1, 2, 3)])
    _write_csv(out / "history.csv", [{"model": r.model, "task": r.task, **h}
               for r in results for h in r.history])
    tasks = list(dict.fromkeys(r.task for r in results))

    def per_task(name: str, draw) -> None:
        """One panel per task; ``draw(ax, results of the task)``."""
        fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False)
        for ax, task in zip(axes[0], tasks):
            draw(ax, [r for r in results if r.task == task])
            ax.set_title(task)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)

    def topk(ax, rs):
        x = np.arange(len(rs))
        for j, k in enumerate((1, 3, 5)):
            ax.bar(x + (j - 1) * 0.27, [100 * r.metrics[f"top{k}"] for r in rs], 0.27, label=f"Top-{k}")
        ax.set_xticks(x, [r.model for r in rs], rotation=30, ha="right")
        ax.set(ylabel="accuracy over future steps (%)", ylim=(0, 100))
        ax.legend()

    def dba(ax, rs):
        for r in rs:
            for d, style in ((1, "-"), (2, "--")):
                ax.plot([1, 2, 3], [r.metrics[f"dba_k{k}_d{d}"] for k in (1, 2, 3)], style, marker="o",
                        label=f"{r.model} Δ={d}")
        ax.set(xlabel="K", ylabel="DBA score")
        ax.legend(fontsize=6, ncol=2)

    def per_step(ax, rs):
        for r in rs:
            ax.plot(np.arange(len(r.per_step)), 100 * r.per_step[:, 0], marker="o", label=r.model)
        ax.set(xlabel="offset (frames after the last observed one)", ylabel="Top-1 (%)")
        ax.legend(fontsize=7)

    per_task("topk.png", topk)
    per_task("dba.png", dba)
    per_task("per_step.png", per_step)

    with_hist = [r for r in results if r.history]
    if with_hist:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for r in with_hist:
            ep = [h["epoch"] for h in r.history]
            axes[0].plot(ep, [h["train_beam"] for h in r.history], label=f"{r.model} {r.task}")
            axes[1].plot(ep, [100 * h["val_top1"] for h in r.history], label=f"{r.model} {r.task}")
        axes[0].set_ylabel("train beam cross-entropy")
        axes[1].set_ylabel("validation Top-1 (%)")
        for ax in axes:
            ax.set_xlabel("epoch")
            ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(out / "training.png", dpi=110)
        plt.close(fig)
    return out
