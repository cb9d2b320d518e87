"""UE association on a twin scenario: the camera model vs the calibration-free moving-track policy.

Runs the real tracker (YOLO + ByteTrack, the tracker node's settings: weights, confidence
and inference size from :class:`beam_predictor.runtime.config.TrackerConfig`) over the
passes of one split twice, through
:func:`beam_predictor.sensing.track_eval.evaluate_tracking`:

* ``camera``: :class:`beam_predictor.sensing.tracker.UEAssociator`, the GPS fix projected
  through the twin's camera (the site's camera section);
* ``moving``: :class:`beam_predictor.sensing.association.MovingTrackAssociator`, no camera
  model (what a real DeepSense scenario without calibration gets).

and prints, per scenario and policy, the association accuracy (visible UE reported with
IoU >= 0.5 against the twin's ``ue_bbox``), the mean IoU over visible frames, the share of
hidden-UE frames reported lost, and the frame counts; the rows go to a CSV.

    nice python scripts/association_accuracy.py --data data/twin_benchmark
    nice python scripts/association_accuracy.py --data data/twin_sample --split train
"""
from __future__ import annotations

import argparse
import csv
from dataclasses import fields
from pathlib import Path

from beam_predictor.deepsense.site import scenario_site
from beam_predictor.runtime.config import TrackerConfig
from beam_predictor.sensing.association import MovingTrackAssociator, MovingTrackConfig
from beam_predictor.sensing.track_eval import evaluate_tracking
from beam_predictor.sensing.tracker import CameraModel, UETracker

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ("scenario", "split", "policy", "ue_association_accuracy", "mean_iou", "lost_when_hidden",
           "frames", "ue_visible_frames", "hidden_frames", "passes", "latency_p50_ms", "latency_p99_ms")


def main() -> None:
    defaults = TrackerConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=["data/twin_benchmark"], help="twin scenario folder(s)")
    ap.add_argument("--split", default="test", help="passes evaluated (train | val | test)")
    ap.add_argument("--weights", default=defaults.weights)
    ap.add_argument("--conf", type=float, default=defaults.conf)
    ap.add_argument("--imgsz", type=int, default=defaults.imgsz)
    ap.add_argument("--out", default="reports/association/association.csv")
    args = ap.parse_args()
    weights = Path(args.weights) if Path(args.weights).is_absolute() else REPO / args.weights
    moving_cfg = MovingTrackConfig()
    rows = []
    for data in args.data:
        camera = CameraModel(scenario_site(data))
        policies = {}
        tracker = UETracker(weights, camera, conf=args.conf, imgsz=args.imgsz,
                            gap_reset_s=defaults.gap_reset)
        policies["camera"] = evaluate_tracking(data, tracker, split=args.split)
        tracker = UETracker(weights, None, conf=args.conf, imgsz=args.imgsz, gap_reset_s=defaults.gap_reset)
        tracker.associator = MovingTrackAssociator(moving_cfg)
        policies["moving"] = evaluate_tracking(data, tracker, split=args.split)
        print(f"{data}, {args.split} passes ({policies['camera']['passes']}), {weights.name}, "
              f"conf {args.conf}, imgsz {args.imgsz}")
        print(f"{'policy':<8}{'accuracy':>10}{'mean IoU':>10}{'lost-when-hidden':>18}{'frames':>8}"
              f"{'visible':>9}{'hidden':>8}")
        for policy, m in policies.items():
            print(f"{policy:<8}{100 * m['ue_association_accuracy']:>9.1f}%{m['mean_iou']:>10.3f}"
                  f"{100 * m['lost_when_hidden']:>17.1f}%{m['frames']:>8}{m['ue_visible_frames']:>9}"
                  f"{m['hidden_frames']:>8}")
            rows.append({"scenario": data, "split": args.split, "policy": policy,
                         **{k: m[k] for k in COLUMNS[3:]}})
    print("moving-track settings: " + ", ".join(f"{f.name}={getattr(moving_cfg, f.name)}"
                                                for f in fields(moving_cfg)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
