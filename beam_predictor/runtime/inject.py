"""Fault injection for the bag player (parameter ``faults``): what ``make faults`` and the live
fault tests replay into the graph.

A plan is a comma-separated list of ``KIND[:TOPIC]@START+DURATION``; START and DURATION are
seconds of bag time after the bag's first message, and a fault applies to the first pass of
the bag only (with ``loop`` the later passes replay it intact, so a test sees the recovery):

* ``silent:/bs/radar/cube@10+5``: the topic's messages in [10 s, 15 s) are not published
  (a sensor that dies and comes back);
* ``empty:TOPIC@...``: a zero-size payload with the original header: a CompressedImage with
  no bytes, a 0 x 0 Image, a PointCloud2 of 0 points, a NavSatFix without a fix, a LaserScan
  without ranges;
* ``nan:TOPIC@...``: NaN in the payload: NavSatFix latitude and longitude, every float of an
  Image or PointCloud2 (all data bytes 0xFF, a float32 NaN), every LaserScan range;
* ``clock_stop@20+5``: no /clock in that window while the sensor topics go on (a clock
  source that hangs).

Stamps that jump backwards are the player's ``loop``: every pass repeats the stamps of the
first.  The messages are rewritten through the rosbags typestore (CDR in, CDR out), so a
faulty message is exactly what a faulty driver would publish.  No rclpy here.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beam_predictor import contract

KINDS = ("silent", "empty", "nan", "clock_stop")
_SPEC = re.compile(r"^(?P<kind>[a-z_]+)(?::(?P<topic>/[^@]+))?@(?P<start>[0-9.]+)\+(?P<dur>[0-9.]+)$")
_NAN_TYPES = ("sensor_msgs/msg/NavSatFix", "sensor_msgs/msg/Image", "sensor_msgs/msg/PointCloud2",
              "sensor_msgs/msg/LaserScan")


@dataclass(frozen=True)
class Fault:
    kind: str
    topic: str            # "" for clock_stop
    start_s: float
    duration_s: float

    def active(self, offset_ns: int) -> bool:
        start = round(self.start_s * 1e9)
        return start <= offset_ns < start + round(self.duration_s * 1e9)


def parse_faults(text: str, topics: dict[str, str] | None = None) -> tuple[Fault, ...]:
    """The plan of the ``faults`` parameter; ``topics`` (topic -> type, the bag's) checks the topics."""
    faults = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        m = _SPEC.match(item)
        if m is None or m["kind"] not in KINDS:
            raise ValueError(f"parameter faults: '{item}' is not KIND[:TOPIC]@START+DURATION with KIND one "
                             f"of {KINDS} (e.g. silent:{contract.RADAR.name}@10+5)")
        kind, topic = m["kind"], m["topic"] or ""
        if (kind == "clock_stop") == bool(topic):
            raise ValueError(f"parameter faults: '{item}': "
                             + ("clock_stop takes no topic" if topic else f"{kind} needs a topic"))
        if topics is not None and topic and topic not in topics:
            raise ValueError(f"parameter faults: '{item}': the bag has no topic {topic} "
                             f"(it has {sorted(topics)})")
        if topics is not None and kind == "nan" and topics[topic] not in _NAN_TYPES:
            raise ValueError(f"parameter faults: '{item}': nan applies to {_NAN_TYPES}, not {topics[topic]}")
        faults.append(Fault(kind, topic, float(m["start"]), float(m["dur"])))
    return tuple(faults)


def _empty(msg, msgtype: str):
    none = np.zeros(0, np.uint8)
    if msgtype == "sensor_msgs/msg/CompressedImage":
        return dataclasses.replace(msg, data=none)
    if msgtype == "sensor_msgs/msg/Image":
        return dataclasses.replace(msg, height=0, width=0, step=0, data=none)
    if msgtype == "sensor_msgs/msg/PointCloud2":
        return dataclasses.replace(msg, height=1, width=0, row_step=0, data=none)
    if msgtype == "sensor_msgs/msg/NavSatFix":
        status = dataclasses.replace(msg.status, status=msg.status.STATUS_NO_FIX)
        return dataclasses.replace(msg, status=status)
    if msgtype == "sensor_msgs/msg/LaserScan":
        return dataclasses.replace(msg, ranges=np.zeros(0, np.float32), intensities=np.zeros(0, np.float32))
    raise ValueError(f"fault 'empty' is not defined for {msgtype}")


def _nan(msg, msgtype: str):
    if msgtype == "sensor_msgs/msg/NavSatFix":
        return dataclasses.replace(msg, latitude=float("nan"), longitude=float("nan"))
    if msgtype in ("sensor_msgs/msg/Image", "sensor_msgs/msg/PointCloud2"):
        return dataclasses.replace(msg, data=np.full(len(msg.data), 0xFF, np.uint8))
    if msgtype == "sensor_msgs/msg/LaserScan":
        return dataclasses.replace(msg, ranges=np.full(len(msg.ranges), np.nan, np.float32))
    raise ValueError(f"fault 'nan' is not defined for {msgtype}")


class FaultInjector:
    """Applies a plan to the player's messages, in bag-time order."""

    def __init__(self, faults: tuple[Fault, ...]):
        self.faults = faults
        self.t0: int | None = None
        self.passes = 0
        self.counts = {f: 0 for f in faults}          # messages each fault touched
        self._store = None

    def new_pass(self) -> None:
        self.passes += 1

    def _active(self, t_ns: int, topic: str):
        if self.t0 is None:
            self.t0 = t_ns
        if self.passes > 1:
            return []
        return [f for f in self.faults if f.topic == topic and f.active(t_ns - self.t0)]

    def clock_stopped(self, t_ns: int) -> bool:
        """Whether a /clock at bag time ``t_ns`` is held back (counted per publication held)."""
        active = self._active(t_ns, "")
        for f in active:
            self.counts[f] += 1
        return bool(active)

    def message(self, topic: str, msgtype: str, t_ns: int, raw: bytes) -> bytes | None:
        """The CDR bytes to publish for this message, None to drop it."""
        active = self._active(t_ns, topic)
        if not active:
            return raw
        for f in active:
            self.counts[f] += 1
        if any(f.kind == "silent" for f in active):
            return None
        if self._store is None:
            from beam_predictor.bag.messages import typestore
            self._store = typestore()
        msg = self._store.deserialize_cdr(raw, msgtype)
        for f in active:
            msg = _empty(msg, msgtype) if f.kind == "empty" else _nan(msg, msgtype)
        return bytes(self._store.serialize_cdr(msg, msgtype))

    def summary(self) -> str:
        return ", ".join(f"{f.kind}{':' + f.topic if f.topic else ''}@{f.start_s:g}+{f.duration_s:g}: "
                         f"{n} {'/clock publications held' if f.kind == 'clock_stop' else 'messages'}"
                         for f, n in self.counts.items())


def suite_plan(bag: str | Path, silent_s: float = 5.0, slot_s: float = 0.5) -> str:
    """The fault suite's plan for ``bag``, placed by its passes (camera frames split at gaps over 1 s):

    * the radar silent for ``silent_s`` (at most the longest pass less 1.5 s), from 0.9 s into the
      longest pass, so the pass has history before and frames after;
    * in another pass (the longest one else; the same one when there is one pass, before the
      silence): a NaN GPS fix, a zero-size camera image, a 0-point cloud and a NaN radar cube,
      one after the other, ``slot_s`` each, from 0.5 s in; and /clock stopped for that whole pass."""
    from beam_predictor.runtime.replay import iter_messages
    times = [m.time_ns for m in iter_messages(bag, topics={contract.CAMERA.name})]
    if not times:
        raise ValueError(f"{bag}: no {contract.CAMERA.name} messages to place the faults by")
    passes, t0 = [[times[0]]], times[0]
    for t in times[1:]:
        if t - passes[-1][-1] > 1_000_000_000:
            passes.append([])
        passes[-1].append(t)
    span = [((p[0] - t0) * 1e-9, (p[-1] - t0) * 1e-9) for p in passes]
    longest = max(range(len(span)), key=lambda i: span[i][1] - span[i][0])
    others = [i for i in range(len(span)) if i != longest]
    slots = ("nan:" + contract.UE_GPS.name, "empty:" + contract.CAMERA.name, "empty:" + contract.LIDAR.name,
             "nan:" + contract.RADAR.name)
    if others:
        second = max(others, key=lambda i: span[i][1] - span[i][0])
        start, end = span[second]
        slot = min(slot_s, max(0.1, (end - start - 0.5) / len(slots)))
        silent_from = span[longest][0] + 0.9
    else:                      # one pass: the slots first, then the silence
        start, end = span[longest]
        slot = slot_s
        silent_from = start + 0.5 + len(slots) * slot + 0.9
    silent = min(silent_s, span[longest][1] - silent_from - 0.6)
    if silent <= 0:
        raise ValueError(f"{bag}: its longest pass ({span[longest][1] - span[longest][0]:.1f} s) is too "
                         "short for the fault suite")
    plan = [f"clock_stop@{start:.2f}+{end - start + 0.05:.2f}"]
    plan += [f"{kind}@{start + 0.5 + i * slot:.2f}+{slot:.2f}" for i, kind in enumerate(slots)]
    plan.append(f"silent:{contract.RADAR.name}@{silent_from:.2f}+{silent:.2f}")
    return ",".join(plan)


def fault_replay(bag: str | Path, report: str | Path, faults: str, passes: int = 2, wait: float = 3.0):
    """The graph's node specs replaying ``bag`` lock-step with ``faults`` injected into the first of
    ``passes`` passes; the synchronizers wait ``wait`` s for a frame's inputs (until they presume a
    silent one dead) and the player twice that for its acknowledgement."""
    from beam_predictor.runtime.graph import build_graph, with_parameters
    return with_parameters(build_graph({"bag": str(bag), "rate": "1.0", "lockstep": "true"}), {
        "beamformer": {"report": str(report)}, "llm_fusion": {"max_wait": wait},
        "yolo_tracker": {"max_wait": wait},
        "bag_player": {"faults": faults, "loop": passes > 1, "loop_passes": passes,
                       "lockstep_timeout": 2 * wait}})
