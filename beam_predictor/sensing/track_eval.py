"""Evaluation of the UE tracker on a twin scenario's passes (association accuracy and latency)."""
from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader
from beam_predictor.deepsense.splits import pass_splits
from beam_predictor.sensing.tracker import UETracker, iou


def decode_bgr(jpeg: bytes) -> np.ndarray:
    import cv2
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("undecodable JPEG")
    return img


def evaluate_tracking(scenario: str | Path, tracker: UETracker, splits: dict[int, str] | None = None,
                      split: str = "test", progress: bool = True) -> dict:
    """Run the tracker pass by pass over the passes of ``split`` (``splits``: each pass's split,
    default :func:`beam_predictor.deepsense.splits.pass_splits`'s); compare the UE box with the
    twin's ``ue_bbox``.

    A visible UE counts as correct when the tracker reports it (not lost) with IoU >= 0.5;
    a hidden UE (no ground-truth box) counts as correct when the tracker reports it lost.
    """
    splits = pass_splits(scenario) if splits is None else splits
    passes = defaultdict(list)
    for f in ScenarioReader(scenario, ReaderConfig(modalities=("camera", "gps"))):
        if splits[f.seq_index] == split:
            passes[f.seq_index].append(f)
    hits = visible = hidden = lost_ok = 0
    ious, latency = [], []
    for seq in tqdm(sorted(passes), desc=f"track {split}", disable=not progress):
        tracker.reset()
        for f in passes[seq]:
            img = decode_bgr(f.image_jpeg)
            t0 = time.perf_counter()
            _, box = tracker.track(f.stamp_ns, img, f.ue_latlon)
            latency.append(1e3 * (time.perf_counter() - t0))
            gt = f.extras.get("ue_bbox", "")
            if gt:
                visible += 1
                score = 0.0 if box.lost else iou(box.xyxy(), np.array([float(v) for v in gt.split()]))
                ious.append(score)
                hits += score >= 0.5
            else:
                hidden += 1
                lost_ok += box.lost
    return {"frames": visible + hidden, "passes": len(passes), "ue_visible_frames": visible,
            "ue_association_accuracy": hits / max(visible, 1),
            "mean_iou": float(np.mean(ious)) if ious else 0.0,
            "lost_when_hidden": lost_ok / max(hidden, 1), "hidden_frames": hidden,
            "latency_p50_ms": float(np.percentile(latency, 50)),
            "latency_p99_ms": float(np.percentile(latency, 99))}
