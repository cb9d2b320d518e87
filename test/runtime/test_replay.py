import pytest

from beam_predictor.bag.convert import ConvertConfig, convert
from beam_predictor.bag.reader import BagError
from beam_predictor.runtime.replay import ReplaySchedule, bag_topics, iter_messages


def test_schedule_maps_bag_time_to_wall_time():
    s = ReplaySchedule(rate=2.0, t0_ns=10_000_000_000, wall0_s=100.0)
    assert s.due_wall(11_000_000_000) == pytest.approx(100.5)
    assert s.clock_ns(100.25, cap_ns=10_900_000_000) == 10_500_000_000
    assert s.clock_ns(101.0, cap_ns=10_900_000_000) == 10_900_000_000        # never ahead of the next message
    fast = ReplaySchedule(rate=0.0, t0_ns=0, wall0_s=5.0)
    assert fast.due_wall(7_000_000_000) == 5.0 and fast.clock_ns(9.0, cap_ns=7) == 7
    with pytest.raises(ValueError):
        ReplaySchedule(-1.0, 0, 0.0)


def test_messages_come_in_order_with_offset(make_scenario, tmp_path):
    bag = tmp_path / "bag"
    convert(make_scenario(), bag, ConvertConfig(), progress=False)
    topics = bag_topics(bag)
    assert topics["/bs/camera/image/compressed"] == "sensor_msgs/msg/CompressedImage"
    msgs = list(iter_messages(bag))
    times = [m.time_ns for m in msgs]
    assert times == sorted(times) and all(isinstance(m.raw, bytes) and m.raw for m in msgs)
    later = list(iter_messages(bag, start_offset_s=0.25))
    assert later and later[0].time_ns >= times[0] + 250_000_000
    with pytest.raises(BagError, match="past the bag's end"):
        list(iter_messages(bag, start_offset_s=1e6))


def test_lockstep_rebase_continues_at_rate_after_a_wait():
    s = ReplaySchedule(rate=1.0, t0_ns=0, wall0_s=100.0)
    s.rebase(100.05, 100_000_000)               # on time: nothing moves
    assert s.due_wall(100_000_000) == pytest.approx(100.1)
    s.rebase(100.4, 100_000_000)                # the graph held frame 1 until 100.4 s
    assert s.due_wall(100_000_000) == pytest.approx(100.4)
    assert s.due_wall(200_000_000) == pytest.approx(100.5)     # then one period later, not at once
    fast = ReplaySchedule(rate=0.0, t0_ns=0, wall0_s=5.0)
    fast.rebase(9.0, 100)
    assert fast.due_wall(100) == 5.0            # as fast as possible stays so
