"""Twin realism: the motion model's physical limits and behaviours, and the GPS receiver model."""
import dataclasses

import numpy as np
import pytest

from beam_predictor.config import ConfigError
from beam_predictor.twin import motion
from beam_predictor.twin.config import GpsConfig, TrafficConfig, TwinConfig
from beam_predictor.twin.gps import GPS_PRESETS, receiver_track
from beam_predictor.twin.traffic import lane_direction, plan_pass

NAMES = [f"car_{i}" for i in range(1, 9)]


def plans(cfg, n=80):
    bs = np.asarray(cfg.array.position[:2])
    return [plan_pass(seq, cfg, NAMES, bs, np.random.default_rng([0, seq, 1]),
                      np.random.default_rng([0, seq, 8])) for seq in range(1, n + 1)], bs


def test_realistic_passes_stay_within_physical_limits():
    cfg = TwinConfig()
    tc = cfg.traffic
    drawn, bs = plans(cfg)
    behaviours = {p.behaviour for p in drawn}
    assert behaviours == {"constant", "speed_profile", "follow", "lane_change"}
    for p in drawn:
        for tr in p.tracks:
            if tr.path is None:
                continue
            vx = tr.path[:, 2]
            accel = np.diff(vx) * cfg.frame_rate_hz * np.sign(vx[0])
            assert accel.max() <= tc.max_accel_mps2 + 1e-6 and accel.min() >= -tc.max_decel_mps2 - 1e-6, p.seq
            assert (np.sign(vx) == lane_direction(tr.lane_y)).all() or (vx == 0).any()
        ue = p.ue
        if p.behaviour == "constant":
            assert ue.path is None
            continue
        speed = np.abs(ue.path[:, 2])
        if p.behaviour == "follow":
            lead = next(tr for tr in p.tracks if tr.role == "lead")
            gap = np.abs(lead.path[:, 0] - ue.path[:, 0]) - tc.vehicle_length_m
            assert gap.min() > 0.5 and lead.lane_y == ue.lane_y           # never drives into the lead
        if p.behaviour == "lane_change":
            y = ue.path[:, 1]
            assert np.all((y >= min(tc.lanes_y) - 1e-9) & (y <= max(tc.lanes_y) + 1e-9))
        assert speed.min() >= 0
        # the pass ends when the UE leaves the view (or at max_pass_s)
        end = ue.path[-1, 0] - bs[0]
        assert abs(end) == pytest.approx(abs(ue.x0 - bs[0]), abs=2.5) or len(ue.path) >= tc.max_pass_s * 10


def test_some_realistic_passes_are_not_constant_velocity():
    drawn, _ = plans(TwinConfig())
    peak = [np.abs(np.diff(p.ue.path[:, 2])).max() * 10 for p in drawn if p.ue.path is not None]
    assert np.mean(np.array(peak) > 1.0) > 0.5          # most moving passes accelerate by > 1 m/s^2


def test_blockers_on_speed_profiles_still_cross_the_line_of_sight():
    cfg = TwinConfig()
    drawn, bs = plans(cfg)
    crossings = 0
    for p in drawn:
        if p.behaviour == "constant":
            continue
        for tr in p.tracks:
            if tr.role != "blocker":
                continue
            gaps = []
            for k in range(p.num_frames):
                ux, uy = p.ue.state(k, k / 10)[:2]
                frac = (tr.lane_y - bs[1]) / (uy - bs[1])
                if 0 < frac < 1:
                    gaps.append(tr.state(k, k / 10)[0] - (bs[0] + (ux - bs[0]) * frac))
            if gaps and min(gaps) <= 0 <= max(gaps):
                crossings += 1
    assert crossings >= 10


def test_the_constant_preset_draws_the_constant_velocity_passes():
    cfg = TwinConfig(traffic=TrafficConfig(motion="constant"))
    bs = np.asarray(cfg.array.position[:2])
    for seq in range(1, 10):
        a = plan_pass(seq, cfg, NAMES, bs, np.random.default_rng([0, seq, 1]),
                      np.random.default_rng([0, seq, 8]))
        b = plan_pass(seq, cfg, NAMES, bs, np.random.default_rng([0, seq, 1]))
        assert a == b and a.behaviour == "constant"


def test_bad_motion_config_names_the_key():
    with pytest.raises(ConfigError, match="traffic.motion"):
        TrafficConfig(motion="aggressive")
    with pytest.raises(ConfigError, match="traffic.behaviours"):
        TrafficConfig(motion="custom", behaviours={"drifting": 1.0})
    assert TrafficConfig(motion="custom", behaviours={"follow": 1.0}).shares() == {"follow": 1.0}


def test_lane_change_is_smooth_and_ends_in_the_lane():
    t = np.linspace(0, 10, 1001)
    y, vy = motion.lane_change(t, 2.0, 4.0, -1.7, -5.0)
    assert y[0] == -1.7 and y[-1] == -5.0
    assert np.abs(np.diff(y)).max() < 0.02 and vy[0] == 0 and vy[-1] == 0
    np.testing.assert_allclose(np.gradient(y, t), vy, atol=1e-3)


def test_gps_presets_error_levels():
    east, north = np.linspace(-20, 20, 400), np.full(400, 6.3)
    err = {}
    for preset in GPS_PRESETS:
        track = receiver_track(east, north, GpsConfig(preset=preset), 10.0, np.random.default_rng(1))
        err[preset] = np.nanmedian(np.hypot(track.east_m - east, track.north_m - north))
        assert set(track.fix_type) <= {"3D", "2D", "NoFix"}
    assert err["rtk"] < 0.05 < 0.3 < err["standard"] < 5.0
    assert err["degraded"] > err["standard"]


def test_gps_latency_bias_and_dropouts():
    east, north = np.arange(100.0), np.zeros(100)
    late = receiver_track(east, north, GpsConfig(preset="custom", noise_m=0.0, latency_frames=3), 10.0,
                          np.random.default_rng(0))
    np.testing.assert_array_equal(late.east_m[3:], east[:-3])
    np.testing.assert_array_equal(late.east_m[:3], east[0])
    drift = receiver_track(np.zeros(4000), np.zeros(4000),
                           GpsConfig(preset="custom", noise_m=0.0, bias_m=2.0, bias_tau_s=5.0), 10.0,
                           np.random.default_rng(0))
    b = drift.east_m
    assert 1.5 < b.std() < 2.5
    lag1 = np.corrcoef(b[:-1], b[1:])[0, 1]
    assert lag1 == pytest.approx(np.exp(-0.1 / 5.0), abs=0.02)            # Gauss-Markov, tau = 5 s
    out = receiver_track(np.zeros(3000), np.zeros(3000), GpsConfig(preset="degraded"), 10.0,
                         np.random.default_rng(0))
    outage = ~np.isfinite(out.east_m)
    assert 0.05 < outage.mean() < 0.3
    assert (~out.written).any() and (out.written & outage).any()         # both kinds: no file and a NaN fix
    assert all(f == "NoFix" for f, o in zip(out.fix_type, outage) if o)


def test_unknown_gps_preset_names_the_key():
    with pytest.raises(ConfigError, match="gps.preset"):
        GpsConfig(preset="survey")
    with pytest.raises(ConfigError, match="scene"):
        dataclasses.replace(TwinConfig(), scene="moon")


def test_a_field_the_gps_preset_fixes_cannot_be_set_silently():
    with pytest.raises(ConfigError, match="gps.noise_m.*preset 'standard'"):
        GpsConfig(preset="standard", noise_m=0.05)
    assert GpsConfig(preset="custom", noise_m=0.05).noise_m == 0.05
    assert GpsConfig(preset="standard", noise_m=0.3).preset == "standard"      # the preset's own value
