#!/usr/bin/env python3
"""Twin generation throughput at 1 and 2 local workers (``make bench-twin-scaling``).

Builds the first ``--passes`` passes of config/twin.yaml in this process (1 worker) and on
a local Ray runtime with 2 workers, checks that both outputs have the same bytes, and
writes frames/s and the ratio to OUT/scaling.csv.  The machine should be otherwise idle.
    python scripts/bench_twin_scaling.py --passes 16 --out reports/twin_scaling
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import shutil
from pathlib import Path

from beam_predictor.config import config_path, load_config
from beam_predictor.twin.config import TwinConfig
from beam_predictor.twin.generate import generate


def differing(a: Path, b: Path) -> list[str]:
    """Files that are not byte-identical in the two folders (or exist in only one)."""
    fa = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    fb = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    return sorted((fa ^ fb) | {r for r in fa & fb if (a / r).read_bytes() != (b / r).read_bytes()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(config_path("twin.yaml")))
    ap.add_argument("--passes", type=int, default=16)
    ap.add_argument("--work", default="build/twin_scaling")
    ap.add_argument("--out", default="reports/twin_scaling")
    args = ap.parse_args()
    cfg = dataclasses.replace(load_config(TwinConfig, args.config), passes=args.passes)
    work, out = Path(args.work), Path(args.out)
    shutil.rmtree(work, ignore_errors=True)
    rows = []
    for workers in (1, 2):
        s = generate(work / f"w{workers}", cfg, progress=True, workers=workers)
        rows.append({"workers": workers, "backend": s["backend"], "frames": s["frames"],
                     "seconds": round(s["seconds"], 1), "frames_per_s": round(s["frames"] / s["seconds"], 2)})
        print(rows[-1])
    diff = differing(work / "w1", work / "w2")
    identical = not diff
    ratio = rows[1]["frames_per_s"] / rows[0]["frames_per_s"]
    out.mkdir(parents=True, exist_ok=True)
    with (out / "scaling.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) + ["speedup", "same_bytes"])
        w.writeheader()
        for r in rows:
            w.writerow({**r, "speedup": round(r["frames_per_s"] / rows[0]["frames_per_s"], 2),
                        "same_bytes": identical})
    print(f"{args.passes} passes, {rows[0]['frames']} frames: 1 worker {rows[0]['frames_per_s']} frames/s, "
          f"2 Ray workers {rows[1]['frames_per_s']} frames/s (x{ratio:.2f}); same bytes: {identical}")
    if diff:
        print(f"{len(diff)} files differ, kept in {work}: {diff[:10]}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
