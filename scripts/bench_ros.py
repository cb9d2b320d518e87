"""End-to-end latency, drops, CPU and memory of the live graph (separate processes, DDS on loopback).

Replays the sample bag through the whole graph for every configuration (inference runtime:
torch or ONNX Runtime; the encoders in one process or one process per modality), at each
replay rate, on the idle machine and with one core kept busy
by a background process the script starts and stops itself (a bounded spin loop), and prints
one table:

- commanded frames and drops (frames after each pass's warm-up without a command);
- online Top-1;
- e2e p50 / p99: wall time from a frame's power measurement reaching the beamformer to its
  command reaching it; stamp p99: the beamformer's clock (the replay's sim time) minus the
  command's header stamp, i.e. the frame's age when its command arrives;
- stale: frames the tracker, encoders and fusion node skipped because a newer one came
  while their model was busy (``drop_stale``);
- CPU per frame of each stage: CPU seconds of its process(es) during the replay over the
  replayed frames (model loading excluded);
- peak RSS: the sum over the graph's processes of their peak resident memory.

It writes bench_ros.csv, bench_ros.json and bench_ros.png to --out.

    python scripts/bench_ros.py --bag rosbags/twin_sample --rates 1 2 --configs onnxruntime/1

Configurations are "runtime / encoder processes": torch/4 (the graph before ONNX Runtime),
onnxruntime/4 and onnxruntime/1 (the shipped default).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import tempfile
from pathlib import Path

from beam_predictor.runtime.graph import build_graph, with_parameters
from beam_predictor.runtime.runner import GraphRunner, busy_core, ros_env

STAGES = {"tracker": ("yolo_tracker",), "encoders": ("encoder",), "fusion": ("llm_fusion",),
          "beamformer": ("beamformer",)}
STALE = re.compile(r"(\d+) stale dropped")


CONFIGS = {"torch/4": ("torch", "per_modality"), "onnxruntime/4": ("onnxruntime", "per_modality"),
           "onnxruntime/1": ("onnxruntime", "one")}     # runtime / encoder processes


def run_once(bag: str, rate: float, config: str, work: Path) -> dict:
    runtime, processes = CONFIGS[config]
    tag = f"{runtime}_{processes}_{rate:g}"
    report = work / f"report_{tag}"
    args = {"bag": bag, "rate": str(rate), "runtime": runtime, "encoder_processes": processes}
    specs = with_parameters(build_graph(args), {"beamformer": {"report": str(report)}})
    runner = GraphRunner(specs, work / f"logs_{tag}", env=ros_env())
    codes = runner.run(ready_timeout=240, duration=600)
    if codes.get("bag_player") != 0:
        raise SystemExit(f"player failed ({config}, rate {rate}):\n{runner.tail('bag_player')}")
    m = json.loads((report / "summary.json").read_text())
    frames = m["frames_measured"]
    cpu = {}
    for stage, prefixes in STAGES.items():
        secs = [u["replay_cpu_s"] for n, u in runner.usage.items() if n.startswith(prefixes)]
        cpu[f"cpu_{stage}_ms"] = 1e3 * sum(s for s in secs if s is not None) / max(1, frames)
    stale = sum(int(x) for n in runner.procs for x in STALE.findall(runner.tail(n, 5)))
    rss = sum(u["peak_rss_mb"] or 0.0 for u in runner.usage.values())
    return {**m, **cpu, "cpu_total_ms": sum(cpu.values()), "stale": stale, "peak_rss_mb": rss,
            "processes": len(runner.usage)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bag", default="rosbags/twin_sample")
    ap.add_argument("--rates", type=float, nargs="+", default=[1.0, 2.0])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS),
                    help="runtime / encoder processes")
    ap.add_argument("--loads", nargs="+", default=["idle", "one core busy"],
                    choices=["idle", "one core busy"])
    ap.add_argument("--out", default="reports/bench_ros")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"{os.cpu_count()} CPUs; {args.bag}; configs {args.configs}; rates {args.rates}; {args.loads}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for load in args.loads:
            for config in args.configs:
                for rate in args.rates:
                    load_proc = busy_core() if load != "idle" else None
                    try:
                        r = run_once(args.bag, rate, config, Path(tmp) / load.replace(" ", "_"))
                    finally:
                        if load_proc is not None:
                            load_proc.kill()
                            load_proc.wait()
                    rows.append({"config": config, "load": load, "rate": rate, **r})
                    print(f"{config:<14} {load:<14} {rate:g}x: {r['commands_scored']}/"
                          f"{r['frames_after_warmup']} commanded, e2e p99 "
                          f"{r.get('e2e_p99_ms', float('nan')):.0f} ms, CPU {r['cpu_total_ms']:.0f} ms/frame",
                          flush=True)
    (out / "bench_ros.json").write_text(json.dumps(rows, indent=2) + "\n")
    cols = ["config", "load", "rate", "frames_after_warmup", "commands_scored", "frames_dropped", "stale",
            "top1", "e2e_p50_ms", "e2e_p99_ms", "stamp_latency_p99_ms", "cpu_tracker_ms", "cpu_encoders_ms",
            "cpu_fusion_ms", "cpu_beamformer_ms", "cpu_total_ms", "peak_rss_mb", "processes"]
    with (out / "bench_ros.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    nan = float("nan")
    print("\n| runtime / encoder processes | load | rate | commanded | dropped | stale | Top-1 | "
          "e2e p50 (ms) | e2e p99 (ms) | stamp p99 (ms) | CPU/frame tracker | encoders | fusion | "
          "beamformer | total (ms) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['load']} | {r['rate']:g}x | {r['commands_scored']}/"
              f"{r['frames_after_warmup']} | {r['frames_dropped']} | {r['stale']} | "
              f"{100 * r.get('top1', 0):.1f} % | "
              f"{r.get('e2e_p50_ms', nan):.1f} | {r.get('e2e_p99_ms', nan):.1f} | "
              f"{r.get('stamp_latency_p99_ms', nan):.1f} | {r['cpu_tracker_ms']:.1f} | "
              f"{r['cpu_encoders_ms']:.1f} | {r['cpu_fusion_ms']:.1f} | {r['cpu_beamformer_ms']:.1f} | "
              f"{r['cpu_total_ms']:.1f} | {r['peak_rss_mb']:.0f} |")
    plot(rows, out / "bench_ros.png")
    print(f"\nreports: {out}")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    labels = [f"{r['config']} {'busy' if r['load'] != 'idle' else 'idle'} {r['rate']:g}x" for r in rows]
    x = range(len(rows))
    axes[0].bar(x, [r.get("e2e_p99_ms", 0) for r in rows], color="tab:red", label="p99")
    axes[0].bar(x, [r.get("e2e_p50_ms", 0) for r in rows], color="tab:blue", label="p50")
    axes[0].axhline(100, color="k", ls="--", lw=1, label="frame period")
    axes[0].set_ylabel("end-to-end latency (ms)")
    axes[0].legend()
    stages = ["tracker", "encoders", "fusion", "beamformer"]
    bottom = [0.0] * len(rows)
    for s in stages:
        v = [r[f"cpu_{s}_ms"] for r in rows]
        axes[1].bar(x, v, bottom=bottom, label=s)
        bottom = [b + y for b, y in zip(bottom, v)]
    axes[1].set_ylabel("CPU per frame (ms)")
    axes[1].legend()
    for ax in axes:
        ax.set_xticks(list(x), labels, fontsize=8, rotation=60, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
