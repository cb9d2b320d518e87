"""Per-stage latency of the live graph's models in torch and in ONNX Runtime (``make bench-stages``).

Each stage runs as its node runs it, one frame at a time, one intra-op thread, in this one
process (no ROS): the YOLO tracker (detector + ByteTrack + UE association, JPEG decode
included), the four encoders (preprocessing + network) and the predictor (window arrays
-> logits -> top-k).  Frames are the sample scenario's; the first ``--warmup`` of each stage
are not timed.  Prints p50 / p99 in milliseconds per runtime and the speed-up, and writes
bench_stages.csv to --out.

    python scripts/bench_stages.py --scenario data/twin_sample
"""
from __future__ import annotations

import argparse
import csv
import logging
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from beam_predictor.deepsense.reader import ScenarioReader
from beam_predictor.physics.site import read_site
from beam_predictor.runtime.online import OnlinePredictor
from beam_predictor.sensing.online import MODALITIES, OnlineEncoder
from beam_predictor.sensing.tracker import CameraModel, UETracker
from beam_predictor.window import FrameInput

REPO = Path(__file__).resolve().parents[1]
RUNTIMES = ("torch", "onnxruntime")
RAW = {"image": lambda f: f.image_jpeg, "radar": lambda f: f.radar, "lidar": lambda f: f.lidar,
       "gps": lambda f: f.ue_latlon}


def timed(step, items, warmup: int) -> list[float]:
    out = []
    for i, item in enumerate(items):
        start = time.perf_counter()
        step(item)
        if i >= warmup:
            out.append(1e3 * (time.perf_counter() - start))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(REPO / "data" / "twin_sample"))
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--out", default="reports/bench_stages")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    torch.set_num_threads(1)
    frames = [f for _, f in zip(range(args.frames + args.warmup), ScenarioReader(args.scenario))]
    site = read_site(Path(args.scenario) / "twin_meta.json")
    rows = []
    for runtime in RUNTIMES:
        tracker = UETracker(REPO / "models" / "yolo_twin.pt", CameraModel(site), runtime=runtime, threads=1)
        tracker.warm_up()

        def track(f):
            image = cv2.imdecode(np.frombuffer(f.image_jpeg, np.uint8), cv2.IMREAD_COLOR)
            tracker.track(f.stamp_ns, image, f.ue_latlon)
        rows.append(("tracker (YOLO + ByteTrack)", runtime, timed(track, frames, args.warmup)))
        for modality in MODALITIES:
            enc = OnlineEncoder(modality, REPO / "models" / "encoders" / f"encoder_{modality}.pt",
                                runtime=runtime, threads=1)
            enc.warm_up()
            raws = [RAW[modality](f) for f in frames]
            rows.append((f"encoder {modality}", runtime, timed(enc.encode, raws, args.warmup)))
        pred = OnlinePredictor(str(REPO / "models" / "m2beamllm.pt"), runtime=runtime, threads=1)
        rng = np.random.default_rng(0)
        windows = []
        for i, f in enumerate(frames):           # windows of real fixes and random features
            feats = {m: rng.standard_normal(64).astype(np.float32) for m in pred.modalities}
            pred.window.push(FrameInput(f.stamp_ns, feats, (0.4, 0.4, 0.5, 0.5), f.ue_latlon, None))
            windows.append(pred.window.arrays())
        rows.append(("predictor (M2BeamLLM-MiniLM)", runtime, timed(pred.predict, windows, args.warmup)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = {}
    for stage, runtime, ms in rows:
        table.setdefault(stage, {})[runtime] = (np.percentile(ms, 50), np.percentile(ms, 99))
    with (out / "bench_stages.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["stage", "runtime", "p50_ms", "p99_ms"])
        for stage, by in table.items():
            for runtime, (p50, p99) in by.items():
                w.writerow([stage, runtime, f"{p50:.2f}", f"{p99:.2f}"])
    print(f"{len(frames) - args.warmup} frames of {args.scenario}, batch 1, one thread\n")
    print("| stage | torch p50 / p99 (ms) | ONNX Runtime p50 / p99 (ms) | speed-up (p50) |")
    print("|---|---|---|---|")
    for stage, by in table.items():
        t, o = by["torch"], by["onnxruntime"]
        print(f"| {stage} | {t[0]:.1f} / {t[1]:.1f} | {o[0]:.1f} / {o[1]:.1f} | {t[0] / o[0]:.1f}x |")
    print(f"\ncsv: {out / 'bench_stages.csv'}")


if __name__ == "__main__":
    main()
