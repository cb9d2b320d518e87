"""Bag replay schedule for the player node (rosbags reader; no rclpy).

Messages are handed out as their CDR bytes exactly as stored, so header stamps are the
original ones; the player publishes them raw.  The schedule maps bag time to wall time:
message at bag time t is due at wall w0 + (t - t0) / rate (rate 0: as fast as possible),
and the simulated clock at wall time w is t0 + (w - w0) * rate.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from beam_predictor import contract
from beam_predictor.bag.reader import BagError, open_bag


@dataclass
class BagMessage:
    topic: str
    msgtype: str
    time_ns: int        # the bag's log time
    raw: bytes


def bag_topics(path: str | Path) -> dict[str, str]:
    """topic -> message type of every connection in the bag."""
    reader = open_bag(Path(path))
    try:
        return {c.topic: c.msgtype for c in reader.connections}
    finally:
        reader.close()


def recorded_qos(path: str | Path) -> dict[str, contract.QoS]:
    """topic -> the QoS its publisher offered when the bag was recorded (the first offered
    profile, as ``ros2 bag play`` re-offers it); topics recorded without one are left out."""
    reader = open_bag(Path(path))
    try:
        out = {}
        for c in reader.connections:
            profiles = getattr(c.ext, "offered_qos_profiles", None) or []
            if not profiles or isinstance(profiles, str):
                continue
            q = profiles[0]
            out[c.topic] = contract.QoS(
                "reliable" if q.reliability.name == "RELIABLE" else "best_effort",
                "transient_local" if q.durability.name == "TRANSIENT_LOCAL" else "volatile",
                max(1, int(q.depth)))
        return out
    finally:
        reader.close()


def iter_messages(path: str | Path, start_offset_s: float = 0.0, topics=None) -> Iterator[BagMessage]:
    """Messages in log-time order from ``start_offset_s`` after the bag's start."""
    reader = open_bag(Path(path))
    try:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        start = reader.start_time + int(start_offset_s * 1e9)
        if start_offset_s and start >= reader.end_time:
            raise BagError(f"{path}: start offset {start_offset_s} s is past the bag's end")
        for conn, t, raw in reader.messages(connections=conns, start=start):
            yield BagMessage(conn.topic, conn.msgtype, t, bytes(raw))
    finally:
        reader.close()


class ReplaySchedule:
    def __init__(self, rate: float, t0_ns: int, wall0_s: float):
        if rate < 0:
            raise ValueError(f"rate {rate}: must be >= 0 (0 = as fast as possible)")
        self.rate, self.t0, self.wall0 = rate, t0_ns, wall0_s

    def due_wall(self, t_ns: int) -> float:
        return self.wall0 if self.rate == 0 else self.wall0 + (t_ns - self.t0) * 1e-9 / self.rate

    def rebase(self, wall_s: float, t_ns: int) -> None:
        """Lock-step: the message at ``t_ns`` could only go out at ``wall_s`` (the graph was busy); shift
        the schedule so the replay goes on at ``rate`` from there instead of rushing to catch up."""
        late = wall_s - self.due_wall(t_ns)
        if self.rate > 0 and late > 0:
            self.wall0 += late

    def clock_ns(self, wall_s: float, cap_ns: int) -> int:
        """Sim time at ``wall_s`` (never beyond ``cap_ns``, the next message's time)."""
        if self.rate == 0:
            return cap_ns
        return min(cap_ns, self.t0 + int((wall_s - self.wall0) * self.rate * 1e9))
