"""Calibration-free UE association: the largest moving track, sticky, lost when nothing moves."""
import numpy as np
import pytest

from beam_predictor.sensing.association import MovingTrackAssociator, MovingTrackConfig


def box(tid, x, y=100.0, w=60.0, h=30.0, conf=0.9):
    """A tracked box row (x0, y0, x1, y1, conf, track_id) centred at (x, y)."""
    return [x - w / 2, y - h / 2, x + w / 2, y + h / 2, conf, tid]


PARKED = [box(1, 100, 60, w=200, h=100), box(2, 500, 40, w=40, h=20)]    # 1 is larger than the UE


def run(assoc, frames):
    return [assoc.update(np.array(f, dtype=float).reshape(-1, 6), None) for f in frames]


def test_moving_car_chosen_among_larger_parked_cars():
    a = MovingTrackAssociator()
    out = run(a, [PARKED + [box(3, 200 + 8 * t)] for t in range(12)])
    assert out[0].lost and out[0].track_id == -1                  # no motion history yet
    assert all(o.track_id == 3 and not o.lost for o in out[1:])
    assert a.track_id == 3
    assert out[-1].cx == 200 + 8 * 11 and out[-1].w == 60 and out[-1].conf == 0.9


def test_unconfirmed_moving_box_is_ignored():
    a = MovingTrackAssociator()
    out = run(a, [PARKED + [box(-1, 200 + 8 * t)] for t in range(8)])
    assert all(o.lost for o in out) and a.track_id is None


def test_transient_larger_passing_truck_does_not_steal():
    a = MovingTrackAssociator(MovingTrackConfig(switch_frames=10))
    frames = [PARKED + [box(3, 200 + 8 * t)] for t in range(5)]
    # a truck five times larger drives past in front for 8 frames (< switch_frames)
    frames += [PARKED + [box(3, 240 + 8 * t), box(7, 100 + 30 * t, 150, w=150, h=60)] for t in range(8)]
    frames += [PARKED + [box(3, 304 + 8 * t)] for t in range(3)]
    out = run(a, frames)
    assert [o.track_id for o in out[1:]] == [3] * (len(frames) - 1)
    assert not any(o.lost for o in out[1:])


def test_persistently_larger_moving_track_takes_over_after_switch_frames():
    a = MovingTrackAssociator(MovingTrackConfig(switch_frames=4))
    frames = [PARKED + [box(3, 200 + 8 * t)] for t in range(4)]
    frames += [PARKED + [box(3, 232 + 8 * t), box(7, 100 + 30 * t, 150, w=150, h=60)] for t in range(8)]
    ids = [o.track_id for o in run(a, frames)]
    # frames 4-5 build the truck's motion history; it out-sizes the UE from frame 5, 4 frames to switch
    assert ids[1:8] == [3] * 7 and ids[8:] == [7] * 4


def test_lost_when_nothing_moves():
    a = MovingTrackAssociator()
    out = run(a, [PARKED + [box(3, 300)] for _ in range(10)])
    assert all(o.lost and o.conf == 0.0 and o.track_id == -1 for o in out)
    assert a.track_id is None


def test_ue_that_stops_is_lost_after_recent_frames():
    a = MovingTrackAssociator(MovingTrackConfig(recent_frames=3))
    frames = [PARKED + [box(3, 200 + 8 * t)] for t in range(6)]
    frames += [PARKED + [box(3, 240)] for _ in range(8)]
    out = run(a, frames)
    assert all(o.track_id == 3 and not o.lost for o in out[1:8])
    last = out[-1]
    assert last.lost and last.conf == 0.0 and last.track_id == 3 and last.cx == 240   # last box kept
    assert a.track_id is None


def test_occluded_ue_reported_lost_then_kept_when_its_id_returns():
    a = MovingTrackAssociator(MovingTrackConfig(hold_frames=5))
    frames = [PARKED + [box(3, 200 + 8 * t)] for t in range(6)]
    # the UE is hidden by a (moving, much larger) truck for 3 frames, then reappears with its id
    frames += [PARKED + [box(7, 250 + 10 * t, 110, w=200, h=90)] for t in range(3)]
    frames += [PARKED + [box(3, 272 + 8 * t), box(7, 280 + 10 * t, 110, w=200, h=90)] for t in range(3)]
    out = run(a, frames)
    assert [o.track_id for o in out[6:9]] == [3, 3, 3] and all(o.lost for o in out[6:9])
    assert [o.track_id for o in out[9:]] == [3, 3, 3] and not any(o.lost for o in out[9:])


def test_ue_with_a_new_id_where_it_should_be_succeeds_it():
    a = MovingTrackAssociator()
    frames = [PARKED + [box(3, 200 + 8 * t)] for t in range(6)]
    frames += [PARKED] * 2                                           # UE missed by the detector
    frames += [PARKED + [box(9, 264 + 8 * t)] for t in range(3)]     # ... then back as track 9
    out = run(a, frames)
    assert all(o.lost for o in out[6:8])
    assert [o.track_id for o in out[8:]] == [9, 9, 9] and not any(o.lost for o in out[8:])


def test_a_far_new_track_does_not_succeed_a_missing_ue():
    a = MovingTrackAssociator(MovingTrackConfig(hold_frames=5))
    frames = [PARKED + [box(3, 200 + 8 * t)] for t in range(6)]
    frames += [PARKED + [box(9, 600, 150)] for _ in range(3)]        # new, static, elsewhere
    out = run(a, frames)
    assert all(o.lost and o.track_id == 3 for o in out[6:])


def test_a_parked_car_where_the_ue_vanished_does_not_succeed_it():
    a = MovingTrackAssociator(MovingTrackConfig(hold_frames=5))
    parked = PARKED + [box(4, 262)]                                  # same size, right where the UE goes
    frames = [parked + [box(3, 200 + 8 * t)] for t in range(6)] + [parked] * 3
    out = run(a, frames)
    assert all(o.track_id == 3 and not o.lost for o in out[1:6])
    assert all(o.lost and o.track_id == 3 for o in out[6:])


def test_reset_forgets_association_and_history():
    a = MovingTrackAssociator()
    run(a, [PARKED + [box(3, 200 + 8 * t)] for t in range(6)])
    assert a.track_id == 3
    a.reset()
    assert a.track_id is None and a.last.lost and a.last.track_id == -1
    # without the old history, the UE's next box alone is not motion
    first = a.update(np.array(PARKED + [box(3, 248)]), None)
    assert first.lost and first.track_id == -1
    assert a.update(np.array(PARKED + [box(3, 256)]), None).track_id == 3


def test_ue_pixel_is_ignored_and_empty_frames_are_fine():
    a, b = MovingTrackAssociator(), MovingTrackAssociator()
    frames = [PARKED + [box(3, 200 + 8 * t)] for t in range(5)]
    for f in frames:
        with_px = a.update(np.array(f), (500.0, 40.0))
        without = b.update(np.array(f), None)
        assert with_px == without
    assert a.update(np.zeros((0, 6)), None).lost


@pytest.mark.parametrize("bad", [dict(window=0), dict(min_age=0), dict(switch_ratio=0.5),
                                 dict(min_motion=-1.0), dict(forget_frames=2), dict(reid_area=0.5)])
def test_config_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        MovingTrackConfig(**bad)
