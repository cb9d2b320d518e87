"""Train and evaluate a suite of predictors (config/bench/*.yaml) and print one table.

Every run is config/model.yaml plus the model's and the task's overrides, trained on the
same cached features and passes and evaluated on the test passes.  Writes
``<report>/summary.csv`` and the plots (beam_predictor.model.report), ``latency.csv``
(batch-1 forward, history features cached) and ``degradation.csv`` when the suite asks.

    python scripts/bench_model.py --suite config/bench/models.yaml --data data/twin_benchmark
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from beam_predictor.config import config_path, load_config
from beam_predictor.model import checkpoint
from beam_predictor.model.config import MODALITIES, ModelConfig, with_overrides
from beam_predictor.model.data import load_frame_table
from beam_predictor.model.pipeline import drop_modalities, train_and_evaluate
from beam_predictor.model.report import RunResult, evaluate, write_report
from beam_predictor.model.train import to_tensors


def batch1_latency_ms(model, windows, runs: int = 200, warmup: int = 20) -> tuple[float, float]:
    """p50/p99 of one window's forward pass (fusion + backbone + heads) in eval mode."""
    model.eval()
    t = to_tensors(windows, slice(0, 1))
    times = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            start = time.perf_counter()
            model(t["feats"], t["missing"], t["pad"], t["box"])
            if i >= warmup:
                times.append(1e3 * (time.perf_counter() - start))
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", required=True, help="suite YAML (config/bench/*.yaml)")
    ap.add_argument("--data", default="data/twin_benchmark")
    ap.add_argument("--encoders", default="models/encoders")
    ap.add_argument("--config", default=str(config_path("model.yaml")))
    ap.add_argument("--report", required=True)
    ap.add_argument("--cache", default="build/cache")
    ap.add_argument("--checkpoints", default="checkpoints/bench", help="every run's checkpoint goes here")
    args = ap.parse_args()
    suite = yaml.safe_load(Path(args.suite).read_text())
    base = load_config(ModelConfig, args.config)
    table = load_frame_table(args.data, args.encoders, MODALITIES, cache_dir=args.cache)
    torch.set_num_threads(torch.get_num_threads())
    results, latency, degradation = [], [], []
    wall = time.perf_counter()
    for task, task_over in suite["tasks"].items():
        for name, model_over in suite["models"].items():
            cfg = with_overrides(with_overrides(base, model_over or {}, f"{args.suite}:{name}"),
                                 task_over or {}, f"{args.suite}:{task}")
            run = train_and_evaluate(cfg, table, task=task, name=name)
            results.append(run.result)
            checkpoint.save(Path(args.checkpoints) / f"{name}-{task}.pt", run.model,
                            checkpoint.CheckpointMeta(pa_codebook=table.pa_codebook,
                                                      encoder_versions=table.encoder_versions,
                                                      metrics=run.result.metrics,
                                                      fixed_codeword=run.fixed_codeword))
            first_task = task == next(iter(suite["tasks"]))
            if suite.get("latency") and first_task:
                p50, p99 = batch1_latency_ms(run.model, run.windows["test"])
                latency.append({"model": name, "p50_ms": p50, "p99_ms": p99,
                                "trainable_params": run.result.metrics["trainable_params"],
                                "total_params": run.result.metrics["total_params"]})
            if suite.get("degradation") == name and first_task:
                mods = cfg.fusion.modalities
                for drop in [()] + [(m,) for m in mods]:
                    silenced = drop_modalities(run.windows["test"], mods, drop)
                    m, _ = evaluate(run.model, silenced, run.fixed_codeword)
                    degradation.append({"missing": drop[0] if drop else "none", "top1": m["top1"],
                                        "top3": m["top3"], "top5": m["top5"],
                                        "power_loss_mean_db": m["power_loss_mean_db"]})
    out = write_report(args.report, results)
    for fname, rows in (("latency.csv", latency), ("degradation.csv", degradation)):
        if rows:
            with (out / fname).open("w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
    _print(results, latency, degradation, time.perf_counter() - wall, out)


def _print(results: list[RunResult], latency, degradation, wall: float, out: Path) -> None:
    print("\n| model | task | Top-1 | Top-3 | Top-5 | DBA K=1 Δ=2 | DBA K=3 Δ=2 | "
          "power loss mean / p95 (dB) | "
          "PA Top-1 | PA loss vs oracle (dB) | trainable params | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        m = r.metrics
        pa = (f"{100 * m['pa_top1']:.1f} % | {m['pa_loss_pred_db']:.1f} (fixed {m['pa_loss_fixed_db']:.1f})"
              if "pa_top1" in m else "– | –")
        print(f"| {r.model} | {r.task} | {100 * m['top1']:.1f} % | {100 * m['top3']:.1f} % | "
              f"{100 * m['top5']:.1f} % | "
              f"{m['dba_k1_d2']:.3f} | {m['dba_k3_d2']:.3f} | {m['power_loss_mean_db']:.2f} / "
              f"{m['power_loss_p95_db']:.1f} | {pa} | {m['trainable_params']:,} | {m['train_seconds']:.0f} |")
    if latency:
        print("\n| model | batch-1 p50 (ms) | p99 (ms) | trainable / total params |")
        print("|---|---|---|---|")
        for row in latency:
            print(f"| {row['model']} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
                  f"{row['trainable_params']:,} / {row['total_params']:,} |")
    if degradation:
        print("\n| missing at inference | Top-1 | Top-3 | Top-5 | power loss (dB) |")
        print("|---|---|---|---|---|")
        for row in degradation:
            print(f"| {row['missing']} | {100 * row['top1']:.1f} % | {100 * row['top3']:.1f} % | "
                  f"{100 * row['top5']:.1f} % | {row['power_loss_mean_db']:.2f} |")
    print(f"\n{len(results)} runs in {wall / 60:.1f} min; report: {out}")


if __name__ == "__main__":
    main()
