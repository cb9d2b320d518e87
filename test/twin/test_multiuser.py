"""Multi-user twin passes (paper 003): other users' units, per-user PASS links, the bag contract."""
import numpy as np
import pytest

from beam_predictor import contract as C
from beam_predictor.bag.convert import convert
from beam_predictor.bag.reader import BagFrameReader
from beam_predictor.config import ConfigError
from beam_predictor.deepsense.reader import ScenarioReader
from beam_predictor.twin.config import CameraConfig, LidarConfig, PinchingConfig, TrafficConfig, TwinConfig
from beam_predictor.twin.generate import generate
from beam_predictor.twin.traffic import plan_pass

TRAFFIC = dict(pass_half_angle_deg=15.0, speed_mps=(15.0, 20.0))
MULTI = TwinConfig(
    passes=2, camera=CameraConfig(width=64, height=36), lidar=LidarConfig(channels=4, points_per_channel=32),
    traffic=TrafficConfig(extra_ues=2, **TRAFFIC), split=(0.5, 0.5, 0.0),
    pinching=PinchingConfig(pas_grid=(4, 8)))


@pytest.fixture(scope="module")
def multi_twin(tmp_path_factory):
    out = tmp_path_factory.mktemp("twin_mu") / "scenario"
    generate(out, MULTI, progress=False)
    return out


def test_other_users_have_units_links_and_survive_the_bag(multi_twin, tmp_path):
    frames = list(ScenarioReader(multi_twin))
    assert frames and all(set(f.users_latlon) == {3, 4} for f in frames)
    assert sum(f.users_latlon[3] is not None for f in frames) == len(frames)     # RTK: a fix every frame
    f = frames[len(frames) // 2]
    assert {"unit3_x", "unit4_bbox", "unit3_mode_fix_type"} <= set(f.extras)
    mu = np.load(multi_twin / f.extras["unit1_pass_mu"].lstrip("./"))
    assert mu.shape == (2, 3, 4, 32) and mu.dtype == np.complex64
    # the UE through waveguide 0 at the single-user PA count is the single-user channel
    single = np.load(multi_twin / f.extras["unit1_pass"].lstrip("./"))
    np.testing.assert_allclose(mu[0, 0, 0], single, rtol=1e-5)
    ch = np.load(multi_twin / f.extras["unit1_channel_mu"].lstrip("./"))
    assert ch.shape == (3, 16)
    # the carrier's channel: the subcarriers' mean of its per-subcarrier channel would be far weaker
    ofdm = np.load(multi_twin / f.extras["unit1_channel_ofdm"].lstrip("./"))
    assert np.abs(ch[0]).mean() > 2 * np.abs(ofdm.mean(0)).mean()
    # users stand where their own lanes are, and their fixes follow them
    ys = {float(fr.extras["unit3_y"]) for fr in frames if fr.seq_index == 1}
    assert len(ys) == 1 and ys != {float(f.extras["ue_y"])}
    back = list(BagFrameReader(convert(multi_twin, tmp_path / "bag", progress=False).bag))
    for a, b in zip(frames, back):
        assert set(a.users_latlon) == set(b.users_latlon)
        for unit in a.users_latlon:
            np.testing.assert_array_equal(a.users_latlon[unit], b.users_latlon[unit])
    assert C.USER_GPS_TOPICS[3].name == "/ue3/gps/fix"


def test_other_users_leave_the_single_user_passes_alone():
    from types import SimpleNamespace
    names = [f"car_{i}" for i in range(1, 12)]
    single = TwinConfig(traffic=TrafficConfig(**TRAFFIC))
    for seq in range(1, 6):
        a = plan_pass(seq, single, names, (0.0, -8.0), np.random.default_rng([0, seq, 1]))
        b = plan_pass(seq, MULTI, names, (0.0, -8.0), np.random.default_rng([0, seq, 1]),
                      users_rng=np.random.default_rng([0, seq, 9]))
        assert a.ue == b.ue and len(b.users) == 3
        lanes = [tr.lane_y for tr in b.users]
        assert len(set(lanes)) == 3                                    # a lane each
        blockers = [tr for tr in b.tracks if tr.role == "blocker"]
        assert not {tr.lane_y for tr in blockers} & set(lanes)
    with pytest.raises(ConfigError, match="4 users but 3 waveguides"):
        TwinConfig(traffic=TrafficConfig(extra_ues=3), pinching=PinchingConfig(num_waveguides=3))
    with pytest.raises(ConfigError, match="extra_ues"):
        plan_pass(1, SimpleNamespace(**{**vars(MULTI), "traffic": TrafficConfig(extra_ues=4, **TRAFFIC)}),
                  names, (0.0, -8.0), np.random.default_rng(0))


def test_regps_redraws_every_users_fixes(multi_twin, tmp_path):
    from dataclasses import replace

    from beam_predictor.twin.config import GpsConfig
    from beam_predictor.twin.variants import regps
    regps(multi_twin, tmp_path / "derived", "degraded")
    direct = tmp_path / "direct"
    generate(direct, replace(MULTI, gps=GpsConfig(preset="degraded")), progress=False)
    assert (tmp_path / "derived" / "scenario.csv").read_text() == (direct / "scenario.csv").read_text()
    for unit in (2, 3, 4):
        made = sorted(p.name for p in (direct / f"unit{unit}" / "GPS_data").iterdir())
        derived = tmp_path / "derived" / f"unit{unit}" / "GPS_data"
        assert made and made == sorted(p.name for p in derived.iterdir())
        first = made[len(made) // 2]
        assert ((direct / f"unit{unit}" / "GPS_data" / first).read_bytes()
                == (tmp_path / "derived" / f"unit{unit}" / "GPS_data" / first).read_bytes())
