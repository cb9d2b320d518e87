"""End-to-end latency and drops of the live graph (separate processes, DDS on loopback).

Replays the sample bag through the whole graph at 1x, then at higher rates, and prints
one table: commanded frames, drops (frames after warm-up without a command), online
Top-1/Top-3, end-to-end latency p50/p99 (wall time from a frame's power measurement
reaching the beamformer to its command reaching it) and the fusion step p50.

    python scripts/bench_ros.py --bag rosbags/twin_sample --rates 1 2 3 4
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

from beam_predictor.runtime.graph import build_graph
from beam_predictor.runtime.runner import GraphRunner, ros_env


def run_once(bag: str, rate: float, work: Path) -> dict:
    report = work / f"rate_{rate:g}"
    specs = [dataclasses.replace(s, parameters={**s.parameters, "report": str(report)})
             if s.name == "beamformer" else s for s in build_graph({"bag": bag, "rate": str(rate)})]
    runner = GraphRunner(specs, work / f"logs_{rate:g}", env=ros_env())
    codes = runner.run(ready_timeout=240, duration=600)
    if codes.get("bag_player") != 0:
        raise SystemExit(f"player failed at rate {rate}:\n{runner.tail('bag_player')}")
    return json.loads((report / "summary.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bag", default="rosbags/twin_sample")
    ap.add_argument("--rates", type=float, nargs="+", default=[1.0, 2.0, 3.0, 4.0])
    ap.add_argument("--out", default="reports/bench_ros", help="per-rate closed-loop reports")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.rates:
            m = run_once(args.bag, rate, Path(tmp))
            rows.append({"rate": rate, **m})
            print(f"rate {rate:g}x: {m.get('frames', 0)} commands, {m.get('frames_dropped')} dropped, "
                  f"e2e p50 {m.get('e2e_p50_ms', float('nan')):.1f} ms "
                  f"p99 {m.get('e2e_p99_ms', float('nan')):.1f} ms",
                  flush=True)
    (out / "bench_ros.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n| replay rate | frames after warm-up | commanded | dropped | online Top-1 | Top-3 | "
          "e2e p50 (ms) | e2e p99 (ms) | stamp latency p99 (ms) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        nan = float("nan")
        print(f"| {r['rate']:g}x | {r['frames_after_warmup']} | {r['commands_scored']} | "
              f"{r['frames_dropped']} | {100 * r.get('top1', 0):.1f} % | {100 * r.get('top3', 0):.1f} % | "
              f"{r.get('e2e_p50_ms', nan):.1f} | {r.get('e2e_p99_ms', nan):.1f} | "
              f"{r.get('stamp_latency_p99_ms', nan):.1f} |")
    clean = [r["rate"] for r in rows if r["frames_dropped"] == 0]
    print(f"\nhighest replay rate with no drops: {max(clean):g}x" if clean else "\nevery rate dropped frames")
    print(f"reports: {out}")


if __name__ == "__main__":
    main()
