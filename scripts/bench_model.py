"""Train and evaluate a suite of predictors (config/bench/*.yaml) and print one table.

Every run is config/model.yaml (or the model's own ``config:`` file) plus the suite's
``common`` overrides, the model's and the task's, trained on the same cached features,
tracker boxes, camera images and passes, once per seed of the suite, and evaluated on the
test passes.  The anchors (persistence, linear extrapolation, GPS geometry,
calibrated angle) are scored on each task's same test windows.  With
``without_kinematics: [task, ...]`` every model is also run without the kinematic input
and prior in those tasks, so the table shows what each gains from it.  Writes
``<report>/summary.csv`` (every run), ``summary_mean.csv`` (mean and std over seeds), the
plots (beam_predictor.model.report), ``latency.csv`` (batch-1 forward, history features
cached) and ``degradation.csv`` when the suite asks; with ``figure: data_ratio`` also
``few_shot.csv`` and ``few_shot.png`` (Top-1 and Top-3 against the share of training passes,
mean and standard deviation over seeds).  ``--sweep-snr`` synthesises the ``sweep`` modality
(paper 004's sparse sweep) at that SNR from the stored channels instead of the measured power.

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
from beam_predictor.model.report import aggregate, evaluate, few_shot_figure, write_report
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
    ap.add_argument("--sweep-snr", type=float,
                    help="the sweep modality synthesised from the stored channels at this SNR (dB) "
                         "instead of read from the measured power")
    args = ap.parse_args()
    suite = yaml.safe_load(Path(args.suite).read_text())
    seeds = args.seeds or suite.get("seeds", [0])
    common = suite.get("common") or {}
    bases = {None: load_config(ModelConfig, args.config)}
    for over in suite["models"].values():
        if (over or {}).get("config") and over["config"] not in bases:
            bases[over["config"]] = load_config(ModelConfig, over["config"])

    def run_config(model_over: dict, task_over: dict, seed: int | None, where: str) -> ModelConfig:
        model_over = dict(model_over or {})
        cfg = with_overrides(bases[model_over.pop("config", None)], common, f"{args.suite}:common")
        cfg = with_overrides(cfg, model_over, where)
        task_over = dict(task_over or {})
        if seed is not None:
            task_over["train"] = {**task_over.get("train", {}), "seed": seed}
        return with_overrides(cfg, task_over, where)

    images = any(run_config(o, {}, None, f"{args.suite}:{n}").needs_image for n, o in suite["models"].items())
    table = load_frame_table(args.data, args.encoders, MODALITIES, tracker_settings(args.params_file),
                             cache_dir=args.cache, images=images, sweep_snr_db=args.sweep_snr)
    results, latency, degradation = [], [], []
    wall = time.perf_counter()
    first_task = next(iter(suite["tasks"]))
    for task, task_over in suite["tasks"].items():
        if suite.get("anchors", True):
            # per seed: a data ratio below 1 draws other training passes, which the calibrated anchor fits
            for seed in seeds:
                anchor_cfg = run_config({}, task_over, seed, f"{args.suite}:{task}")
                for r in evaluate_anchors(table, anchor_cfg, task):
                    r.seed = seed
                    results.append(r)
        runs = [(name, over or {}) for name, over in suite["models"].items()]
        if task in suite.get("without_kinematics", []):
            runs += [(f"{name} (no kinematics)", {**(over or {}), **NO_KINEMATICS})
                     for name, over in suite["models"].items()]
        for name, model_over in runs:
            for seed in seeds:
                cfg = run_config(model_over, task_over, seed, f"{args.suite}:{name}:{task}")
                run = train_and_evaluate(cfg, table, task=task, name=name)
                results.append(run.result)
                checkpoint.save(Path(args.checkpoints) / f"{name}-{task}-seed{seed}.pt".replace(" ", "_"),
                                run.model,
                                checkpoint.CheckpointMeta(pa_codebook=table.pa_codebook,
                                                          encoder_versions=table.encoder_versions,
                                                          metrics=run.result.metrics,
                                                          fixed_codeword=run.fixed_codeword, site=table.site,
                                                          box_version=table.box_version,
                                                          image_prep=table.image_prep))
                if seed != seeds[0] or task != first_task:
                    continue
                if suite.get("latency"):
                    p50, p99 = batch1_latency_ms(run.model, run.windows["test"])
                    latency.append({"model": name, "p50_ms": p50, "p99_ms": p99,
                                    "trainable_params": run.result.metrics["trainable_params"],
                                    "total_params": run.result.metrics["total_params"]})
                if suite.get("degradation") == name:
                    for drop in [()] + [(m,) for m in inputs_of(cfg)]:
                        silenced = silence(run.windows["test"], cfg.feature_modalities, drop)
                        m, _ = evaluate(run.model, silenced, run.fixed_codeword)
                        degradation.append({"missing": drop[0] if drop else "none", "top1": m["top1"],
                                            "top3": m["top3"], "top5": m["top5"],
                                            "power_loss_mean_db": m["power_loss_mean_db"]})
    out = write_report(args.report, results)
    if suite.get("figure") == "data_ratio":
        ratios = {task: run_config({}, over, None, task).train.data_ratio
                  for task, over in suite["tasks"].items()}
        few_shot_figure(out, aggregate(results), ratios)
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
