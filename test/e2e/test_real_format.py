"""Real DeepSense format end to end, with nothing twin-specific: convert -> pretrain -> train ->
evaluate -> live replay of the converted bag with the trained checkpoint.

Two generated scenarios in the exact real column sets (scenarios 31-34, and scenario 9 with
.mat radar and LiDAR): no split column, no twin_meta.json, no ue_* ground truth.  The s31
one gets a site.yaml as a user writes it (drafted by `site init`, then filled in) and trains
the LLM predictor with kinematics; the s9 one has no site file at all and trains on camera,
GPS and the past beams, its tracker associating the UE without calibration.  Tiny sizes:
this checks the chain runs and keeps its contracts, not accuracy.
"""
import csv
import json
import os

import pytest
import yaml

from beam_predictor.cli import main
from beam_predictor.deepsense.fixture import FixtureConfig, write_fixture
from beam_predictor.runtime.graph import build_graph
from beam_predictor.runtime.runner import GraphRunner, ros_env

PASSES, FRAMES = 6, 24
FIXTURE = dict(passes=PASSES, frames_per_pass=FRAMES, image_width=160, image_height=96, lidar_points=512,
               pass_gap_s=2.0)
# the fixture's geometry, as a user would measure it at the site
SITE = {"heading_deg": 0.0, "array_height_m": 5.0, "ue_antenna_height_m": 1.5,
        "camera": {"fx": 80.0, "fy": 80.0, "offset_m": [0.0, 0.0, 0.0], "pitch_deg": 0.0}}
MODEL = {
    "s31": {"task": {"history": 4, "horizon": 2, "input_len": 4},
            "fusion": {"modalities": ["image", "radar", "lidar", "gps", "beam"]},
            "backbone": {"kind": "minilm", "unfreeze_last": 1}, "train": {"epochs": 1, "batch_size": 16}},
    "s9": {"task": {"history": 4, "horizon": 2, "input_len": 4},
           "inputs": {"kinematics": False, "prior": False, "reflection": False},
           "fusion": {"modalities": ["image", "gps", "beam"]},
           "backbone": {"kind": "gru", "hidden": 32, "layers": 1}, "train": {"epochs": 2, "batch_size": 16}},
}


def _fill_site(scenario):
    path = scenario / "site.yaml"
    draft = yaml.safe_load(path.read_text())
    camera = {**draft["camera"], **SITE["camera"]}
    path.write_text(yaml.safe_dump({**draft, **SITE, "camera": camera}))


@pytest.mark.parametrize("layout", ["s31", "s9"])
def test_convert_pretrain_train_evaluate_replay(tmp_path, layout, capsys):
    scenario, bag, enc = tmp_path / "scenario", tmp_path / "bag", tmp_path / "encoders"
    write_fixture(scenario, FixtureConfig(layout=layout, **FIXTURE), progress=False)
    with open(next(scenario.glob("*.csv")), newline="") as fh:
        columns = next(csv.reader(fh))
    assert "split" not in columns and not any(c.startswith("ue_") for c in columns)
    assert not (scenario / "twin_meta.json").exists()
    if layout == "s31":
        assert main(["site", "init", str(scenario)]) == 0
        assert main(["site", "check", str(scenario)]) == 2          # heading, heights, fx still null
        assert "heading_deg" in capsys.readouterr().err
        _fill_site(scenario)
        assert main(["site", "check", str(scenario)]) == 0

    assert main(["convert", str(scenario), str(bag)]) == 0
    cache = ["--cache", str(tmp_path / "cache")]
    assert main(["pretrain", "--data", str(scenario), "--epochs", "1", "--out", str(enc),
                 "--report", str(tmp_path / "pretrain"), *cache]) == 0
    # no split column: one was drawn by pass and written beside the CSV for every later stage
    with open(scenario / "splits.csv", newline="") as fh:
        splits = {int(r["seq_index"]): r["split"] for r in csv.DictReader(fh)}
    assert sorted(splits) == list(range(1, PASSES + 1)) and {"train", "test"} <= set(splits.values())
    assert all((enc / f"encoder_{m}.pt").is_file() for m in ("image", "radar", "lidar", "gps"))

    model_yaml = tmp_path / "model.yaml"
    model_yaml.write_text(yaml.safe_dump(MODEL[layout]))
    ckpt = tmp_path / "model.pt"
    assert main(["train", "--data", str(scenario), "--config", str(model_yaml), "--encoders", str(enc),
                 "--out", str(ckpt), "--report", str(tmp_path / "train"), *cache]) == 0
    out = capsys.readouterr().out
    assert "anchor: linear (t-1)" in out and ("anchor: geometry" in out) == (layout == "s31")
    assert main(["evaluate", "--data", str(scenario), "--checkpoint", str(ckpt), "--encoders", str(enc),
                 "--report", str(tmp_path / "evaluate"), *cache]) == 0

    # the live graph on the converted bag, with this checkpoint, these encoders and this site
    params = {"/**/encoders": {"ros__parameters": {"checkpoint": str(enc)}}}     # their folder
    params["/**/yolo_tracker"] = {"ros__parameters": {"site": str(scenario / "site.yaml")
                                                      if layout == "s31" else ""}}
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    report = tmp_path / "closed_loop"
    specs = build_graph({"bag": str(bag), "rate": "0.5", "params_file": str(params_file),
                         "checkpoint": str(ckpt), "report": str(report), "static_tf": "false",
                         "site": str(scenario / "site.yaml") if layout == "s31" else ""})
    encoders = [s.parameters["modality"] for s in specs if s.executable == "feature_encoder"]
    assert len(encoders) == 1                                             # one process encodes them all
    assert sorted(encoders[0].split(",")) == sorted(MODEL[layout]["fusion"]["modalities"])   # the ckpt's
    domain = int(os.environ.get("ROS_DOMAIN_ID", "1")) % 100 + (111 if layout == "s31" else 121)
    runner = GraphRunner(specs, tmp_path / "logs", env=ros_env(domain_id=domain))
    codes = runner.run(ready_timeout=240, duration=180)
    assert codes["bag_player"] == 0, runner.tail("bag_player")
    summary = json.loads((report / "summary.json").read_text())
    # the chain runs: the beamformer sees the replay, and commands come for most frames after each
    # pass's warm-up of H - 1 frames (a busy machine may drop a few; timing is `make bench-ros`'s)
    assert summary["frames_measured"] >= 0.9 * PASSES * FRAMES, runner.tail("beamformer")
    assert summary["commands_scored"] >= 0.7 * summary["frames_after_warmup"], runner.tail("llm_fusion")
    assert summary["commands_unmatched"] == 0
