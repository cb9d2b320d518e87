"""Train and evaluate a suite of predictors (config/bench/*.yaml) and print one table.

Every run is config/model.yaml plus the model's and the task's overrides, trained on the
same cached features, tracker boxes and passes, once per seed of the suite, and evaluated
on the test passes.  The anchors (persistence, linear extrapolation, GPS geometry,
calibrated angle) are scored on each task's same test windows.  With
``without_kinematics: [task, ...]`` every model is also run without the kinematic input
and prior in those tasks, so the table shows what each gains from it.  Writes
``<report>/summary.csv`` (every run), ``summary_mean.csv`` (mean and std over seeds), the
plots (beam_predictor.model.report), ``latency.csv`` (batch-1 forward, history features
cached) and ``degradation.csv`` when the suite asks.

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
from beam_predictor.model.pipeline import evaluate_anchors, inputs_of, silence, train_and_evaluate
from beam_predictor.model.report import aggregate, evaluate, write_report
from beam_predictor.model.train import to_tensors
from beam_predictor.runtime.config import tracker_settings

NO_KINEMATICS = {"inputs": {"kinematics": False, "prior": False}}


def batch1_latency_ms(model, windows, runs: int = 200, warmup: int = 20) -> tuple[float, float]:
    """p50/p99 of one window's forward pass (fusion + backbone + heads) in eval mode."""
    model.eval()
    t = to_tensors(windows, slice(0, 1))
    times = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            start = time.perf_counter()
            model(t)
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
    ap.add_argument("--params-file",
                    help="ROS 2 parameters file whose yolo_tracker settings make the box series")
    ap.add_argument("--seeds", type=int, nargs="+", help="override the suite's seeds")
    args = ap.parse_args()
    suite = yaml.safe_load(Path(args.suite).read_text())
    seeds = args.seeds or suite.get("seeds", [0])
    base = load_config(ModelConfig, args.config)
    table = load_frame_table(args.data, args.encoders, MODALITIES, tracker_settings(args.params_file),
                             cache_dir=args.cache)
    results, latency, degradation = [], [], []
    wall = time.perf_counter()
    first_task = next(iter(suite["tasks"]))
    for task, task_over in suite["tasks"].items():
        if suite.get("anchors", True):
            task_cfg = with_overrides(base, task_over or {}, f"{args.suite}:{task}")
            results += evaluate_anchors(table, task_cfg, task)
        runs = [(name, over or {}) for name, over in suite["models"].items()]
        if task in suite.get("without_kinematics", []):
            runs += [(f"{name} (no kinematics)", {**(over or {}), **NO_KINEMATICS})
                     for name, over in suite["models"].items()]
        for name, model_over in runs:
            for seed in seeds:
                cfg = with_overrides(with_overrides(base, model_over, f"{args.suite}:{name}"),
                                     {**(task_over or {}), "train": {**(task_over or {}).get("train", {}),
                                                                     "seed": seed}}, f"{args.suite}:{task}")
                run = train_and_evaluate(cfg, table, task=task, name=name)
                results.append(run.result)
                checkpoint.save(Path(args.checkpoints) / f"{name}-{task}-seed{seed}.pt".replace(" ", "_"),
                                run.model,
                                checkpoint.CheckpointMeta(pa_codebook=table.pa_codebook,
                                                          encoder_versions=table.encoder_versions,
                                                          metrics=run.result.metrics,
                                                          fixed_codeword=run.fixed_codeword, site=table.site,
                                                          box_version=table.box_version))
                if seed != seeds[0] or task != first_task:
                    continue
                if suite.get("latency"):
                    p50, p99 = batch1_latency_ms(run.model, run.windows["test"])
                    latency.append({"model": name, "p50_ms": p50, "p99_ms": p99,
                                    "trainable_params": run.result.metrics["trainable_params"],
                                    "total_params": run.result.metrics["total_params"]})
                if suite.get("degradation") == name:
                    for drop in [()] + [(m,) for m in inputs_of(cfg)]:
                        silenced = silence(run.windows["test"], cfg.fusion.modalities, drop)
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
    _print(aggregate(results), latency, degradation, time.perf_counter() - wall, out)


def _pct(g: dict, key: str) -> str:
    """'mean ± std %' over seeds (just the mean for a single run)."""
    if key not in g:
        return "–"
    spread = f" ± {100 * g[key + '_std']:.1f}" if g["seeds"] > 1 else ""
    return f"{100 * g[key]:.1f}{spread} %"


def _print(groups: list[dict], latency, degradation, wall: float, out: Path) -> None:
    print("\n| model | task | seeds | Top-1 | Top-3 | Top-5 | DBA K=3 Δ=1 | power loss mean (dB) | "
          "Top-1 LoS in FOV | LoS outside FOV | NLoS | Top-1 where the best beam leads by ≥ 1 dB | "
          "PA Top-1 | PA loss vs oracle (dB) | trainable params | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for g in groups:
        pa = (f"{100 * g['pa_top1']:.1f} % | {g['pa_loss_pred_db']:.1f} (fixed {g['pa_loss_fixed_db']:.1f})"
              if "pa_top1" in g else "– | –")
        params = f"{int(g['trainable_params']):,}" if "trainable_params" in g else "–"
        train_s = f"{g['train_seconds']:.0f}" if "train_seconds" in g else "–"
        loss = g["power_loss_mean_db"]
        spread = f" ± {g['power_loss_mean_db_std']:.2f}" if g["seeds"] > 1 else ""
        print(f"| {g['model']} | {g['task']} | {g['seeds']} | {_pct(g, 'top1')} | {_pct(g, 'top3')} | "
              f"{_pct(g, 'top5')} | {g['dba_k3_d1']:.3f} | {loss:.2f}{spread} | {_pct(g, 'los_in_top1')} | "
              f"{_pct(g, 'los_out_top1')} | {_pct(g, 'nlos_top1')} | {_pct(g, 'decisive_top1')} | {pa} | "
              f"{params} | {train_s} |")
    g = groups[0]
    counts = {k: int(g.get(f"{k}_targets", 0)) for k in ("los_in", "los_out", "nlos")}
    print(f"\ntarget frames (future offsets) per category in the first task: {counts}; best beam within "
          f"0.5 dB of the second: {100 * g['tie_share']:.1f} %; ahead by >= 1 dB: "
          f"{100 * g['decisive_share']:.1f} %")
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
    print(f"\n{len(groups)} rows in {wall / 60:.1f} min; report: {out}")


if __name__ == "__main__":
    main()
