"""Soak run (``make soak``): the graph replays the sample bag in a loop for --minutes, and each minute
the resident memory of every node, the commands scored, their end-to-end latency and the frames
left without a command are sampled.  Prints the table and the slope of the graph's RSS (a linear
fit after the --settle first minutes, in % of its mean per 10 minutes: the leak check, goal
< 1 %), and writes soak.csv, soak.json and soak.png to --out.

Not in CI (30 minutes by default).  The replay is real time (not lock-step): drops are the
newest-frame policy at work, as in ``make bench-ros``.  RSS is VmRSS from /proc; latency comes
from the beamformer's closed-loop report (frames.csv: every scored command with its wall time),
drops from its progress lines (cumulative ``frames_dropped``).

    python scripts/soak.py --bag rosbags/twin_sample --minutes 30
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import signal
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beam_predictor.runtime.closed_loop import pyplot
from beam_predictor.runtime.graph import build_graph, with_parameters
from beam_predictor.runtime.runner import GraphRunner, memory_mb, ros_env

PROGRESS = re.compile(r"\[INFO\] \[([\d.]+)\] \[beamformer\]: frames=(\d+) .*frames_dropped=(\d+)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bag", default="rosbags/twin_sample")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--settle", type=float, default=3.0, help="minutes left out of the RSS fit (warm-up)")
    ap.add_argument("--rate", type=float, default=1.0)
    ap.add_argument("--out", default="reports/soak")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report"
        specs = with_parameters(build_graph({"bag": args.bag, "rate": str(args.rate)}),
                                {"beamformer": {"report": str(report)}, "bag_player": {"loop": True}})
        runner = GraphRunner(specs, Path(tmp) / "logs", env=ros_env())
        samples: list[dict] = []

        def sampler() -> None:
            while "bag_player" not in runner.procs:          # the graph is loading its models
                time.sleep(0.5)
            start = time.time()
            with tqdm(total=int(args.minutes), unit="min", desc="soak") as bar:
                for minute in range(1, int(args.minutes) + 1):
                    time.sleep(max(0.0, start + 60 * minute - time.time()))
                    rss = {n: memory_mb(p.pid) for n, p in runner.procs.items() if n != "bag_player"}
                    samples.append({"minute": minute, "wall_s": time.time(), "rss_mb": rss,
                                    "rss_total_mb": sum(v or 0.0 for v in rss.values()),
                                    "alive": all(p.poll() is None for p in runner.procs.values())})
                    bar.update(1)
            runner.procs["bag_player"].send_signal(signal.SIGINT)   # the replay ends; the graph stops

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        codes = runner.run(ready_timeout=240, duration=args.minutes * 60 + 120)
        thread.join(timeout=5)
        with (report / "frames.csv").open() as fh:
            scored = [(float(r["wall_s"]), float(r["e2e_ms"])) for r in csv.DictReader(fh)]
        progress = [(float(t), int(f), int(d)) for t, f, d in PROGRESS.findall(runner.log_text("beamformer"))]
        respawns = list(runner.respawns)
    rows, prev_wall, prev_dropped = [], samples[0]["wall_s"] - 60 if samples else 0.0, 0
    for s in samples:
        e2e = [ms for t, ms in scored if prev_wall <= t < s["wall_s"]]
        dropped = max((d for t, _, d in progress if t < s["wall_s"]), default=0)
        rows.append({"minute": s["minute"], "rss_total_mb": round(s["rss_total_mb"], 1),
                     **{f"rss_{n}_mb": round(v or 0.0, 1) for n, v in s["rss_mb"].items()},
                     "commands": len(e2e), "dropped": dropped - prev_dropped,
                     "e2e_p50_ms": round(float(np.percentile(e2e, 50)), 1) if e2e else None,
                     "e2e_p99_ms": round(float(np.percentile(e2e, 99)), 1) if e2e else None,
                     "all_alive": s["alive"]})
        prev_wall, prev_dropped = s["wall_s"], dropped
    fit = [r for r in rows if r["minute"] > args.settle]
    slope = float("nan")
    if len(fit) >= 2:
        minutes = np.array([r["minute"] for r in fit], float)
        rss = np.array([r["rss_total_mb"] for r in fit])
        slope = float(np.polyfit(minutes, rss, 1)[0] * 10 / rss.mean() * 100)
    result = {"date": datetime.now().isoformat(timespec="seconds"), "minutes": args.minutes,
              "rate": args.rate, "bag": args.bag, "rss_slope_pct_per_10min": slope, "exit_codes": codes,
              "respawns": [r[0] for r in respawns], "rows": rows}
    (out / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    if rows:
        with (out / "soak.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        plot(rows, out / "soak.png")
    print("\n| minute | graph RSS (MB) | commands | dropped | e2e p50 (ms) | e2e p99 (ms) | all alive |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['minute']} | {r['rss_total_mb']:.0f} | {r['commands']} | {r['dropped']} | "
              f"{r['e2e_p50_ms']} | {r['e2e_p99_ms']} | {r['all_alive']} |")
    print(f"\nRSS slope after minute {args.settle:g}: {slope:+.3f} % per 10 min (goal: under 1 %); "
          f"exit codes {codes}; respawns {result['respawns'] or 'none'}\nreports: {out}")


def plot(rows: list[dict], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    minutes = [r["minute"] for r in rows]
    axes[0].plot(minutes, [r["rss_total_mb"] for r in rows], "o-")
    axes[0].set_xlabel("minute")
    axes[0].set_ylabel("resident memory of the graph (MB)")
    axes[1].plot(minutes, [r["e2e_p99_ms"] for r in rows], "o-", label="p99")
    axes[1].plot(minutes, [r["e2e_p50_ms"] for r in rows], "o-", label="p50")
    axes[1].set_xlabel("minute")
    axes[1].set_ylabel("end-to-end latency (ms)")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
