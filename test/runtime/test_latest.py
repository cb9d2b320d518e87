"""The newest-frame worker: a busy stage skips stale frames, counts them, and survives a bad one."""
import threading
import time

from beam_predictor.runtime.latest import LatestWorker


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert cond()


def test_frames_replaced_while_busy_are_skipped_and_counted():
    release, handled = threading.Event(), []

    def handle(item):
        if item == 0:
            release.wait(10.0)                 # the model is busy with frame 0 ...
        handled.append(item)

    w = LatestWorker(handle, "test")
    w.put(0)
    wait_for(lambda: w._has_item is False)     # frame 0 taken
    for i in (1, 2, 3):                        # ... while frames 1, 2, 3 arrive
        w.put(i)
    release.set()
    wait_for(lambda: w.done == 2)
    assert handled == [0, 3] and w.stale == 2
    w.stop()
    assert not w._thread.is_alive()


def test_a_failing_frame_is_counted_and_the_next_one_runs():
    handled = []

    def handle(item):
        if item == "bad":
            raise ValueError("malformed")
        handled.append(item)

    w = LatestWorker(handle, "test")
    w.put("bad")
    wait_for(lambda: w.done == 1)
    w.put("good")
    wait_for(lambda: w.done == 2)
    assert handled == ["good"] and w.errors == 1 and w.stale == 0
    w.stop()
