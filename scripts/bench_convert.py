#!/usr/bin/env python3
"""Converter throughput at full DeepSense sizes (``make bench-convert``).

Builds (once, under build/bench/) a 500-frame fixture scenario with 960x540 JPEGs,
4x256x128 radar cubes and 16,384-point ASCII PLY scans, then times, each over the
whole scenario: the scenario reader alone, conversion to mcap and to sqlite3, and the
bag reader.  Prints a table of frames/s and MB/s.  Figures are wall time on this
machine and vary from run to run.
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from beam_predictor.bag.convert import ConvertConfig, convert
from beam_predictor.bag.reader import BagFrameReader
from beam_predictor.config import config_path, load_config
from beam_predictor.deepsense.fixture import FixtureConfig, write_fixture
from beam_predictor.deepsense.reader import ScenarioReader

REPO = Path(__file__).resolve().parents[1]


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--work", default=str(REPO / "build" / "bench"))
    args = ap.parse_args()

    base = load_config(FixtureConfig, config_path("fixture.yaml"))   # full DeepSense sizes
    cfg = FixtureConfig(**{**base.__dict__, "passes": max(1, args.frames // 50), "frames_per_pass": 50})
    frames = cfg.passes * cfg.frames_per_pass
    work = Path(args.work)
    scenario = work / f"scenario_{frames}"
    if not (scenario / "scenario.csv").is_file():
        shutil.rmtree(scenario, ignore_errors=True)
        _, t_gen = timed(lambda: write_fixture(scenario, cfg))
        print(f"generated {frames}-frame fixture in {t_gen:.1f} s")
    size = folder_mb(scenario)

    rows = []
    _, t = timed(lambda: sum(1 for _ in ScenarioReader(scenario)))
    rows.append(("read scenario folder", frames, t, size))
    for storage in ("mcap", "sqlite3"):
        bag = work / f"bag_{storage}"
        shutil.rmtree(bag, ignore_errors=True)
        result, t = timed(lambda: convert(scenario, bag, ConvertConfig(storage=storage), progress=True))
        rows.append((f"convert -> {storage}", result.frames, t, size))
        n, t = timed(lambda: sum(1 for _ in BagFrameReader(bag)))
        rows.append((f"read {storage} bag", n, t, folder_mb(bag)))

    print(f"\n{frames} frames: 960x540 JPEG, 4x256x128 radar, 16,384-point ASCII PLY "
          f"(scenario folder {size:.0f} MB)")
    print(f"{'step':<22}{'frames':>8}{'seconds':>10}{'frames/s':>10}{'MB/s':>8}")
    for name, n, t, mb in rows:
        print(f"{name:<22}{n:>8}{t:>10.1f}{n / t:>10.1f}{mb / t:>8.1f}")


if __name__ == "__main__":
    main()
