"""Feature encoder node: one modality, or several in one process (parameter ``modality``).

A lifecycle node (:class:`beam_predictor.nodes.common.ManagedNode`): configure loads the
encoders, activate subscribes.  For each modality it subscribes the sensor topic, runs
preprocessing + the pretrained encoder (:class:`beam_predictor.sensing.online.OnlineEncoder`)
and publishes the features on ``/bp/features/<modality>`` with the sensor message's header.
Modality ``beam`` has no encoder: it publishes the previous frame's optimal beam from the
power topic (:class:`beam_predictor.sensing.beam_history.DelayedBeam`).  An unusable input
(a bad JPEG, a malformed cloud or cube, a NaN fix, no previous sweep) publishes the empty
'missing' message instead, and the reason goes to the log and /diagnostics; the node keeps
running.

``modality: image,radar,lidar,gps`` runs the four encoders in one node and one process (the
launch default, config/v2i.yaml ``encoder_processes``): every rclpy process pays a fixed
executor and /clock cost per frame, which ``make bench-ros`` measures.  With ``drop_stale``
(default) each modality's encoder runs in a worker thread of its own on the newest message
(:class:`beam_predictor.runtime.latest.LatestWorker`; ONNX Runtime releases the GIL, so they
run side by side); skipped messages are counted in /diagnostics (``stale_dropped``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from sensor_msgs.msg import CompressedImage, Image, LaserScan, NavSatFix, PointCloud2

from beam_predictor import contract
from beam_predictor.bag import messages as codec
from beam_predictor.nodes.common import ManagedNode, feature_msg, qos, run, sensor_subscription, stamp_ns
from beam_predictor.runtime.config import EncoderNodeConfig
from beam_predictor.runtime.latest import LatestWorker
from beam_predictor.sensing.beam_history import BEAM_MODALITY, SWEEP_MODALITY, DelayedBeam, DelayedSweep
from beam_predictor.sensing.online import OnlineEncoder, encoder_checkpoint

SOURCES = {
    "image": (contract.MODALITY_SOURCE["image"], CompressedImage, lambda m: bytes(m.data)),
    "radar": (contract.MODALITY_SOURCE["radar"], Image, codec.radar_cube),
    "lidar": (contract.MODALITY_SOURCE["lidar"], PointCloud2, codec.lidar_points),
    "gps": (contract.MODALITY_SOURCE["gps"], NavSatFix, codec.latlon),
    BEAM_MODALITY: (contract.MODALITY_SOURCE[BEAM_MODALITY], LaserScan,
                    lambda m: (stamp_ns(m.header), codec.power_values(m))),
    SWEEP_MODALITY: (contract.MODALITY_SOURCE[SWEEP_MODALITY], LaserScan,
                     lambda m: (stamp_ns(m.header), codec.power_values(m))),
}
DELAYED = {BEAM_MODALITY: (DelayedBeam, "the previous frame's optimal beam"),
           SWEEP_MODALITY: (DelayedSweep, "the previous frame's 16 sparse-beam powers")}


def parse_modalities(text: str) -> tuple[str, ...]:
    mods = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in mods if m not in SOURCES]
    if not mods or bad or len(set(mods)) != len(mods):
        raise ValueError(f"parameter modality '{text}': one or several (comma-separated, no repeats) of "
                         f"{sorted(SOURCES)}")
    return mods


@dataclass
class Stage:
    """One modality of the node: its encoder, input, output and counts."""

    modality: str
    encoder: object
    pub: object = None
    pending: object = None                       # its LatestWorker (drop_stale)
    counts: dict = field(default_factory=lambda: {"frames": 0, "missing": 0, "ms_total": 0.0})
    last_reason: str = ""

    @property
    def stale(self) -> int:
        return LatestWorker.stale_of(self.pending)


class EncoderNode(ManagedNode):
    def __init__(self, **node_kwargs):
        super().__init__("feature_encoder", EncoderNodeConfig, **node_kwargs)
        self.modalities = parse_modalities(self.cfg.modality)
        if self.cfg.checkpoint and not Path(self.cfg.checkpoint).is_dir() and len(self.modalities) > 1:
            raise ValueError(f"parameter checkpoint '{self.cfg.checkpoint}' is one file, for one modality; "
                             f"give a folder of encoder_<modality>.pt for {self.modalities}")
        self.stages: dict[str, Stage] = {}
        self.start()

    def load(self) -> None:
        for modality in self.modalities:
            if modality in DELAYED:
                step, text = DELAYED[modality]
                stage = Stage(modality, step(contract.NUM_BEAMS, self.cfg.feature_dim))
                what = f"no checkpoint: {text}"
            else:
                path = encoder_checkpoint(modality, self.cfg.checkpoint)
                stage = Stage(modality, OnlineEncoder(modality, path, self.cfg.device, self.cfg.runtime,
                                                      self.cfg.threads))
                stage.encoder.warm_up()
                what = f"{path} ({stage.encoder.runtime})"
            out = contract.feature_topic(modality)
            stage.pub = self.create_lifecycle_publisher(Image, out.node_name, qos(out.qos))
            self.stages[modality] = stage
            self.get_logger().info(f"{SOURCES[modality][0].name} -> {out.name} with {what}")
        self.diag_pub = self.create_lifecycle_publisher(DiagnosticArray, contract.DIAGNOSTICS.node_name,
                                                        qos(contract.DIAGNOSTICS.qos))
        if any(getattr(s.encoder, "encoder", None) is not None for s in self.stages.values()):
            import torch                          # a torch runtime, or the first export of a checkpoint
            torch.set_num_threads(self.cfg.threads)

    def activate(self) -> list:
        handles = [self.create_timer(1.0, self.publish_diagnostics)]
        for stage in self.stages.values():
            topic, msg_type, _ = SOURCES[stage.modality]
            stage.pending = self.worker(lambda msg, s=stage: self.process(s, msg))
            handles.append(sensor_subscription(self, msg_type, topic,
                                               lambda msg, s=stage: self.on_msg(s, msg)))
            if stage.pending is not None:
                handles.append(stage.pending)
        return handles

    def release(self) -> None:
        for stage in self.stages.values():
            self.destroy_publisher(stage.pub)
        self.destroy_publisher(self.diag_pub)
        self.stages = {}

    def on_msg(self, stage: Stage, msg) -> None:
        if stage.pending is not None:
            stage.pending.put(msg)
        else:
            self.process(stage, msg)

    def process(self, stage: Stage, msg) -> None:
        try:
            feats, reason, seconds = stage.encoder.encode(SOURCES[stage.modality][2](msg))
        except Exception as exc:   # a malformed message must not stop the stream
            feats, reason, seconds = None, f"{type(exc).__name__}: {exc}", 0.0
        stage.counts["frames"] += 1
        stage.counts["ms_total"] += 1e3 * seconds
        if feats is None:
            stage.counts["missing"] += 1
            stage.last_reason = reason
            self.get_logger().warning(f"{stage.modality} input unusable ({reason}); publishing 'missing'",
                                      throttle_duration_sec=5.0)
        stage.pub.publish(feature_msg(msg.header, feats))

    def publish_diagnostics(self) -> None:
        statuses = []
        for s in self.stages.values():
            n = max(1, s.counts["frames"])
            statuses.append(DiagnosticStatus(
                level=DiagnosticStatus.OK if not s.counts["missing"] else DiagnosticStatus.WARN,
                name=f"{self.get_name()}/{s.modality}", message=s.last_reason or "ok", hardware_id=s.modality,
                values=[KeyValue(key="frames", value=str(s.counts["frames"])),
                        KeyValue(key="missing", value=str(s.counts["missing"])),
                        KeyValue(key="stale_dropped", value=str(s.stale)),
                        KeyValue(key="encode_ms_mean", value=f"{s.counts['ms_total'] / n:.2f}")]))
        msg = DiagnosticArray(status=statuses)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)

    def close(self) -> None:
        for s in self.stages.values():
            c = s.counts
            print(f"{self.get_name()}/{s.modality}: {c['frames']} frames, {c['missing']} missing, "
                  f"{s.stale} stale dropped, {c['ms_total'] / max(1, c['frames']):.1f} ms mean per frame",
                  flush=True)


def main(args=None) -> None:
    run(EncoderNode, args)


if __name__ == "__main__":
    main()
