"""Bag player: replays a rosbag2 (rosbags reader) with the original header stamps and a /clock.

Needed because ``ros2 bag`` cannot be installed here; on a full ROS 2 install
``ros2 bag play --clock`` feeds the same graph.  Messages are published as the stored
CDR bytes, so every field, stamps included, is exactly what the bag holds.  Topics whose
message type is not available in this Python environment are skipped with a warning.

With ``lockstep`` the player replays a frame (the messages of one bag time) only once the
fusion-stage nodes (``acks_per_frame``: llm_fusion, and llm_pass when it runs) have acknowledged
every earlier sensor frame on /bp/fused, and shifts its
schedule when it had to wait: the graph sees every frame, at ``rate`` or slower.

``faults`` injects faults into the first pass (:mod:`beam_predictor.runtime.inject`): silent
topics, empty or NaN payloads, a /clock that stops; ``loop`` makes the stamps jump back.
"""
from __future__ import annotations

import importlib
import time

import rclpy
import rclpy.duration
from rclpy.node import Node
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
from rosgraph_msgs.msg import Clock
from std_msgs.msg import Header

from beam_predictor import contract
from beam_predictor.nodes.common import declare_config, qos, run
from beam_predictor.runtime.config import PlayerConfig, wait_counts
from beam_predictor.runtime.inject import FaultInjector, parse_faults
from beam_predictor.runtime.replay import ReplaySchedule, bag_topics, iter_messages, recorded_qos


def message_class(msgtype: str):
    """``pkg/msg/Name`` -> the generated rclpy class, or None when the package is not installed."""
    pkg, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError):
        return None


# the topics every fusion node reads (through the encoders, the tracker or itself): a bag time with one
# of them is a frame the fusion node acknowledges
SENSOR_TOPICS = {t.name for t in (contract.CAMERA, contract.LIDAR, contract.RADAR, contract.UE_GPS)}


class PlayerNode(Node):
    def __init__(self, **node_kwargs):
        super().__init__("bag_player", **node_kwargs)
        self.cfg = declare_config(self, PlayerConfig)
        if not self.cfg.bag:
            raise ValueError("parameter 'bag' is empty: give a rosbag2 folder")
        if self.cfg.offered_qos not in ("reliable", "recorded"):
            raise ValueError(f"parameter offered_qos '{self.cfg.offered_qos}': choose reliable or recorded")
        self.clock_pub = self.create_publisher(Clock, contract.CLOCK.node_name, qos(contract.CLOCK.qos))
        self.pubs, self.skipped = {}, []
        recorded = recorded_qos(self.cfg.bag) if self.cfg.offered_qos == "recorded" else {}
        topics = bag_topics(self.cfg.bag)
        self.injector = FaultInjector(parse_faults(self.cfg.faults, topics)) if self.cfg.faults else None
        for topic, msgtype in topics.items():
            cls = message_class(msgtype)
            if cls is None:
                self.skipped.append(f"{topic} ({msgtype})")
                continue
            known = contract.BAG_TOPICS.get(topic)
            profile = known.qos if known else contract.SENSOR_QOS
            # reliable: best-effort and reliable subscribers both match; recorded: as `ros2 bag play`
            offered = recorded.get(topic) or contract.QoS("reliable", profile.durability, profile.depth)
            self.pubs[topic] = self.create_publisher(cls, known.node_name if known else topic, qos(offered))
        if self.skipped:
            self.get_logger().warning(f"{self.cfg.bag}: skipping topics of unknown type: {self.skipped}")
        self.frames_sent, self.acks, self.ack_timeouts, self.acks_forgiven = 0, 0, 0, 0
        if self.cfg.lockstep:
            self.create_subscription(Header, contract.FUSED.node_name, self.on_fused, qos(contract.FUSED.qos))
        faults = f"; injecting {self.cfg.faults}" if self.injector else ""
        self.get_logger().info(f"replaying {self.cfg.bag} at rate {self.cfg.rate or 'max'} "
                               f"({len(self.pubs)} topics){faults}")

    def on_fused(self, msg: Header) -> None:
        self.acks += 1

    def await_fused(self) -> None:
        """Lock-step: spin until the fusion-stage nodes acknowledged every sensor frame sent
        (``acks_per_frame`` each), or the timeout."""
        deadline = time.monotonic() + self.cfg.lockstep_timeout
        need = self.frames_sent * self.cfg.acks_per_frame
        while rclpy.ok() and self.acks + self.acks_forgiven < need and time.monotonic() < deadline:
            rclpy.spin_once(self, timeout_sec=0.005)
        if self.acks + self.acks_forgiven < need:
            self.ack_timeouts += 1             # go on without it
            self.acks_forgiven = need - self.acks
            self.get_logger().warning(f"lock-step: no {contract.FUSED.name} within "
                                      f"{self.cfg.lockstep_timeout} s of frame {self.frames_sent}",
                                      throttle_duration_sec=5.0)

    def publish_clock(self, t_ns: int) -> None:
        if self.injector is not None and self.injector.clock_stopped(t_ns):
            return
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(t_ns, 1_000_000_000)
        self.clock_pub.publish(msg)

    def wait_for_graph(self) -> bool:
        """Up to ``start_timeout`` s for every sensor topic of the bag to have its readers
        (``wait_topics``; the encoders and the tracker subscribe once their models are loaded)
        and for the ``wait_for`` lifecycle node to be active, then a short settle for reliable
        handshakes: no frame is replayed into a graph that is still loading.  Returns whether
        the whole graph was there."""
        listed = wait_counts(self.cfg.wait_topics)
        wanted = {t.name: listed.get(t.name, 1) for t in contract.FRAME_TOPICS
                  if t.name in self.pubs and (not listed or t.name in listed)}
        deadline = time.monotonic() + self.cfg.start_timeout
        state = None
        if self.cfg.wait_for:
            state = self.create_client(GetState, f"{self.cfg.wait_for}/get_state")
        active = state is None
        while time.monotonic() < deadline and rclpy.ok():
            subscribed = all(self.pubs[t].get_subscription_count() >= n for t, n in wanted.items())
            if subscribed and not active and state.service_is_ready():
                future = state.call_async(GetState.Request())
                rclpy.spin_until_future_complete(self, future, timeout_sec=1.0)
                result = future.result() if future.done() else None
                active = result is not None and result.current_state.id == State.PRIMARY_STATE_ACTIVE
            if subscribed and active:
                time.sleep(min(0.5, self.cfg.start_timeout))
                return True
            time.sleep(0.1)
        idle = [t for t, n in wanted.items() if self.pubs[t].get_subscription_count() < n]
        self.get_logger().warning(
            f"starting after {self.cfg.start_timeout:.0f} s without the whole graph: "
            + (f"too few subscribers on {idle}" if idle else "")
            + ("" if active else f" {self.cfg.wait_for} not active"))
        return False

    def play(self) -> int:
        """Publish the whole bag (again and again with loop); returns the messages published."""
        self.wait_for_graph()
        count, passes = 0, 0
        while rclpy.ok():
            passes += 1
            schedule, frame_t, sensor_frame, frame_clock = None, None, False, None
            if self.injector is not None:
                self.injector.new_pass()
            for m in iter_messages(self.cfg.bag, self.cfg.start_offset, topics=set(self.pubs)):
                if schedule is None:
                    schedule = ReplaySchedule(self.cfg.rate, m.time_ns, time.monotonic())
                if m.time_ns != frame_t:
                    if self.cfg.lockstep and sensor_frame:
                        self.await_fused()
                        schedule.rebase(time.monotonic(), m.time_ns)
                    frame_t, sensor_frame = m.time_ns, False
                raw = m.raw if self.injector is None else self.injector.message(m.topic, m.msgtype,
                                                                                m.time_ns, m.raw)
                if raw is None:                       # silenced
                    continue
                if m.topic in SENSOR_TOPICS and not sensor_frame:
                    sensor_frame = True
                    self.frames_sent += 1
                due = schedule.due_wall(m.time_ns)
                tick = 1.0 / self.cfg.clock_hz
                while rclpy.ok() and (now := time.monotonic()) < due:
                    self.publish_clock(schedule.clock_ns(now, m.time_ns))
                    time.sleep(min(tick, due - now))
                if not rclpy.ok():
                    return count
                if m.time_ns != frame_clock:          # once per bag time: every sim-time node wakes for it
                    self.publish_clock(m.time_ns)
                    frame_clock = m.time_ns
                self.pubs[m.topic].publish(raw)
                count += 1
            if self.cfg.lockstep and sensor_frame:
                self.await_fused()
            if not self.cfg.loop or 0 < self.cfg.loop_passes <= passes:
                break
        lockstep = (f"; lock-step: {self.frames_sent} frames, {self.ack_timeouts} acknowledgement timeouts"
                    if self.cfg.lockstep else "")
        injected = f"; faults: {self.injector.summary()}" if self.injector is not None else ""
        self.get_logger().info(f"done: {count} messages published{lockstep}{injected}")
        return count

    def run_to_end(self) -> None:
        self.play()
        if self.cfg.exit_when_done:
            for pub in self.pubs.values():
                pub.wait_for_all_acked(rclpy.duration.Duration(seconds=2.0))
        else:
            rclpy.spin(self)


def main(args=None) -> None:
    run(PlayerNode, args, body=PlayerNode.run_to_end)


if __name__ == "__main__":
    main()
