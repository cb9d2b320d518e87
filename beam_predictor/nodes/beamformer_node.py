"""Beamformer actuator node: applies /bp/beam_command to a simulated array and PA waveguide.

The command contract (contract.BEAM_COMMAND) is what a real phased-array driver would
subscribe to: apply ``points[0]`` 'beam' (codebook index) and the 'pa_<n>' positions.
During replay the node scores every command against the bag's measured 64-beam power and
the frame's UE position (:mod:`beam_predictor.runtime.closed_loop`).  With ``refine_k`` K > 0 it
applies the strongest of the command's K top-ranked beams as measured (during replay, the bag's
power stands in for the K-beam sweep); every frame is also scored for each K of ``refine_curve``.
It publishes live
metrics on /bp/closed_loop and RViz markers, and writes its report at shutdown.  The llm_pass
node's /bp/pass_command (paper 003) is scored too: the MMSE sum rate, each user's SINR and
power share with blockage, from the frame's stored links (:mod:`beam_predictor.runtime.pass_loop`);
each user's PAs are drawn in a colour of its own.  A watchdog
warns on /diagnostics (and in the log) as soon as frames keep coming but commands stopped
for ``watchdog`` seconds, and again when they flow again.  Stamps that jump back (a looped
bag) start a new epoch of the frame ledger (:class:`~beam_predictor.runtime.closed_loop.FrameLedger`).
"""
from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import LaserScan
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from beam_predictor import contract
from beam_predictor.bag.messages import EXTRA_PREFIX
from beam_predictor.config import load_config, output_dir
from beam_predictor.model.pass_config import PassConfig
from beam_predictor.nodes.common import declare_config, qos, run, sensor_subscription, stamp_ns
from beam_predictor.nodes.markers import USER_COLOURS, beam_markers, guide_markers
from beam_predictor.physics import pass_system as ps
from beam_predictor.runtime.closed_loop import (ClosedLoopMetrics, CommandWatchdog, FrameLedger, LoopSample,
                                                SimulatedArray, SimulatedWaveguide, loss_db, pyplot,
                                                refine_beam, refine_curve)
from beam_predictor.runtime.config import BeamformerConfig
from beam_predictor.runtime.pass_loop import PassLoop, parse_command
from beam_predictor.twin.config import TwinConfig


class BeamformerNode(Node):
    def __init__(self, **node_kwargs):
        super().__init__("beamformer", **node_kwargs)
        self.cfg = declare_config(self, BeamformerConfig)
        twin = load_config(TwinConfig, self.cfg.twin_config)
        self.bs = np.asarray(twin.array.position, float)
        self.array = SimulatedArray(twin.array.num_antennas)
        self.guide = SimulatedWaveguide(twin.pinching, twin.array.frequency_hz)
        self.metrics = ClosedLoopMetrics()
        pyplot()   # imported now: the report at shutdown must be quick
        self.ledger = FrameLedger(self.cfg.match_window)
        self.create_subscription(JointTrajectory, contract.BEAM_COMMAND.node_name, self.on_command,
                                 qos(contract.BEAM_COMMAND.qos))
        link = load_config(PassConfig, self.cfg.pass_config).link
        self.pass_loop = PassLoop(link, ps.noise_power_w(twin.array.bandwidth_hz, link.noise_figure_db),
                                  self.cfg.match_window)
        self.create_subscription(JointTrajectory, contract.PASS_COMMAND.node_name, self.on_pass_command,
                                 qos(contract.PASS_COMMAND.qos))
        # ground truth is scored, not acted on: take every frame (reliable, deep) rather than the freshest
        reliability = "reliable" if self.cfg.truth_reliable else "best_effort"
        truth_qos = qos(contract.QoS(reliability, "volatile", 100))
        sensor_subscription(self, LaserScan, contract.POWER, self.on_power, truth_qos)
        sensor_subscription(self, DiagnosticArray, contract.FRAME_INFO, self.on_info, truth_qos)
        self.live_pub = self.create_publisher(DiagnosticArray, contract.CLOSED_LOOP.node_name,
                                              qos(contract.CLOSED_LOOP.qos))
        self.marker_pub = self.create_publisher(MarkerArray, contract.MARKERS.node_name,
                                                qos(contract.MARKERS.qos))
        self.create_timer(self.cfg.metrics_period, self.publish_live)
        self.diag_pub = self.create_publisher(DiagnosticArray, contract.DIAGNOSTICS.node_name,
                                              qos(contract.DIAGNOSTICS.qos))
        self.watchdog = CommandWatchdog(self.cfg.watchdog, time.monotonic(), self.cfg.watchdog_warmup)
        # on the steady clock: the watchdog measures wall time, whatever the replay's /clock does
        self.create_timer(min(0.5, self.cfg.watchdog / 4), self.watch,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))

    def on_config_change(self, old: BeamformerConfig, new: BeamformerConfig) -> None:
        """`ros2 param set` of match_window: the ledger forgets by the new window from the next frame on."""
        self.ledger.match_ns = int(new.match_window * 1e9)

    def on_power(self, msg: LaserScan) -> None:
        t = stamp_ns(msg.header)
        p = np.asarray(msg.intensities, np.float32)
        if p.size != contract.NUM_BEAMS:
            self.get_logger().warning(f"{contract.POWER.name}: {p.size} intensities, "
                                      f"expected {contract.NUM_BEAMS}",
                                      throttle_duration_sec=5.0)
            return
        self.watchdog.frame(time.monotonic())
        self._try_score(self.ledger.power(t, p, time.monotonic()))

    def on_info(self, msg: DiagnosticArray) -> None:
        status = next((s for s in msg.status if s.name == contract.FRAME_INFO_STATUS_NAME), None)
        if status is None:
            return
        t = stamp_ns(msg.header)
        values = {kv.key.removeprefix(EXTRA_PREFIX): kv.value for kv in status.values}
        self._try_score(self.ledger.info(t, values, time.monotonic()))
        try:
            scored = self.pass_loop.frame(t, values, time.monotonic())
        except ValueError as exc:
            self.get_logger().warning(f"{contract.FRAME_INFO.name}: PASS links at {t} ns: {exc}",
                                      throttle_duration_sec=5.0)
            return
        self._pass_scored(scored, msg.header)

    def on_command(self, msg: JointTrajectory) -> None:
        t = stamp_ns(msg.header)
        lag = (self.get_clock().now().nanoseconds - t) * 1e-6
        self.watchdog.command(time.monotonic())
        self._try_score(self.ledger.command(t, msg, time.monotonic(), lag))

    def _try_score(self, key: tuple[int, int]) -> None:
        found = self.ledger.ready(key)
        if found is None:
            return
        truth, (msg, arrival, lag) = found
        values = dict(zip(msg.joint_names, msg.points[0].positions))
        tops = [int(v) for k, v in values.items() if k.startswith("beam_top")] or [int(values["beam"])]
        pa = np.array([v for k, v in values.items() if k.startswith("pa_")])
        power = truth["power"]
        if self.cfg.refine_k > len(tops):
            self.get_logger().warning(f"refine_k {self.cfg.refine_k}: the command ranks {len(tops)} beams "
                                      "(raise the fusion node's top_k); refining over those",
                                      throttle_duration_sec=10.0)
        applied = refine_beam(power, tops, self.cfg.refine_k)
        self.array.apply(applied)
        optimal = int(np.nanargmax(power))
        loss = loss_db(power, applied)
        pa_loss = float("nan")
        if pa.size:
            self.guide.apply(pa)
            pa_loss = self.guide.pa_loss_db(pa, truth.get("info", {}))
        self.metrics.record(LoopSample(key[1], applied, optimal, applied == optimal, optimal in tops[:3],
                                       loss, self.array.gain_loss_db(applied, optimal), pa_loss,
                                       1e3 * (arrival - truth["arrival"]), lag, key[0], time.time()),
                            refine_curve(power, tops, self.cfg.refine_curve))
        self.ledger.mark_scored(key)
        self.publish_markers(msg.header, applied, optimal, pa)

    def publish_markers(self, header, applied: int, optimal: int, pa: np.ndarray) -> None:
        guide = self.guide.cfg
        markers = beam_markers(header, self.array.angles, (applied, optimal))
        markers += guide_markers(header, guide.start, guide.length_m, pa, self.bs)
        self.marker_pub.publish(MarkerArray(markers=markers))

    def on_pass_command(self, msg: JointTrajectory) -> None:
        """A /bp/pass_command: scored once its frame's links are in; every user's PAs drawn in its colour."""
        self.watchdog.command(time.monotonic())
        try:
            orders = parse_command(msg.joint_names, msg.points[0].positions if msg.points else [])
            scored = self.pass_loop.command(stamp_ns(msg.header), orders, time.monotonic())
            self._pass_scored(scored, msg.header)
        except ValueError as exc:
            self.get_logger().warning(f"{contract.PASS_COMMAND.name}: {exc}", throttle_duration_sec=5.0)

    def _pass_scored(self, samples, header) -> None:
        if not samples:
            return
        markers = []
        for o in self.pass_loop.last_orders:
            wg = ps.waveguide(self.guide.cfg, o.waveguide)
            colour = USER_COLOURS[o.waveguide % len(USER_COLOURS)]
            markers += guide_markers(header, wg.start, wg.length_m, o.positions_m, self.bs, o.waveguide + 1,
                                     f"pass_user{o.waveguide + 1}", colour)
        self.marker_pub.publish(MarkerArray(markers=markers))

    def publish_live(self) -> None:
        values = {**self.metrics.summary(), **self.ledger.coverage(final=False),
                  **{f"pass_{k}": v for k, v in self.pass_loop.summary().items()}}
        values.update({f"loss_k{c['k']}_db": c["power_loss_mean_db"] for c in values.pop("refine_curve", [])})
        text = {k: f"{v:.4g}" if isinstance(v, float) else str(v) for k, v in values.items()}
        status = DiagnosticStatus(name="closed_loop", message="live closed-loop metrics",
                                  values=[KeyValue(key=k, value=v) for k, v in text.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.live_pub.publish(msg)
        if self.metrics.samples:
            shown = ("frames", "top1", "top3", "power_loss_mean_db", "e2e_p50_ms", "e2e_p99_ms",
                     "frames_dropped")
            self.get_logger().info(" ".join(f"{k}={text[k]}" for k in shown if k in text))

    def watch(self) -> None:
        change = self.watchdog.check(time.monotonic())
        if change is None:
            return
        silent, text = change
        if silent:                         # (rclpy refuses two severities from one call site)
            self.get_logger().warning(text)
        else:
            self.get_logger().info(text)
        status = DiagnosticStatus(level=DiagnosticStatus.WARN if silent else DiagnosticStatus.OK,
                                  name=f"{self.get_name()}/watchdog", message=text)
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)

    def close(self) -> None:
        pinching = {**self.pass_loop.summary(), **self.pass_loop.ledger.coverage()}
        extra = {**self.ledger.coverage(), "refine_k": self.cfg.refine_k, "pass": pinching}
        out = self.metrics.write_report(output_dir(self.cfg.report, "closed_loop"), extra,
                                        also=(self.pass_loop.write,))
        print(f"closed-loop report: {out}", flush=True)


def main(args=None) -> None:
    run(BeamformerNode, args)


if __name__ == "__main__":
    main()
