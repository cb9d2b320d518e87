"""The twin writes a complete DeepSense scenario that the skeleton's reader and converter take unchanged."""
import json

import numpy as np
import pytest

from beam_predictor.bag.convert import convert
from beam_predictor.bag.reader import BagFrameReader
from beam_predictor.cli import main
from beam_predictor.deepsense.reader import ScenarioReader
from beam_predictor.twin.config import CameraConfig, LidarConfig, TrafficConfig, TwinConfig
from beam_predictor.deepsense.splits import draw_splits
from beam_predictor.twin.generate import EXTRA_COLUMNS, generate

TINY_TWIN = TwinConfig(
    passes=2, camera=CameraConfig(width=64, height=36), lidar=LidarConfig(channels=4, points_per_channel=32),
    traffic=TrafficConfig(pass_half_angle_deg=15.0, speed_mps=(15.0, 20.0)), split=(0.5, 0.5, 0.0))


@pytest.fixture(scope="module")
def tiny_twin(tmp_path_factory):
    out = tmp_path_factory.mktemp("twin") / "scenario"
    summary = generate(out, TINY_TWIN, progress=False)
    return out, summary


def test_scenario_layout_and_extras(tiny_twin):
    out, summary = tiny_twin
    frames = list(ScenarioReader(out))
    assert len(frames) == summary["frames"] >= 6
    assert {f.seq_index for f in frames} == {1, 2}
    f = frames[0]
    assert f.radar.shape == (4, 256, 128) and f.power.shape == (64,) and f.lidar.shape[1] == 4
    assert f.image_jpeg[:2] == b"\xff\xd8" and f.bs_latlon is not None
    for col in EXTRA_COLUMNS:
        assert col in f.extras
    assert {fr.extras["split"] for fr in frames} <= {"train", "val"}
    h = np.load(out / f.extras["unit1_pass"].lstrip("./"))
    assert h.shape == (TINY_TWIN.pinching.num_codewords,) and h.dtype == np.complex64
    assert (out / f.extras["unit1_yolo"].lstrip("./")).is_file()
    meta = json.loads((out / "twin_meta.json").read_text())
    assert len(meta["beam_angles_deg"]) == 64 and meta["camera"]["width"] == 64
    assert (out / "splits.csv").read_text().count("\n") == 3
    assert set(summary["stage_seconds"]) >= {"comms", "radar", "camera", "lidar"}


def test_round_trip_through_the_bag(tiny_twin, tmp_path):
    out, _ = tiny_twin
    result = convert(out, tmp_path / "bag", progress=False)
    original = list(ScenarioReader(out))
    back = list(BagFrameReader(result.bag))
    assert len(back) == len(original)
    for a, b in zip(original, back):
        assert a.image_jpeg == b.image_jpeg and a.extras == b.extras and a.beam == b.beam
        np.testing.assert_array_equal(a.radar, b.radar)
        np.testing.assert_array_equal(a.lidar, b.lidar)
        np.testing.assert_array_equal(a.power, b.power)


def test_same_seed_same_scenario(tiny_twin, tmp_path):
    out, _ = tiny_twin
    again = tmp_path / "again"
    generate(again, TINY_TWIN, progress=False)
    assert (out / "scenario.csv").read_bytes() == (again / "scenario.csv").read_bytes()
    for rel in ("unit1/mmWave_data/mmWave_power_3.txt", "unit1/camera_data/image_3.jpg",
                "unit1/radar_data/radar_3.npy"):
        assert (out / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_existing_output_is_kept(tiny_twin):
    out, _ = tiny_twin
    with pytest.raises(FileExistsError):
        generate(out, TINY_TWIN, progress=False)


def test_cli(tmp_path, capsys):
    cfg = tmp_path / "twin.yaml"
    cfg.write_text("passes: 1\ncamera: {width: 32, height: 18}\nlidar: {channels: 2, points_per_channel: 8}\n"
                   "traffic: {pass_half_angle_deg: 8.0, speed_mps: [20.0, 20.0]}\n")
    assert main(["twin", "--config", str(cfg), "--out", str(tmp_path / "scen")]) == 0
    out = capsys.readouterr().out
    assert "frames in 1 passes" in out and "time by stage" in out


def test_splits_are_by_pass():
    labels = draw_splits(20, (0.7, 0.15, 0.15), np.random.default_rng(0), min_test=False)
    assert labels.count("val") == 3 and labels.count("test") == 3 and labels.count("train") == 14
