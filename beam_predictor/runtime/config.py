"""Per-node configs of the live graph (config/v2i.yaml, one section per node).

The ROS parameters of each node are exactly these fields (declared from the dataclass
defaults, overridden by the YAML and the command line), so a node's parameters and the
offline tools share one definition.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from beam_predictor.config import config_path, load_config
from beam_predictor.sensing.boxes import TrackerSettings


def _p(default, doc: str):
    """A node parameter: its default and the description ROS shows for it."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class PlayerConfig:
    bag: str = _p("", "rosbag2 folder (mcap or sqlite3)")
    rate: float = _p(1.0, "replay speed factor; 0 = as fast as possible")
    start_offset: float = _p(0.0, "seconds skipped from the bag's start")
    loop: bool = _p(False, "replay the bag again from the start when it ends")
    clock_hz: float = _p(100.0, "/clock publications per second of bag time between messages")
    start_delay: float = _p(5.0, "at most this many seconds waiting for subscribers before the first message")
    exit_when_done: bool = _p(True, "exit after the last message (the runner then stops the graph)")


@dataclass(frozen=True)
class TrackerConfig:
    weights: str = _p("models/yolo_twin.pt", "YOLO detector weights (local path; nothing is downloaded)")
    camera_meta: str = _p("", "twin_meta.json with the camera model; \"\" = UE never associated")
    conf: float = _p(0.25, "detection confidence threshold")
    imgsz: int = _p(320, "YOLO inference size (pixels)")
    gps_tolerance: float = _p(0.06, "s: UE fix matched to a camera frame within this")
    max_wait: float = _p(0.1, "s (wall): a camera frame waits at most this for the UE fix of its stamp")
    gap_reset: float = _p(1.0, "s without frames starts a new sequence (tracks forgotten)")
    annotate: bool = _p(True, "publish the annotated camera image for RViz (costs a JPEG encode)")
    threads: int = _p(1, "torch CPU threads of this process (1: several nodes share the cores)")


@dataclass(frozen=True)
class EncoderNodeConfig:
    modality: str = _p("image", "image | radar | lidar | gps")
    checkpoint: str = _p("", "encoder checkpoint; \"\" = models/encoders/encoder_<modality>.pt")
    device: str = _p("cpu", "torch device: cpu or cuda[:n] (fails clearly without CUDA)")
    threads: int = _p(1, "torch CPU threads of this process (1: several nodes share the cores)")


@dataclass(frozen=True)
class FusionNodeConfig:
    checkpoint: str = _p("models/m2beamllm.pt", "predictor checkpoint (beam-predictor train)")
    site: str = _p("", "site geometry file (twin_meta.json or a site YAML) of this deployment; \"\" = the "
                       "site the checkpoint was trained at")
    device: str = _p("cpu", "torch device: cpu or cuda[:n] (fails clearly without CUDA)")
    threads: int = _p(1, "torch CPU threads of this process (1: several nodes share the cores)")
    tolerance: float = _p(0.02, "s: features within this of each other belong to one frame")
    max_wait: float = _p(0.15, "s (wall): a frame missing an input is fused without it after this")
    top_k: int = _p(3, "ranked beam candidates per step in the command")
    diagnostics_period: float = _p(1.0, "s between /diagnostics messages")
    autostart: bool = _p(True, "configure and activate at start (lifecycle)")


@dataclass(frozen=True)
class BeamformerConfig:
    report: str = _p("reports/closed_loop", "folder of the CSV + PNG report written at shutdown")
    twin_config: str = _p("config/twin_sample.yaml", "array and PA waveguide geometry of the scene")
    match_window: float = _p(5.0, "s of measured power kept to match late commands")
    truth_reliable: bool = _p(True, "subscribe the measured power reliably (every replayed frame is scored); "
                                    "false for a best-effort live power publisher")
    metrics_period: float = _p(1.0, "s between live metric publications")


def tracker_settings(graph_config: str | Path | None = None) -> TrackerSettings:
    """The live tracker node's settings (``yolo_tracker`` of config/v2i.yaml), so that training and
    evaluation compute their box series exactly as the node does."""
    cfg = load_config(TrackerConfig, graph_config or config_path("v2i.yaml"), section="yolo_tracker")
    return TrackerSettings(weights=cfg.weights, conf=cfg.conf, imgsz=cfg.imgsz, gap_reset_s=cfg.gap_reset)
