#!/usr/bin/env python3
"""Content summary of a twin scenario: LoS share, NLoS passes, visibility, beams, splits.

Usage: twin_stats.py SCENARIO_DIR     (``make twin-stats`` runs it on the benchmark dataset)
"""
from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("scenario", type=Path)
    args = ap.parse_args()
    frames = list(ScenarioReader(args.scenario, ReaderConfig(modalities=("power",))))
    los = np.array([f.extras["los"] == "1" for f in frames])
    beams = np.array([f.beam for f in frames])
    by_pass = defaultdict(list)
    for f, ok in zip(frames, los):
        by_pass[f.seq_index].append(ok)
    split_passes = Counter(next(f.extras["split"] for f in frames if f.seq_index == s) for s in by_pass)
    print(f"frames {len(frames)} in {len(by_pass)} passes")
    print(f"LoS frames {100 * los.mean():.1f} %; passes with NLoS frames "
          f"{sum(not all(v) for v in by_pass.values())} of {len(by_pass)}")
    print(f"UE visible in the image {100 * np.mean([bool(f.extras['ue_bbox']) for f in frames]):.1f} %")
    edge = 100 * np.isin(beams, (1, 64)).mean()
    print(f"distinct best beams {len(set(beams))}; edge beams (1 or 64) {edge:.1f} %")
    split_frames = Counter(f.extras["split"] for f in frames)
    print("split (passes / frames): " + ", ".join(
        f"{k} {split_passes[k]} / {n}" for k, n in sorted(split_frames.items())))
    print("conditions (frames): " + ", ".join(
        f"{k} {n}" for k, n in sorted(Counter(f.extras['condition'] for f in frames).items())))


if __name__ == "__main__":
    main()
