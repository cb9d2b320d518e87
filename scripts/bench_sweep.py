"""Paper 004's experiments on the twin: sparse sweep -> fine beam, every model and anchor, two scenes.

For each scene, fine codebook and SNR of the suite (config/bench/sweep.yaml), every model is
trained on the scene's training passes (config/sweep.yaml plus the suite's overrides) and
evaluated on the test passes of its own scene (Tables III / IV) and of the other scene, zero-shot
(Table V); the rate log2(1 + |h^H f|^2 / N) of each choice is Table VI.  The anchors
(hierarchical search, the strongest sparse beam, a single-path fit) are scored on the same test
frames with the same sweep noise.  Table VII: per-sample latency (batch 1, one thread, median)
and FLOPs of every network.  ``snr_curve``: the anchors and the suite's ``curve_model`` against
SNR (where Top-1 crosses 90 %).  Writes ``results.csv`` (one row per (train scene, test scene,
fine, SNR, model)), ``tables.md``, ``latency.csv``, ``snr_curve.csv`` and the PNGs.  Rows
already in ``results.csv`` are kept (``--resume``), so an interrupted study goes on.

    python scripts/bench_sweep.py --suite config/bench/sweep.yaml --report reports/sweep
"""
from __future__ import annotations

import argparse
import csv
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import yaml

from beam_predictor.config import config_path, load_config
from beam_predictor.model.sweep import load_sweep_set
from beam_predictor.model.sweep_config import SWEEP_ANCHORS, SweepConfig
from beam_predictor.model.sweep_nets import build_sweep_net
from beam_predictor.model.sweep_train import anchor_results, evaluate_sweep, save_sweep, train_sweep
from beam_predictor.runtime.closed_loop import pyplot

FIELDS = ["train_scene", "test_scene", "fine", "snr_db", "model", "seed", "top1", "top3", "power_loss_db",
          "rate", "tie_share", "decisive_top1", "beams_measured", "frames", "masked", "train_s", "best_epoch"]


def cell_config(base: SweepConfig, suite: dict, fine: int, snr: float, model: str, seed: int) -> SweepConfig:
    grid = tuple(sorted(set(base.task.snr_grid_db) | set(map(float, suite.get("snr_grid_db", [])))))
    train = replace(base.train, seed=seed, **suite.get("train", {}))
    return replace(base, task=replace(base.task, fine_beams=fine, snr_db=float(snr), snr_grid_db=grid),
                   net=replace(base.net, kind=model), train=train)


def row_key(r: dict) -> tuple:
    return (r["train_scene"], r["test_scene"], int(r["fine"]), float(r["snr_db"]), r["model"], int(r["seed"]))


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as fh:
        return list(csv.DictReader(fh))


def write_rows(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def latency_flops(cfg: SweepConfig, models: list[str], fine: int, runs: int = 300) -> list[dict]:
    from torch.utils.flop_counter import FlopCounterMode
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = []
    x = torch.rand(1, 2, cfg.task.coarse_beams)
    for kind in models:
        model = build_sweep_net(replace(cfg.net, kind=kind), cfg.task.coarse_beams, fine).eval()
        with torch.inference_mode():
            with FlopCounterMode(display=False) as counter:
                model(x)
            times = []
            for i in range(runs + 30):
                start = time.perf_counter()
                model(x)
                if i >= 30:
                    times.append(1e3 * (time.perf_counter() - start))
        out.append({"model": kind, "fine": fine, "params": sum(p.numel() for p in model.parameters()),
                    "mflops": counter.get_total_flops() / 1e6, "latency_p50_ms": float(np.median(times)),
                    "latency_p99_ms": float(np.percentile(times, 99))})
    torch.set_num_threads(threads)
    return out


def fmt(v, pct=True) -> str:
    v = float(v)
    return "-" if not np.isfinite(v) else (f"{100 * v:.1f}" if pct else f"{v:.2f}")


def tables(rows: list[dict], models: list[str], scenes: list[str]) -> str:
    cols = list(SWEEP_ANCHORS) + models
    mean = {}
    for r in rows:
        mean.setdefault(row_key(r)[:5], []).append(r)

    def get(tr, te, fine, snr, m, field):
        rs = mean.get((tr, te, fine, snr, m), [])
        return float(np.mean([float(r[field]) for r in rs])) if rs else float("nan")
    fines = sorted({int(r["fine"]) for r in rows})
    snrs = sorted({float(r["snr_db"]) for r in rows})
    text = []
    for fine in fines:
        text.append(f"\n### Top-1 (%), 16 -> {fine} beams, in distribution (Tables III / IV)\n")
        text.append("| SNR | scene | " + " | ".join(cols) + " |")
        text.append("|---" * (len(cols) + 2) + "|")
        for snr in snrs:
            for sc in scenes:
                text.append(f"| {snr:g} dB | {sc} | "
                            + " | ".join(fmt(get(sc, sc, fine, snr, m, "top1")) for m in cols) + " |")
    for fine in fines:
        text.append(f"\n### Zero-shot Top-1 (%), 16 -> {fine} beams, trained in one scene, tested in the "
                    "other "
                    "(Table V)\n")
        text.append("| train -> test | SNR | " + " | ".join(models) + " |")
        text.append("|---" * (len(models) + 2) + "|")
        for tr in scenes:
            for te in scenes:
                if tr == te:
                    continue
                for snr in snrs:
                    text.append(f"| {tr} -> {te} | {snr:g} dB | "
                                + " | ".join(fmt(get(tr, te, fine, snr, m, "top1")) for m in models) + " |")
    text.append("\n### Mean rate (bit/s/Hz) over the 16 -> 64 and 16 -> 256 tasks (Table VI)\n")
    text.append("| SNR | scene | " + " | ".join(cols) + " |")
    text.append("|---" * (len(cols) + 2) + "|")
    for snr in snrs:
        for sc in scenes:
            vals = [np.nanmean([get(sc, sc, f, snr, m, "rate") for f in fines]) for m in cols]
            text.append(f"| {snr:g} dB | {sc} | " + " | ".join(fmt(v, pct=False) for v in vals) + " |")
    return "\n".join(text) + "\n"


def plot_top1(rows: list[dict], models: list[str], scenes: list[str], out: Path) -> None:
    plt = pyplot()
    cols = list(SWEEP_ANCHORS) + models
    fines = sorted({int(r["fine"]) for r in rows})
    snrs = sorted({float(r["snr_db"]) for r in rows})
    fig, axes = plt.subplots(len(fines), len(scenes), figsize=(6 * len(scenes), 3.6 * len(fines)),
                             squeeze=False)
    for i, fine in enumerate(fines):
        for j, sc in enumerate(scenes):
            ax = axes[i][j]
            for k, snr in enumerate(snrs):
                vals = [np.mean([float(r["top1"]) for r in rows if row_key(r)[:5] == (sc, sc, fine, snr, m)]
                                or [np.nan]) for m in cols]
                ax.bar(np.arange(len(cols)) + k * 0.8 / len(snrs), 100 * np.array(vals), 0.8 / len(snrs),
                       label=f"{snr:g} dB")
            ax.set_xticks(np.arange(len(cols)) + 0.4 - 0.4 / len(snrs))
            ax.set_xticklabels(cols, rotation=30, ha="right", fontsize=8)
            ax.set_ylabel("Top-1 (%)")
            ax.set_title(f"{sc}: 16 -> {fine}")
            ax.set_ylim(0, 100)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="config/bench/sweep.yaml")
    ap.add_argument("--config", default=str(config_path("sweep.yaml")))
    ap.add_argument("--report", default="reports/sweep")
    ap.add_argument("--checkpoints", default="build/sweep", help="where each trained model is kept")
    ap.add_argument("--fresh", action="store_true", help="start over instead of keeping results.csv's rows")
    ap.add_argument("--only", nargs="*", default=None, help="limit to these parts: tables latency curve")
    args = ap.parse_args()
    suite = yaml.safe_load(Path(args.suite).read_text())
    base = load_config(SweepConfig, args.config)
    report = Path(args.report)
    report.mkdir(parents=True, exist_ok=True)
    scenes = dict(suite["scenes"])
    models, fines, snrs = list(suite["models"]), list(suite["fine"]), [float(s) for s in suite["snr_db"]]
    seeds = list(suite.get("seeds", [0]))
    parts = set(args.only or ["tables", "latency", "curve"])
    torch.set_num_threads(int(suite.get("threads", 2)))
    # the scenes' channels: only the tables and the SNR curve read them (latency needs none)
    data = ({name: load_sweep_set(path) for name, path in scenes.items()} if parts & {"tables", "curve"}
            else {})
    results = report / "results.csv"
    rows = [] if args.fresh else read_rows(results)
    done = {row_key(r) for r in rows}
    if "tables" in parts:
        for fine in fines:
            for snr in snrs:
                for tr in scenes:
                    for seed in seeds:
                        cfg0 = cell_config(base, suite, fine, snr, models[0], seed)
                        for name, res in anchor_results(cfg0, data[tr]).items():
                            key = (tr, tr, fine, snr, name, seed)
                            if key not in done:
                                rows.append({"train_scene": tr, "test_scene": tr, "fine": fine, "snr_db": snr,
                                             "model": name, "seed": seed, "train_s": 0, "best_epoch": 0,
                                             **{k: res[k] for k in FIELDS if k in res}})
                                done.add(key)
                        for m in models:
                            if all((tr, te, fine, snr, m, seed) in done for te in scenes):
                                continue
                            cfg = cell_config(base, suite, fine, snr, m, seed)
                            start = time.perf_counter()
                            run = train_sweep(cfg, data[tr])
                            took = time.perf_counter() - start
                            save_sweep(run, Path(args.checkpoints) / f"{tr}_{fine}_{snr:g}dB_{m}_s{seed}.pt")
                            for te in scenes:
                                res = evaluate_sweep(run, cfg, data[te])
                                rows.append({"train_scene": tr, "test_scene": te, "fine": fine, "snr_db": snr,
                                             "model": m, "seed": seed,
                                             "beams_measured": cfg.task.coarse_beams,
                                             "train_s": round(took, 1), "best_epoch": run.best_epoch,
                                             **{k: res[k] for k in FIELDS if k in res}})
                                done.add((tr, te, fine, snr, m, seed))
                            print(f"{tr} 16->{fine} {snr:g} dB {m}: "
                                  + ", ".join(f"{r['test_scene']} {100 * float(r['top1']):.1f}"
                                              for r in rows[-len(scenes):])
                                  + f" % Top-1 ({took:.0f} s)", flush=True)
                            write_rows(results, rows)
                write_rows(results, rows)
        text = tables(rows, models, list(scenes))
        (report / "tables.md").write_text(text)
        plot_top1(rows, models, list(scenes), report / "top1.png")
        print(text)
    if "latency" in parts:
        lat = latency_flops(base, models, max(fines))
        with (report / "latency.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(lat[0]))
            w.writeheader()
            w.writerows(lat)
        print(f"\n### Per-sample latency and FLOPs, 16 -> {max(fines)} (Table VII; batch 1, one thread)\n")
        print("| model | parameters | MFLOPs | p50 ms | p99 ms |\n|---|---|---|---|---|")
        for r in lat:
            print(f"| {r['model']} | {r['params']:,} | {r['mflops']:.2f} | {r['latency_p50_ms']:.3f} | "
                  f"{r['latency_p99_ms']:.3f} |")
    if "curve" in parts and suite.get("curve_snr_db"):
        curve_rows = snr_curve(base, suite, data, report)
        print("\n### Top-1 (%) against SNR, 16 -> 64 (anchors and " + suite["curve_model"] + ")\n")
        for r in curve_rows:
            print(f"{r['scene']} {r['snr_db']:>5g} dB {r['model']:>14}: {100 * r['top1']:.1f}")


def snr_curve(base: SweepConfig, suite: dict, data: dict, report: Path) -> list[dict]:
    grid = [float(s) for s in suite["curve_snr_db"]]
    model = suite["curve_model"]
    scene = suite.get("curve_scene", next(iter(data)))
    out = []
    for snr in grid:
        cfg = cell_config(base, {**suite, "snr_grid_db": grid}, 64, snr, model, 0)
        for name, res in anchor_results(cfg, data[scene]).items():
            out.append({"scene": scene, "snr_db": snr, "model": name, "top1": res["top1"]})
        run = train_sweep(cfg, data[scene])
        out.append({"scene": scene, "snr_db": snr, "model": model,
                    "top1": evaluate_sweep(run, cfg, data[scene])["top1"]})
    with (report / "snr_curve.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(out[0]))
        w.writeheader()
        w.writerows(out)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in dict.fromkeys(r["model"] for r in out):
        pts = [(r["snr_db"], 100 * r["top1"]) for r in out if r["model"] == name]
        ax.plot(*zip(*pts), "o-", label=name)
    ax.axhline(90, color="grey", ls=":", lw=1)
    ax.set_xlabel("SNR (dB, eqs. 14-15)")
    ax.set_ylabel("Top-1 (%)")
    ax.set_title(f"{scene}: 16 -> 64")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(report / "snr_curve.png", dpi=110)
    plt.close(fig)
    return out


if __name__ == "__main__":
    main()
