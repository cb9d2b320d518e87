"""The detector/tracker pipeline end to end on a tiny twin scenario (real ultralytics, offline, CPU).

One epoch on a handful of images cannot detect well; these tests check that the real
code path runs offline and that its outputs are consistent, not the accuracy (which
`beam-predictor detector` reports on the benchmark dataset).
"""
import os

import pytest

from beam_predictor.deepsense.site import scenario_site
from beam_predictor.deepsense.splits import pass_splits
from beam_predictor.sensing.detector import (DetectorConfig, evaluate_detector, setup_offline,
                                             train_detector, write_yolo_dataset)
from beam_predictor.sensing.track_eval import evaluate_tracking
from beam_predictor.sensing.tracker import CameraModel, UETracker
from beam_predictor.twin.config import CameraConfig, LidarConfig, TrafficConfig, TwinConfig
from beam_predictor.twin.generate import generate

TINY = TwinConfig(passes=3, camera=CameraConfig(width=96, height=54),
                  lidar=LidarConfig(channels=2, points_per_channel=8),
                  traffic=TrafficConfig(pass_half_angle_deg=12.0, speed_mps=(18.0, 20.0)),
                  split=(0.34, 0.33, 0.33))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("det")
    scenario = root / "scenario"
    generate(scenario, TINY, progress=False)
    cfg = DetectorConfig(imgsz=64, epochs=1, batch=4)
    cfg_dir = setup_offline(root / "build")
    data_yaml = write_yolo_dataset(scenario, root / "yolo", cfg, pass_splits(scenario))
    weights = train_detector(data_yaml, cfg, root / "runs" / "det")
    return scenario, cfg, cfg_dir, data_yaml, weights


def test_offline_setup_and_dataset(trained):
    scenario, cfg, cfg_dir, data_yaml, weights = trained
    assert os.environ["YOLO_OFFLINE"] == "1" and (cfg_dir / "Ultralytics" / "Arial.ttf").is_file()
    images = list((data_yaml.parent / "images" / "train").iterdir())
    labels = list((data_yaml.parent / "labels" / "train").iterdir())
    assert images and len(images) == len(labels) and all(p.is_symlink() for p in images)
    assert weights.is_file()


def test_detector_metrics_and_tracking_run(trained):
    scenario, cfg, _, data_yaml, weights = trained
    det = evaluate_detector(weights, data_yaml, cfg, split="test")
    assert 0.0 <= det["map50"] <= 1.0 and 0.0 <= det["map50_95"] <= det["map50"] + 1e-9
    tracker = UETracker(weights, CameraModel(scenario_site(scenario)), conf=0.01, imgsz=64)
    res = evaluate_tracking(scenario, tracker, split="test", progress=False)
    assert res["frames"] == res["ue_visible_frames"] + res["hidden_frames"] > 0
    assert 0.0 <= res["ue_association_accuracy"] <= 1.0 and res["latency_p50_ms"] > 0
