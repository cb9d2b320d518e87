"""LLM fusion node (lifecycle): synchronized features + UE box + GPS fix -> beam and PA command.

A model that reads the camera image itself (paper 002's MLM-BP and baselines) gets the
camera topic instead of encoder features, preprocessed by :class:`OnlinePredictor`.

configure: load the checkpoint (:class:`beam_predictor.runtime.online.OnlinePredictor`)
and create the publishers; activate: subscribe; deactivate/cleanup: unsubscribe and
release the model (:class:`beam_predictor.nodes.common.ManagedNode`).  With ``autostart``
(default) it configures and activates itself.

Inputs are grouped by stamp (:class:`beam_predictor.runtime.sync.StampSynchronizer`;
a silent input is fused without after ``max_wait``), pushed as one
:class:`beam_predictor.window.FrameInput` into the window that also built the training
windows, and once H steps are in, every new frame yields a command on /bp/beam_command
stamped with that frame's stamp.  Window restarts and rejected GPS jumps are counted in
/diagnostics.  With ``drop_stale`` (default) the model runs in a worker thread on the
newest ready window (:class:`beam_predictor.runtime.latest.LatestWorker`): every frame
enters the window, but a frame whose window was replaced by a newer one before the model
was free gets no command (counted, ``stale_dropped``).  Every frame taken into the window
is acknowledged on /bp/fused (after its command), which the player's lock-step mode waits for.
"""
from __future__ import annotations

import time
from collections import deque

import numpy as np
from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PolygonStamped
from sensor_msgs.msg import CompressedImage, Image, NavSatFix
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from beam_predictor import contract
from beam_predictor.nodes.common import (FlushTimer, ManagedNode, box_from_msg, feature_from_msg,
                                         fix_from_msg, qos, run, sensor_subscription, stamp_ns)
from beam_predictor.runtime.config import FusionNodeConfig
from beam_predictor.runtime.latest import LatestWorker
from beam_predictor.runtime.online import OnlinePredictor, Prediction
from beam_predictor.runtime.sync import StampSynchronizer
from beam_predictor.window import FrameInput

ANGLES = np.asarray(contract.codebook_angles_rad())


def command_msg(header, pred: Prediction, frame_period: float) -> JointTrajectory:
    k = pred.beams.shape[1]
    names = (["beam", "beam_angle"] + [f"beam_top{i + 1}" for i in range(k)]
             + [f"prob_top{i + 1}" for i in range(k)]
             + [f"pa_{n + 1}" for n in range(pred.pa_positions.shape[1])])
    msg = JointTrajectory(header=header, joint_names=names)
    for step in range(pred.beams.shape[0]):
        top = pred.beams[step]
        values = ([float(top[0]), float(ANGLES[top[0]])] + [float(b) for b in top]
                  + [float(p) for p in pred.probs[step]] + [float(x) for x in pred.pa_positions[step]])
        sec, nsec = divmod(int(round(step * frame_period * 1e9)), 1_000_000_000)
        point = JointTrajectoryPoint(positions=values, time_from_start=Duration(sec=sec, nanosec=nsec))
        msg.points.append(point)
    return msg


class FusionNode(ManagedNode):
    def __init__(self, **node_kwargs):
        super().__init__("llm_fusion", FusionNodeConfig, **node_kwargs)
        self.predictor, self.sync, self.pending = None, None, None
        self.stats = {"commands": 0, "frames": 0, "waiting_for_history": 0,
                      "predict_ms": deque(maxlen=1000), "sync_ms": deque(maxlen=1000)}
        self.start()

    def on_config_change(self, old: FusionNodeConfig, new: FusionNodeConfig) -> None:
        """`ros2 param set` of tolerance / max_wait: the synchronizer uses them from the next item on."""
        if self.sync is not None:
            self.sync.tolerance_ns, self.sync.max_wait_ns = int(new.tolerance * 1e9), int(new.max_wait * 1e9)

    def load(self) -> None:
        self.predictor = OnlinePredictor(self.cfg.checkpoint, self.cfg.device, self.cfg.top_k,
                                         site=self.cfg.site, runtime=self.cfg.runtime,
                                         threads=self.cfg.threads)
        if self.predictor.model is not None:      # torch is loaded (a torch runtime, or the first export)
            import torch
            torch.set_num_threads(self.cfg.threads)
        self.get_logger().info(f"loaded {self.predictor.description}")
        self.keys = (tuple(self.predictor.modalities) + ("box",) * self.predictor.uses_box + ("fix",)
                     + ("image",) * self.predictor.needs_image)
        self.sync = StampSynchronizer(self.keys, int(self.cfg.tolerance * 1e9), int(self.cfg.max_wait * 1e9),
                                      restart_ns=int(self.predictor.window.spec.gap_reset_s * 1e9),
                                      silent_after=self.cfg.silent_after)
        self.cmd_pub = self.create_lifecycle_publisher(JointTrajectory, contract.BEAM_COMMAND.node_name,
                                                       qos(contract.BEAM_COMMAND.qos))
        self.diag_pub = self.create_lifecycle_publisher(DiagnosticArray, contract.DIAGNOSTICS.node_name,
                                                        qos(contract.DIAGNOSTICS.qos))
        self.fused_pub = self.create_lifecycle_publisher(Header, contract.FUSED.node_name,
                                                         qos(contract.FUSED.qos))

    def activate(self) -> list:
        self.pending = self.worker(self.command)
        self.flush = FlushTimer(self, self.sync, self.on_ready)
        subs = [self.create_subscription(Image, contract.feature_topic(mod).node_name,
                                         lambda m, mod=mod: self.on_feature(mod, m),
                                         qos(contract.feature_topic(mod).qos))
                for mod in self.predictor.modalities]
        if self.predictor.uses_box:
            subs.append(self.create_subscription(PolygonStamped, contract.UE_BOX.node_name, self.on_box,
                                                 qos(contract.UE_BOX.qos)))
        if self.predictor.needs_image:
            subs.append(sensor_subscription(self, CompressedImage, contract.CAMERA, self.on_image))
        return subs + [
            sensor_subscription(self, NavSatFix, contract.UE_GPS, self.on_fix),
            self.flush, self.create_timer(self.cfg.diagnostics_period, self.publish_diagnostics)] + (
            [self.pending] if self.pending is not None else [])

    def release(self) -> None:
        self.destroy_publisher(self.cmd_pub)
        self.destroy_publisher(self.diag_pub)
        self.destroy_publisher(self.fused_pub)
        self.predictor = None

    def on_feature(self, modality: str, msg: Image) -> None:
        try:
            value = feature_from_msg(msg)
        except ValueError as exc:
            self.get_logger().warning(f"{contract.feature_topic(modality).name}: {exc}",
                                      throttle_duration_sec=5.0)
            value = None
        self.flush.feed(self.sync.add(modality, stamp_ns(msg.header), value, time.monotonic_ns()))

    def on_box(self, msg: PolygonStamped) -> None:
        self.flush.feed(self.sync.add("box", stamp_ns(msg.header), box_from_msg(msg), time.monotonic_ns()))

    def on_image(self, msg: CompressedImage) -> None:
        value = self.predictor.image(bytes(msg.data))
        self.flush.feed(self.sync.add("image", stamp_ns(msg.header), value, time.monotonic_ns()))

    def on_fix(self, msg: NavSatFix) -> None:
        self.flush.feed(self.sync.add("fix", stamp_ns(msg.header), fix_from_msg(msg), time.monotonic_ns()))

    def on_ready(self, sets) -> None:
        for s in sets:
            self.stats["frames"] += 1
            self.stats["sync_ms"].append(1e-6 * (time.monotonic_ns() - s.first_arrival_ns))
            feats = {m: s.items.get(m) for m in self.predictor.modalities}
            self.predictor.window.push(FrameInput(s.stamp_ns, feats, s.items.get("box"), s.items.get("fix"),
                                                  s.items.get("image")))
            header = Header(frame_id=contract.FRAME_ARRAY)
            header.stamp.sec, header.stamp.nanosec = divmod(s.stamp_ns, 1_000_000_000)
            if not self.predictor.window.ready:
                self.stats["waiting_for_history"] += 1
                self.fused_pub.publish(header)
                continue
            item = (header, self.predictor.window.arrays())
            if self.pending is not None:
                self.pending.put(item)
            else:
                self.command(item)

    def command(self, item) -> None:
        """Predict from one frame's window arrays; publish the command, then the frame's /bp/fused."""
        header, arrays = item
        pred = self.predictor.predict(arrays)
        self.stats["predict_ms"].append(1e3 * pred.seconds)
        self.cmd_pub.publish(command_msg(header, pred, self.predictor.frame_period))
        self.stats["commands"] += 1
        self.fused_pub.publish(header)

    def publish_diagnostics(self) -> None:
        st, sync = self.stats, self.sync.stats
        window = self.predictor.window.stats
        values = {"frames": st["frames"], "commands": st["commands"],
                  "waiting_for_history": st["waiting_for_history"], "history_restarts": window["resets"],
                  "gps_missing": window["gps_missing"], "gps_jumps_rejected": window["gps_rejected"],
                  "features_nonfinite": window["features_nonfinite"],
                  "frames_dropped_late": sync.late, "partial_frames": sync.partial, "restarts": sync.restarts,
                  "presumed_silent": ",".join(sorted(self.sync.silent())) or "none",
                  "stale_dropped": LatestWorker.stale_of(self.pending),
                  "predict_ms_p50": self._pct("predict_ms", 50),
                  "predict_ms_p99": self._pct("predict_ms", 99),
                  "sync_wait_ms_p50": self._pct("sync_ms", 50), "sync_wait_ms_p99": self._pct("sync_ms", 99),
                  **{f"missing_{k}": v for k, v in sync.missing_by_key.items()}}
        level = DiagnosticStatus.OK if not sync.partial else DiagnosticStatus.WARN
        status = DiagnosticStatus(level=level, name=self.get_name(), message=self.predictor.description,
                                  values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)

    def close(self) -> None:
        if self.predictor is not None:
            sync = self.sync.stats
            stale = LatestWorker.stale_of(self.pending)
            print(f"llm_fusion: {self.stats['frames']} frames fused, {self.stats['commands']} commands, "
                  f"{stale} stale dropped, "
                  f"{sync.late} late items dropped, {sync.partial} partial frames "
                  f"(missing {sync.missing_by_key}); predict ms p50/p99 "
                  f"{self._pct('predict_ms', 50)}/{self._pct('predict_ms', 99)}, sync wait ms p50/p99 "
                  f"{self._pct('sync_ms', 50)}/{self._pct('sync_ms', 99)}", flush=True)

    def _pct(self, key: str, q: float) -> str:
        v = self.stats[key]
        return f"{np.percentile(list(v), q):.2f}" if v else "nan"


def main(args=None) -> None:
    run(FusionNode, args)


if __name__ == "__main__":
    main()
