#!/usr/bin/env python3
"""Twin realism, motion and GPS (``make twin-realism``): beam dynamics, kinematics, GPS error.

For each scenario given as LABEL=DIR, from its CSV and power files (ground truth is read
here on purpose: this is a report on the twin, not a model input):

* beam dynamics per pass: length, mean |delta beam| per step, share of steps with
  |delta beam| >= 4, beams spanned (max - min + 1);
* the UE's speed and acceleration (from ``ue_vx``/``ue_vy``, within passes), and the
  share of frames of each motion behaviour;
* the GPS error: the reported ``unit2_loc`` against the true ``ue_x``/``ue_y``, with the
  share of frames without a fix.

Writes beam_dynamics.csv, kinematics.csv, gps_error.csv and dynamics.png to OUT_DIR and
prints the tables.
Usage: twin_dynamics.py OUT_DIR LABEL=SCENARIO [...] [--gps LABEL=SCENARIO ...]
(``--gps`` sets share another set's frames and differ only in GPS: they add GPS rows only.)
"""
from __future__ import annotations

import argparse
import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader  # noqa: E402
from beam_predictor.physics.geo import latlon_to_enu  # noqa: E402


def load(scenario: Path) -> dict:
    meta = json.loads((scenario / "twin_meta.json").read_text())
    bs = np.asarray(meta["base_station_array"][:2])
    origin = (meta["config"]["gps"]["origin_lat"], meta["config"]["gps"]["origin_lon"])
    rate = meta["config"]["frame_rate_hz"]
    passes = defaultdict(list)
    for f in ScenarioReader(scenario, ReaderConfig(modalities=("power", "gps"))):
        e = f.extras
        fix = (np.asarray(latlon_to_enu(f.ue_latlon, origin), float) if f.ue_latlon is not None
               else np.full(2, np.nan))
        passes[f.seq_index].append((f.beam, float(e["ue_vx"]), float(e.get("ue_vy") or 0.0),
                                    e.get("motion", ""), float(e["ue_x"]) - bs[0], float(e["ue_y"]) - bs[1],
                                    *fix[:2]))
    return {"passes": {s: np.array([r[:3] + r[4:] for r in rows], float) for s, rows in passes.items()},
            "motion": {s: rows[0][3] or "constant" for s, rows in passes.items()}, "rate": rate}


def pct(v, q=(10, 50, 90)) -> list[float]:
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return [round(float(x), 3) for x in np.percentile(v, q)] if v.size else [float("nan")] * len(q)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("sets", nargs="+", help="LABEL=SCENARIO_DIR")
    ap.add_argument("--gps", nargs="*", default=[], help="LABEL=SCENARIO_DIR, GPS rows only")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data, gps_only = {}, set()
    for item in args.sets + args.gps:
        label, _, path = item.partition("=")
        data[label] = load(Path(path))
        if item in args.gps:
            gps_only.add(label)

    beam_rows, kin_rows, gps_rows, plot = [], [], [], {}
    for label, d in data.items():
        lengths, mean_step, big, span, steps, speed, accel, err = [], [], [], [], [], [], [], []
        out_frames = 0
        for arr in d["passes"].values():
            beam, vx, vy, ex, ey, fx, fy = arr.T
            db = np.abs(np.diff(beam))
            lengths.append(len(beam))
            span.append(beam.max() - beam.min() + 1)
            if db.size:
                mean_step.append(db.mean())
                big.append(np.mean(db >= 4))
                steps.extend(db)
            v = np.hypot(vx, vy)
            speed.extend(v)
            accel.extend(np.diff(v) * d["rate"])
            err.extend(np.hypot(fx - ex, fy - ey))
            out_frames += int(np.sum(~np.isfinite(fx)))
        frames = sum(lengths)
        gps_rows.append([label, *pct(err, (50, 95)), round(100 * out_frames / frames, 1)])
        plot[label] = (np.asarray(steps), np.asarray(accel), np.asarray(err))
        if label in gps_only:
            continue
        beam_rows.append([label, len(lengths), frames, *pct(lengths), *pct(mean_step),
                          round(100 * float(np.mean(np.asarray(steps) >= 4)), 1), *pct(span)])
        motion = Counter()
        for s, arr in d["passes"].items():
            motion[d["motion"][s]] += len(arr)
        acc = np.abs(accel)
        kin_rows.append([label, *pct(speed), *pct(acc, (50, 90, 99)),
                         round(100 * float(np.mean(acc > 1.0)), 1),
                         "; ".join(f"{k} {100 * n / frames:.0f} %" for k, n in sorted(motion.items()))])

    tables = {
        "beam_dynamics.csv": (["set", "passes", "frames", "length_p10", "length_p50", "length_p90",
                               "mean_step_p10", "mean_step_p50", "mean_step_p90", "steps_ge4_pct",
                               "span_p10", "span_p50", "span_p90"], beam_rows),
        "kinematics.csv": (["set", "speed_p10", "speed_p50", "speed_p90", "abs_accel_p50", "abs_accel_p90",
                            "abs_accel_p99", "accel_gt1_pct", "frames_by_motion"], kin_rows),
        "gps_error.csv": (["set", "error_m_p50", "error_m_p95", "no_fix_pct"], gps_rows),
    }
    for name, (head, rows) in tables.items():
        with (args.out / name).open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(head)
            w.writerows(rows)
        print(f"\n{name}\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(str(x) for x in r) + " |")

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), dpi=90)
    for label, (steps, accel, err) in plot.items():
        if label not in gps_only:
            axes[0].hist(steps, bins=np.arange(0, 20) - 0.5, density=True, histtype="step", label=label)
            axes[1].hist(accel, bins=np.linspace(-6.5, 3, 60), density=True, histtype="step", label=label)
        e = np.sort(err[np.isfinite(err)])
        if e.size:
            axes[2].plot(e, np.arange(1, e.size + 1) / e.size, label=label)
    axes[0].set(title="|Δbeam| per step", xlabel="beams", ylabel="density")
    axes[1].set(title="UE acceleration", xlabel="m/s²", ylabel="density", yscale="log")
    axes[2].set(title="GPS horizontal error (CDF)", xlabel="m", xscale="log", ylabel="share of fixes")
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "dynamics.png")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
