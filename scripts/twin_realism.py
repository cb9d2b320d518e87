#!/usr/bin/env python3
"""Twin vs real 64-beam power shapes (``make twin-realism``).

Compares the distribution of peak-to-median ratio, sidelobe level and dynamic range of
the twin's power vectors with the real DeepSense scenario 17 files, and the mean power
shape around the peak.  Writes summary.csv, per_vector.csv and realism.png to OUT_DIR and
prints the table.  Twin frames are taken whole, and restricted to line-of-sight frames
whose best beam lies within +-15 deg of broadside (the real data's static geometry).
Usage: twin_realism.py TWIN_SCENARIO REAL_POWER_DIR OUT_DIR
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from beam_predictor import contract  # noqa: E402
from beam_predictor.deepsense import files  # noqa: E402
from beam_predictor.deepsense.power_shape import shape_stats  # noqa: E402
from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader  # noqa: E402

METRICS = ("peak_to_median_db", "sidelobe_level_db", "dynamic_range_db")


def aligned_shape(power: np.ndarray, half: int = 16) -> np.ndarray:
    """Mean of power / peak in dB at beam offsets -half..half from each vector's peak."""
    out = []
    for p in power:
        k = int(np.argmax(p))
        if half <= k < len(p) - half:
            out.append(10 * np.log10(p[k - half:k + half + 1] / p[k]))
    return np.mean(out, axis=0) if out else np.full(2 * half + 1, np.nan)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("twin", type=Path)
    ap.add_argument("real", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    real = np.stack([files.read_power(p) for p in sorted(args.real.glob("*.txt"))]).astype(np.float64)
    frames = list(ScenarioReader(args.twin, ReaderConfig(modalities=("power",))))
    twin = np.stack([f.power for f in frames]).astype(np.float64)
    angles = np.degrees(contract.codebook_angles_rad())
    near = np.array([f.extras.get("los") == "1" and abs(angles[f.beam - 1]) <= 15 for f in frames])
    sets = {"real (DeepSense s17)": real, "twin (all frames)": twin,
            "twin (LoS, |beam| <= 15 deg)": twin[near]}

    stats = {name: shape_stats(p) for name, p in sets.items()}
    rows = []
    for name, st in stats.items():
        for m in METRICS:
            v = st[m]
            rows.append([name, m, len(v), *np.round(np.percentile(v, [10, 50, 90]), 2)])
    with open(args.out / "summary.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["set", "metric", "n", "p10", "median", "p90"])
        w.writerows(rows)
    with open(args.out / "per_vector.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["set", *METRICS])
        for name, st in stats.items():
            for i in range(len(st[METRICS[0]])):
                w.writerow([name, *(round(float(st[m][i]), 3) for m in METRICS)])

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6), dpi=90)
    for ax, m in zip(axes, METRICS):
        for name, st in stats.items():
            ax.hist(st[m], bins=30, density=True, histtype="step", label=name)
        ax.set(title=m.replace("_db", " [dB]").replace("_", " "), ylabel="density")
    offsets = np.arange(-16, 17)
    for name, p in sets.items():
        axes[3].plot(offsets, aligned_shape(p), label=name)
    axes[3].set(title="mean shape around the peak", xlabel="beam offset", ylabel="power / peak [dB]")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "realism.png")

    print(f"{'set':<32}{'metric':<20}{'n':>6}{'p10':>9}{'median':>9}{'p90':>9}")
    for r in rows:
        print(f"{r[0]:<32}{r[1]:<20}{r[2]:>6}{r[3]:>9}{r[4]:>9}{r[5]:>9}")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
