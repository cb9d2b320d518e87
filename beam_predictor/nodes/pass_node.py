"""LLM-PASS node (paper 003, lifecycle): every user's tracked box and GPS fix -> every user's PA command.

configure: load the LLM-PASS checkpoint (:func:`beam_predictor.model.pass_checkpoint.load_pass`) into
the live step :class:`beam_predictor.runtime.pass_online.OnlinePass` (the window, codebook prior,
network and serving rule of the offline pipeline); activate: subscribe the tracker's
/bp/user_boxes and the fixes of the checkpoint's users (/ue/gps/fix, /ue3/gps/fix, ...).

Inputs are grouped by stamp (:class:`beam_predictor.runtime.sync.StampSynchronizer`; a silent
input is served without after ``max_wait``).  Every frame yields one /bp/pass_command
(contract.PASS_COMMAND): per user, keyed by its track id, the waveguide, codeword, PA positions,
power share and whether the fallback served it, then the frame's /bp/fused acknowledgement.
A user with no box in the window's H frames gets the fallback codeword (counted in /diagnostics);
a user-box message that does not follow the contract is logged with the topic and served as
"no box", never a crash.
"""
from __future__ import annotations

import time
from collections import deque

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from sensor_msgs.msg import NavSatFix, PointCloud2
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from beam_predictor import contract
from beam_predictor.nodes.common import (FlushTimer, ManagedNode, fix_from_msg, qos, run, sensor_subscription,
                                         stamp_ns, user_boxes_from_msg)
from beam_predictor.runtime.config import PassNodeConfig
from beam_predictor.runtime.pass_loop import UserOrder, command_names
from beam_predictor.runtime.sync import StampSynchronizer


class PassNode(ManagedNode):
    def __init__(self, **node_kwargs):
        super().__init__("llm_pass", PassNodeConfig, **node_kwargs)
        self.live = None
        self.stats = {"frames": 0, "bad_user_boxes": 0, "ms": deque(maxlen=1000)}       # a command per frame
        self.start()

    def load(self) -> None:
        import torch

        from beam_predictor.model.pass_checkpoint import load_pass
        from beam_predictor.physics.site import read_site
        from beam_predictor.runtime.pass_online import OnlinePass
        torch.set_num_threads(self.cfg.threads)
        bundle = load_pass(self.cfg.checkpoint)
        site = read_site(self.cfg.site) if self.cfg.site else None
        self.live = OnlinePass.from_bundle(bundle, site, 1.0 / contract.FRAME_RATE_HZ)
        self.get_logger().info(f"loaded {self.cfg.checkpoint}: {bundle.description}")
        self.fix_keys = {unit: f"fix{unit}" for unit in self.live.units}
        gap = self.live.window.windows[2].spec.gap_reset_s       # stamps that jump back: a new pass
        self.sync = StampSynchronizer(("boxes",) + tuple(self.fix_keys.values()),
                                      int(self.cfg.tolerance * 1e9), int(self.cfg.max_wait * 1e9),
                                      restart_ns=int(gap * 1e9), silent_after=self.cfg.silent_after)
        self.cmd_pub = self.create_lifecycle_publisher(JointTrajectory, contract.PASS_COMMAND.node_name,
                                                       qos(contract.PASS_COMMAND.qos))
        self.fused_pub = self.create_lifecycle_publisher(Header, contract.FUSED.node_name,
                                                         qos(contract.FUSED.qos))
        self.diag_pub = self.create_lifecycle_publisher(DiagnosticArray, contract.DIAGNOSTICS.node_name,
                                                        qos(contract.DIAGNOSTICS.qos))

    def activate(self) -> list:
        self.flush = FlushTimer(self, self.sync, self.on_ready)
        topics = {2: contract.UE_GPS, **contract.USER_GPS_TOPICS}
        fixes = [sensor_subscription(self, NavSatFix, topics[unit],
                                     lambda m, key=key: self.on_input(key, m, fix_from_msg(m)))
                 for unit, key in self.fix_keys.items()]
        boxes = sensor_subscription(self, PointCloud2, contract.USER_BOXES, self.on_boxes)
        return fixes + [boxes, self.flush, self.create_timer(1.0, self.publish_diagnostics)]

    def release(self) -> None:
        for pub in (self.cmd_pub, self.fused_pub, self.diag_pub):
            self.destroy_publisher(pub)
        self.live = None

    def on_input(self, key: str, msg, value) -> None:
        self.flush.feed(self.sync.add(key, stamp_ns(msg.header), value, time.monotonic_ns()))

    def on_boxes(self, msg: PointCloud2) -> None:
        try:
            value = user_boxes_from_msg(msg)
        except ValueError as exc:
            self.stats["bad_user_boxes"] += 1
            self.get_logger().warning(f"{contract.USER_BOXES.name}: {exc}", throttle_duration_sec=5.0)
            value = {}
        self.on_input("boxes", msg, value)

    def on_ready(self, sets) -> None:
        for s in sets:
            start = time.perf_counter()
            found = s.items.get("boxes") or {}
            boxes = {unit: box for unit, (_, box) in found.items() if box is not None}
            fixes = {unit: s.items.get(key) for unit, key in self.fix_keys.items()}
            commands = self.live.step(s.stamp_ns, boxes, fixes)
            self.stats["ms"].append(1e3 * (time.perf_counter() - start))
            header = Header(frame_id=contract.FRAME_ARRAY)
            header.stamp.sec, header.stamp.nanosec = divmod(s.stamp_ns, 1_000_000_000)
            orders = [UserOrder(c.unit, found.get(c.unit, (-1, None))[0], c.waveguide, c.codeword,
                                c.power_share, c.fallback, tuple(float(x) for x in c.positions_m))
                      for c in commands]
            names, values = command_names(orders)
            msg = JointTrajectory(header=header, joint_names=names)
            msg.points.append(JointTrajectoryPoint(positions=values))
            self.cmd_pub.publish(msg)
            self.stats["frames"] += 1
            self.fused_pub.publish(header)

    def publish_diagnostics(self) -> None:
        st, sync = self.stats, self.sync.stats
        values = {"frames": st["frames"], "commands": st["frames"], "users": len(self.live.units),
                  "fallback_users": self.live.fallbacks, "bad_user_boxes": st["bad_user_boxes"],
                  "partial_frames": sync.partial, "frames_dropped_late": sync.late,
                  "step_ms_p50": f"{np.percentile(st['ms'], 50):.2f}" if st["ms"] else "nan",
                  **{f"missing_{k}": v for k, v in sync.missing_by_key.items()}}
        level = DiagnosticStatus.OK if not sync.partial else DiagnosticStatus.WARN
        status = DiagnosticStatus(level=level, name=self.get_name(), message="LLM-PASS",
                                  values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)

    def close(self) -> None:
        if self.live is not None:
            ms = self.stats["ms"]
            print(f"llm_pass: {self.stats['frames']} frames (a command each), "
                  f"{self.live.fallbacks} fallback user-frames, {self.sync.stats.partial} partial frames; "
                  f"step ms p50 {np.percentile(ms, 50) if ms else float('nan'):.2f}", flush=True)


def main(args=None) -> None:
    run(PassNode, args)


if __name__ == "__main__":
    main()
