"""Feature encoder node: one class for every modality (parameter ``modality``).

A lifecycle node (:class:`beam_predictor.nodes.common.ManagedNode`): configure loads the
encoder, activate subscribes.  Subscribes the modality's sensor topic, runs preprocessing +
the pretrained encoder
(:class:`beam_predictor.sensing.online.OnlineEncoder`) and publishes the features on
``/bp/features/<modality>`` with the sensor message's header.  Modality ``beam`` has no
encoder: it publishes the previous frame's optimal beam from the power topic
(:class:`beam_predictor.sensing.beam_history.DelayedBeam`).  An unusable input (a bad
JPEG, a malformed cloud or cube, a NaN fix, no previous sweep) publishes the empty
'missing' message instead, and the reason goes to the log and /diagnostics; the node
keeps running.
"""
from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import torch
from sensor_msgs.msg import CompressedImage, Image, LaserScan, NavSatFix, PointCloud2

from beam_predictor import contract
from beam_predictor.bag import messages as codec
from beam_predictor.config import resolve_resource
from beam_predictor.nodes.common import ManagedNode, feature_msg, qos, run, sensor_subscription, stamp_ns
from beam_predictor.runtime.config import EncoderNodeConfig
from beam_predictor.sensing.beam_history import BEAM_MODALITY, DelayedBeam
from beam_predictor.sensing.online import OnlineEncoder, default_checkpoint

SOURCES = {
    "image": (contract.MODALITY_SOURCE["image"], CompressedImage, lambda m: bytes(m.data)),
    "radar": (contract.MODALITY_SOURCE["radar"], Image, codec.radar_cube),
    "lidar": (contract.MODALITY_SOURCE["lidar"], PointCloud2, codec.lidar_points),
    "gps": (contract.MODALITY_SOURCE["gps"], NavSatFix, codec.latlon),
    BEAM_MODALITY: (contract.MODALITY_SOURCE[BEAM_MODALITY], LaserScan,
                    lambda m: (stamp_ns(m.header), codec.power_values(m))),
}


class EncoderNode(ManagedNode):
    def __init__(self, **node_kwargs):
        super().__init__("feature_encoder", EncoderNodeConfig, **node_kwargs)
        torch.set_num_threads(self.cfg.threads)
        if self.cfg.modality not in SOURCES:
            raise ValueError(f"parameter modality '{self.cfg.modality}': choose from {sorted(SOURCES)}")
        self.encoder = None
        self.counts = {"frames": 0, "missing": 0, "ms_total": 0.0}
        self.last_reason = ""
        self.start()

    def load(self) -> None:
        if self.cfg.modality == BEAM_MODALITY:
            path = "no checkpoint: the previous frame's optimal beam"
            self.encoder = DelayedBeam(contract.NUM_BEAMS, self.cfg.feature_dim)
        else:
            path = self.cfg.checkpoint or resolve_resource(str(default_checkpoint(self.cfg.modality)))
            self.encoder = OnlineEncoder(self.cfg.modality, path, self.cfg.device)
        self.topic, self.msg_type, self.decode = SOURCES[self.cfg.modality]
        out = contract.feature_topic(self.cfg.modality)
        self.pub = self.create_lifecycle_publisher(Image, out.node_name, qos(out.qos))
        self.diag_pub = self.create_lifecycle_publisher(DiagnosticArray, contract.DIAGNOSTICS.node_name,
                                                        qos(contract.DIAGNOSTICS.qos))
        self.get_logger().info(f"{self.topic.name} -> {out.name} with {path}")

    def activate(self) -> list:
        return [sensor_subscription(self, self.msg_type, self.topic, self.on_msg),
                self.create_timer(1.0, self.publish_diagnostics)]

    def release(self) -> None:
        self.destroy_publisher(self.pub)
        self.destroy_publisher(self.diag_pub)
        self.encoder = None

    def on_msg(self, msg) -> None:
        try:
            feats, reason, seconds = self.encoder.encode(self.decode(msg))
        except Exception as exc:   # a malformed message must not stop the stream
            feats, reason, seconds = None, f"{type(exc).__name__}: {exc}", 0.0
        self.counts["frames"] += 1
        self.counts["ms_total"] += 1e3 * seconds
        if feats is None:
            self.counts["missing"] += 1
            self.last_reason = reason
            self.get_logger().warning(f"{self.cfg.modality} input unusable ({reason}); publishing 'missing'",
                                      throttle_duration_sec=5.0)
        self.pub.publish(feature_msg(msg.header, feats))

    def publish_diagnostics(self) -> None:
        n = max(1, self.counts["frames"])
        status = DiagnosticStatus(
            level=DiagnosticStatus.OK if not self.counts["missing"] else DiagnosticStatus.WARN,
            name=f"{self.get_name()}", message=self.last_reason or "ok", hardware_id=self.cfg.modality,
            values=[KeyValue(key="frames", value=str(self.counts["frames"])),
                    KeyValue(key="missing", value=str(self.counts["missing"])),
                    KeyValue(key="encode_ms_mean", value=f"{self.counts['ms_total'] / n:.2f}")])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)

    def close(self) -> None:
        c = self.counts
        print(f"{self.get_name()}: {c['frames']} frames, {c['missing']} missing, "
              f"{c['ms_total'] / max(1, c['frames']):.1f} ms mean per frame", flush=True)


def main(args=None) -> None:
    run(EncoderNode, args)


if __name__ == "__main__":
    main()
