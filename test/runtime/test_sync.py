from beam_predictor.runtime.sync import StampSynchronizer

MS = 1_000_000


def make():
    return StampSynchronizer(("a", "b", "box"), tolerance_ns=5 * MS,
                             max_wait_ns=100 * MS, restart_ns=1000 * MS)


def test_complete_set_is_emitted_at_once():
    s = make()
    assert s.add("a", 100 * MS, 1, now_ns=0) == []
    assert s.add("b", 102 * MS, 2, now_ns=1) == []          # within tolerance: same frame
    out = s.add("box", 99 * MS, 3, now_ns=2)
    assert len(out) == 1 and out[0].complete and out[0].items == {"a": 1, "b": 2, "box": 3}


def test_silent_modality_times_out_instead_of_blocking():
    s = make()
    s.add("a", 100 * MS, 1, now_ns=0)
    s.add("box", 100 * MS, 3, now_ns=0)
    assert s.poll(now_ns=50 * MS) == []
    out = s.poll(now_ns=100 * MS)
    assert len(out) == 1 and not out[0].complete and out[0].missing(s.keys) == ["b"]
    assert s.stats.missing_by_key["b"] == 1


def test_newer_complete_set_flushes_older_partial_ones_in_order():
    s = make()
    s.add("a", 100 * MS, 1, now_ns=0)
    for k in ("a", "b", "box"):
        out = s.add(k, 200 * MS, 2, now_ns=1)
    assert [x.stamp_ns for x in out] == [100 * MS, 200 * MS]
    assert [x.complete for x in out] == [False, True]


def test_out_of_order_items_are_dropped_and_counted():
    s = make()
    for k in ("a", "b", "box"):
        s.add(k, 200 * MS, 0, now_ns=0)
    assert s.add("a", 150 * MS, 0, now_ns=1) == []          # older than what was already emitted
    assert s.stats.late == 1 and s.pending == []


def test_stamps_jumping_back_restart_the_synchronizer():
    s = make()
    for k in ("a", "b", "box"):
        s.add(k, 5000 * MS, 0, now_ns=0)
    for k in ("a", "b"):
        s.add(k, 100 * MS, 0, now_ns=1)
    out = s.add("box", 100 * MS, 0, now_ns=2)
    assert s.stats.restarts == 1 and len(out) == 1 and out[0].stamp_ns == 100 * MS


def test_next_deadline_is_the_oldest_pending_frame_timing_out():
    s = make()
    assert s.next_deadline_ns() is None
    s.add("a", 100 * MS, 1, now_ns=7 * MS)
    s.add("a", 200 * MS, 1, now_ns=30 * MS)
    assert s.next_deadline_ns() == 107 * MS
    s.poll(now_ns=107 * MS)
    assert s.next_deadline_ns() == 130 * MS
    s.poll(now_ns=130 * MS)
    assert s.next_deadline_ns() is None


def test_a_key_silent_for_three_sets_stops_delaying_frames_until_it_returns():
    s = make()
    now = 0
    for i in range(3):                                    # b dies: three frames wait max_wait for it
        t = (100 + 100 * i) * MS
        s.add("a", t, 1, now_ns=now)
        assert s.add("box", t, 3, now_ns=now) == []
        now += 100 * MS
        assert len(s.poll(now_ns=now)) == 1
    assert s.silent() == {"b"}
    s.add("a", 400 * MS, 1, now_ns=now)
    out = s.add("box", 400 * MS, 3, now_ns=now)           # no wait now
    assert len(out) == 1 and out[0].missing(s.keys) == ["b"] and s.stats.presumed_silent == 1
    s.add("b", 500 * MS, 2, now_ns=now)                   # b is back: the next frame waits for it again
    assert s.silent() == set()
    s.add("a", 500 * MS, 1, now_ns=now)
    out = s.add("box", 500 * MS, 3, now_ns=now)
    assert len(out) == 1 and out[0].complete
    s.add("a", 600 * MS, 1, now_ns=now)
    assert s.add("box", 600 * MS, 3, now_ns=now) == []    # waits for b
    assert s.stats.missing_by_key["b"] == 4


def test_silent_after_zero_always_waits():
    s = StampSynchronizer(("a", "b"), 5 * MS, 100 * MS, silent_after=0)
    for i in range(5):
        s.add("a", (100 + 100 * i) * MS, 1, now_ns=i * 200 * MS)
        assert s.poll(now_ns=i * 200 * MS + 99 * MS) == []
        assert len(s.poll(now_ns=i * 200 * MS + 100 * MS)) == 1
    assert s.silent() == set()
