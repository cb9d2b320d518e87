"""Stored channels, GPS variants, Ray generation, the second scene and its material check."""
import dataclasses
import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from beam_predictor.config import ConfigError, from_mapping
from beam_predictor.deepsense.reader import ScenarioReader
from beam_predictor.physics import array
from beam_predictor.twin.config import CameraConfig, GpsConfig, LidarConfig, TrafficConfig, TwinConfig
from beam_predictor.twin.generate import array_weights, generate, measurement_rng
from beam_predictor.twin.scenes import check_materials
from beam_predictor.twin.variants import regps

SMALL = TwinConfig(passes=4, camera=CameraConfig(width=64, height=36),
                   lidar=LidarConfig(channels=4, points_per_channel=32),
                   traffic=TrafficConfig(pass_half_angle_deg=15.0, speed_mps=(15.0, 20.0)),
                   split=(0.5, 0.5, 0.0))


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("twin") / "rtk"
    generate(out, SMALL, progress=False)
    return out


def test_stored_channel_reproduces_the_power_files(small):
    meta = json.loads((small / "twin_meta.json").read_text())
    cfg = from_mapping(TwinConfig, meta["config"])
    weights = array_weights(cfg.array)
    frames = list(ScenarioReader(small))
    assert len(frames) >= 12
    for f in frames:
        h = np.load(small / f.extras["unit1_channel"])
        H = np.load(small / f.extras["unit1_channel_ofdm"])
        assert h.shape == (16,) and H.shape == (cfg.array.num_subcarriers, 16) and h.dtype == np.complex64
        np.testing.assert_allclose(h, H.mean(axis=0), rtol=1e-6)
        p = array.beam_power(H, weights, cfg.array.tx_power_scale, cfg.array.noise_power,
                             measurement_rng(cfg, f.index)).astype(np.float32)
        np.testing.assert_allclose(p, f.power, rtol=1e-6)                 # float32 precision
    # any ULA codebook at any SNR: 256 beams of the ideal array, noise on the channel (paper 004)
    H = np.load(small / frames[0].extras["unit1_channel_ofdm"])
    book = array.codebook(array.codebook_angles_rad(256, cfg.array.fov_deg), 16)
    clean = array.beam_power(H, book)
    noisy = [array.beam_power(H, book, snr_db=0.0, rng=np.random.default_rng(i)) for i in range(200)]
    assert clean.shape == (256,)
    # element-wise noise of ||H||^2 per element at 0 dB adds that much power to every unit-norm beam
    norm2 = np.mean(np.sum(np.abs(H) ** 2, axis=-1))
    np.testing.assert_allclose(np.mean(noisy, axis=0) - clean, norm2, rtol=0.2)


def test_a_gps_variant_has_the_bytes_of_a_fresh_build(small, tmp_path):
    fresh = tmp_path / "fresh"
    generate(fresh, dataclasses.replace(SMALL, gps=GpsConfig(preset="degraded")), progress=False)
    derived = tmp_path / "derived"
    r = regps(small, derived, "degraded")
    assert tree(derived) == tree(fresh)
    assert r["frames"] == len(list(ScenarioReader(small)))
    # only the GPS differs from the source, and the reader takes the outages
    reader = ScenarioReader(derived)
    frames = list(reader)
    assert len(frames) == r["frames"] and reader.report.gps_missing_rows
    assert any(f.ue_latlon is None for f in frames) or any(np.isnan(f.ue_latlon).any() for f in frames)
    for a, b in zip(ScenarioReader(small), frames):
        assert a.image_jpeg == b.image_jpeg and np.array_equal(a.power, b.power)
    with pytest.raises(ConfigError, match="gps.preset"):
        regps(small, tmp_path / "bad", "survey")


def _descends_from(pid: int, root: int) -> bool:
    while pid > 1:
        if pid == root:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def _kill_one_worker(parent: Path, killed: list) -> None:
    """Kill one of this test's Ray pass workers once the partial output holds a written pass."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not killed:
        partial = list(parent.glob(".ray.partial-*/scenario.csv"))
        if partial and partial[0].read_text().count("\n") > 3:
            for pid in os.listdir("/proc"):
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                except (OSError, ValueError):
                    continue
                if pid.isdigit() and b"PassWorker" in cmd and _descends_from(int(pid), os.getpid()):
                    os.kill(int(pid), signal.SIGKILL)
                    killed.append(int(pid))
                    return
        time.sleep(0.05)


def test_ray_workers_write_the_bytes_of_one_process_even_when_one_dies(small, tmp_path):
    killed: list[int] = []
    watcher = threading.Thread(target=_kill_one_worker, args=(tmp_path, killed), daemon=True)
    watcher.start()
    summary = generate(tmp_path / "ray", SMALL, progress=False, workers=2)
    watcher.join(timeout=1)
    assert summary["backend"] == "ray" and summary["workers"] == 2
    assert killed, "no Ray worker was found to kill"
    assert tree(tmp_path / "ray") == tree(small)
    assert not list(tmp_path.glob(".ray.partial-*"))


def test_the_second_scene_renders_with_the_same_sensors(tmp_path):
    from beam_predictor.config import config_path, load_config
    cfg = load_config(TwinConfig, config_path("twin_boulevard.yaml"))
    bench = load_config(TwinConfig, config_path("twin.yaml"))
    assert cfg.scene == "boulevard" and cfg.radar == bench.radar and cfg.gps == bench.gps
    assert dataclasses.replace(cfg.array, position=bench.array.position) == bench.array
    small = dataclasses.replace(cfg, passes=1, camera=CameraConfig(width=64, height=36),
                                lidar=LidarConfig(channels=4, points_per_channel=32))
    generate(tmp_path / "boulevard", small, progress=False)
    frames = list(ScenarioReader(tmp_path / "boulevard"))
    assert len(frames) > 10 and {f.extras["los"] for f in frames} <= {"0", "1"}
    ue_y = {round(float(f.extras["ue_y"]), 1) for f in frames}
    assert ue_y & set(cfg.traffic.lanes_y) or frames[0].extras["motion"] == "lane_change"


def test_materials_without_parameters_at_the_carrier_name_the_key():
    ranges = {"brick": [(1.0, 40.0)], "concrete": [(1.0, 100.0)], "marble": [(1.0, 60.0)]}
    used = {"itu_brick": "brick", "itu_concrete": "concrete"}
    assert check_materials("s", used, {"brick": "concrete"}, 60e9, ranges) == \
        {"itu_brick": "concrete", "itu_concrete": "concrete"}
    with pytest.raises(ConfigError, match="material 'itu_brick'.*60 GHz"):
        check_materials("s", used, {}, 60e9, ranges)
    with pytest.raises(ConfigError, match="scene_materials.brick"):
        check_materials("s", used, {"brick": "marble"}, 60e9, ranges)
    with pytest.raises(ConfigError, match="scene_materials.brick: 'granite'"):
        check_materials("s", used, {"brick": "granite"}, 60e9, ranges)
    assert check_materials("s", used, {}, 28e9, ranges)["itu_brick"] == "brick"


DRIVER = """
import sys
from beam_predictor.twin.generate import generate
from test_channels_variants import SMALL
generate(sys.argv[1], SMALL, progress=False, workers=2)
"""


def test_a_killed_run_leaves_no_dataset_and_the_next_starts_clean(small, tmp_path):
    import subprocess
    import sys
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(out)], env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    partial = []
    while time.monotonic() < deadline and proc.poll() is None:
        partial = list(tmp_path.glob(".killed.partial-*/scenario.csv"))
        if partial and partial[0].read_text().count("\n") > 3:
            break
        time.sleep(0.05)
    assert partial and proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)          # the driver and everything it started
    proc.wait(timeout=30)
    assert not out.exists()                      # never a partial dataset under the target's name
    summary = generate(out, SMALL, progress=False)
    assert summary["frames"] == len(list(ScenarioReader(small)))
    assert tree(out) == tree(small) and not list(tmp_path.glob(".killed.partial-*"))


def test_twin_gps_cli(small, tmp_path, capsys):
    from beam_predictor.cli import main
    assert main(["twin-gps", str(small), "--preset", "standard", "--out", str(tmp_path / "std")]) == 0
    assert "GPS preset 'standard'" in capsys.readouterr().out
    meta = json.loads((tmp_path / "std" / "twin_meta.json").read_text())
    assert meta["config"]["gps"]["preset"] == "standard"
    with pytest.raises(FileExistsError):
        regps(small, tmp_path / "std", "rtk")
