"""The player's fault injection (runtime/inject.py): plans, and the faulty messages it writes."""
import re

import numpy as np
import pytest

from beam_predictor import contract
from beam_predictor.bag import messages as codec
from beam_predictor.bag.convert import ConvertConfig, convert
from beam_predictor.runtime.inject import Fault, FaultInjector, parse_faults
from beam_predictor.runtime.replay import bag_topics, iter_messages
from beam_predictor.sensing.config import LidarPrepConfig, RadarPrepConfig
from beam_predictor.sensing.preprocess import prep_lidar, prep_radar


@pytest.fixture(scope="module")
def bag(make_scenario, tmp_path_factory):
    out = tmp_path_factory.mktemp("inject") / "bag"
    convert(make_scenario(), out, ConvertConfig(), progress=False)
    return out


def test_plans_parse_and_bad_plans_name_the_item(bag):
    topics = bag_topics(bag)
    plan = parse_faults(f"silent:{contract.RADAR.name}@1+0.5, clock_stop@0.2+1,"
                        f"nan:{contract.UE_GPS.name}@0+9", topics)
    assert plan == (Fault("silent", contract.RADAR.name, 1.0, 0.5), Fault("clock_stop", "", 0.2, 1.0),
                    Fault("nan", contract.UE_GPS.name, 0.0, 9.0))
    assert parse_faults("") == ()
    for bad, says in (("silent@1+2", "silent needs a topic"), ("clock_stop:/x@1+2", "takes no topic"),
                      ("melt:/x@1+2", "'melt:/x@1+2' is not KIND"), ("silent:/x@1", "is not KIND"),
                      ("silent:/nowhere@1+2", "has no topic /nowhere"),
                      (f"nan:{contract.CAMERA.name}@0+1", "nan applies to")):
        with pytest.raises(ValueError, match=re.escape(says)):
            parse_faults(bad, topics)


def apply(bag, plan: str, passes: int = 1):
    inj = FaultInjector(parse_faults(plan, bag_topics(bag)))
    out = []
    for _ in range(passes):
        inj.new_pass()
        out.append([(m, inj.message(m.topic, m.msgtype, m.time_ns, m.raw)) for m in iter_messages(bag)])
    return inj, out


def test_silent_drops_the_window_of_the_first_pass_only(bag):
    inj, (first, second) = apply(bag, f"silent:{contract.RADAR.name}@0.1+0.2", passes=2)
    t0 = first[0][0].time_ns
    radar = [(m.time_ns - t0, raw) for m, raw in first if m.topic == contract.RADAR.name]
    dropped = [t for t, raw in radar if raw is None]
    assert dropped and all(1e8 <= t < 3e8 for t in dropped)
    assert len(dropped) == sum(1 for t, _ in radar if 1e8 <= t < 3e8)
    assert all(raw == m.raw for m, raw in first if m.topic != contract.RADAR.name)
    assert all(raw == m.raw for m, raw in second)                   # a looped pass is intact
    assert f"{len(dropped)} messages" in inj.summary()


TOUCHED = {t.name for t in (contract.CAMERA, contract.UE_GPS, contract.LIDAR, contract.RADAR)}


def test_empty_and_nan_payloads_are_what_the_encoders_reject(bag):
    store = codec.typestore()
    plan = ",".join(f"{kind}:{topic.name}@0+100" for kind, topic in
                    (("empty", contract.CAMERA), ("nan", contract.UE_GPS), ("empty", contract.LIDAR),
                     ("nan", contract.RADAR)))
    _, (msgs,) = apply(bag, plan)
    seen = set()
    for m, raw in msgs:
        if m.topic not in TOUCHED:
            continue
        msg = store.deserialize_cdr(raw, m.msgtype)
        orig = store.deserialize_cdr(m.raw, m.msgtype)
        assert msg.header.stamp == orig.header.stamp
        seen.add(m.topic)
        if m.topic == contract.CAMERA.name:
            assert len(msg.data) == 0
        elif m.topic == contract.UE_GPS.name:
            assert np.isnan(codec.latlon(msg)).all()
        elif m.topic == contract.LIDAR.name:
            assert codec.lidar_points(msg).shape == (0, 4)
            assert prep_lidar(codec.lidar_points(msg), LidarPrepConfig()).reason == "empty point cloud"
        else:
            assert np.isnan(codec.radar_cube(msg)).all()
            assert prep_radar(codec.radar_cube(msg), RadarPrepConfig()).missing
    assert len(seen) == 4


def test_an_empty_radar_cube_is_missing_with_a_reason(bag):
    _, (msgs,) = apply(bag, f"empty:{contract.RADAR.name}@0+100")
    store = codec.typestore()
    m, raw = next((m, raw) for m, raw in msgs if m.topic == contract.RADAR.name)
    cube = codec.radar_cube(store.deserialize_cdr(raw, m.msgtype))
    assert cube.size == 0
    assert "empty radar cube" in prep_radar(cube, RadarPrepConfig()).reason


def test_clock_stop_holds_the_clock_in_its_window():
    inj = FaultInjector((Fault("clock_stop", "", 1.0, 2.0),))
    inj.new_pass()
    held = [inj.clock_stopped(int(t * 1e9)) for t in (0.0, 0.5, 1.0, 2.9, 3.0, 5.0)]
    assert held == [False, False, True, True, False, False]
    inj.new_pass()
    assert not inj.clock_stopped(int(1.5e9))
    assert "2 /clock publications held" in inj.summary()
