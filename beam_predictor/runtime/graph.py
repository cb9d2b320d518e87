"""The V2I node graph, described once for both ``launch/v2i.launch.py`` and ``beam-predictor launch``.

``build_graph`` turns the launch arguments and config/v2i.yaml into :class:`NodeSpec`s:
which executable, node name, namespace, parameters and remappings.  The ROS 2 launch file
maps each spec to a ``launch_ros`` Node (LifecycleNode for the fusion node); the runner
(:mod:`beam_predictor.runtime.runner`) starts the beam_predictor specs as processes with
the same parameters.  External nodes (tf2_ros static transforms, RViz) are started by the
launch file only: those packages cannot be installed here, and the runner says so.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from beam_predictor import contract
from beam_predictor.config import PACKAGE_ROOT, ConfigError, config_path, from_mapping, to_mapping
from beam_predictor.runtime.config import (BeamformerConfig, EncoderNodeConfig, FusionNodeConfig,
                                           PlayerConfig,
                                           TrackerConfig)

PACKAGE = "beam_predictor"

# name -> (default, description); the launch file declares exactly these.
LAUNCH_ARGUMENTS: dict[str, tuple[str, str]] = {
    "bag": ("rosbags/twin_sample",
            "rosbag2 folder to replay; '' = no player (live sensors or `ros2 bag play`)"),
    "rate": ("1.0", "replay speed factor (0 = as fast as possible)"),
    "use_sim_time": ("auto", "use the /clock of the replay; 'auto' = true when a bag is given"),
    "device": ("cpu", "torch device of the encoders and the fusion node: cpu or cuda[:n]"),
    "checkpoint": ("models/m2beamllm.pt", "predictor checkpoint for the fusion node"),
    "rviz": ("false", "start RViz with config/v2i.rviz"),
    "static_tf": ("true", "start the tf2_ros static transforms of the sensor frames (false where tf2_ros "
                          "is not installed)"),
    "namespace": ("", "namespace of every node"),
}


@dataclass(frozen=True)
class NodeSpec:
    name: str
    executable: str
    package: str = PACKAGE
    module: str = ""                       # python -m target (beam_predictor nodes)
    parameters: dict = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    arguments: tuple[str, ...] = ()
    lifecycle: bool = False

    @property
    def external(self) -> bool:
        return self.package != PACKAGE


def _truthy(value: str) -> bool:
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no", ""):
        return False
    raise ConfigError(f"launch argument: expected true/false, got '{value}'")


def _params(cls, section: dict | None, where: str, **overrides) -> dict:
    cfg = from_mapping(cls, section or {}, where)
    cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    return to_mapping(cfg)


PATH_PARAMETERS = ("weights", "camera_meta", "checkpoint", "twin_config")


def resolve_path(value: str) -> str:
    """A relative data path as given when it exists from the working directory, else the shipped
    copy (source tree or installed share/beam_predictor) when that exists, else unchanged."""
    import sys
    if not value or Path(value).is_absolute() or Path(value).exists():
        return value
    for root in (PACKAGE_ROOT.parent, Path(sys.prefix) / "share" / PACKAGE):
        if (root / value).exists():
            return str(root / value)
    return value


def _resolved(params: dict) -> dict:
    return {k: resolve_path(v) if k in PATH_PARAMETERS and isinstance(v, str)
            else v for k, v in params.items()}


def build_graph(args: dict[str, str] | None = None, config_file: str | Path | None = None) -> list[NodeSpec]:
    """The nodes of the V2I graph for the given launch arguments (defaults from LAUNCH_ARGUMENTS)."""
    a = {k: v[0] for k, v in LAUNCH_ARGUMENTS.items()}
    a.update({k: str(v) for k, v in (args or {}).items() if v is not None})
    unknown = sorted(set(a) - set(LAUNCH_ARGUMENTS))
    if unknown:
        raise ConfigError(f"unknown launch argument(s) {unknown}; known: {sorted(LAUNCH_ARGUMENTS)}")
    path = Path(config_file) if config_file else config_path("v2i.yaml")
    doc = yaml.safe_load(path.read_text()) or {}
    sim = bool(a["bag"]) if a["use_sim_time"] == "auto" else _truthy(a["use_sim_time"])
    remap = doc.get("remappings") or {}
    common = {"use_sim_time": sim}

    def spec(name, executable, module, params, **kw):
        return NodeSpec(name, executable, module=f"{PACKAGE}.nodes.{module}",
                        parameters={**_resolved(params), **common},
                        remappings=tuple(tuple(r) for r in remap.get(name, [])), **kw)

    nodes = []
    if a["bag"]:
        player = _params(PlayerConfig, doc.get("bag_player"), f"{path}:bag_player", bag=a["bag"],
                         rate=float(a["rate"]))
        nodes.append(NodeSpec("bag_player", "bag_player", module=f"{PACKAGE}.nodes.player_node",
                              parameters={**player, "use_sim_time": False}))
    nodes.append(spec("yolo_tracker", "yolo_tracker", "tracker_node",
                      _params(TrackerConfig, doc.get("yolo_tracker"), f"{path}:yolo_tracker")))
    for modality in doc.get("encoders", ["image", "radar", "lidar", "gps"]):
        nodes.append(spec(f"encoder_{modality}", "feature_encoder", "encoder_node",
                          _params(EncoderNodeConfig, doc.get("encoder"), f"{path}:encoder", modality=modality,
                                  device=a["device"], checkpoint=(doc.get("encoder") or {}).get(
                                      "checkpoint") or f"models/encoders/encoder_{modality}.pt")))
    nodes.append(spec("llm_fusion", "llm_fusion", "fusion_node",
                      _params(FusionNodeConfig, doc.get("llm_fusion"), f"{path}:llm_fusion",
                              checkpoint=a["checkpoint"], device=a["device"]), lifecycle=True))
    nodes.append(spec("beamformer", "beamformer", "beamformer_node",
                      _params(BeamformerConfig, doc.get("beamformer"), f"{path}:beamformer")))
    for child, xyzrpy in (doc.get("static_transforms") or {}).items() if _truthy(a["static_tf"]) else ():
        x, y, z, roll, pitch, yaw = (str(v) for v in xyzrpy)
        nodes.append(NodeSpec(f"tf_{child}", "static_transform_publisher", package="tf2_ros",
                              arguments=("--x", x, "--y", y, "--z", z, "--roll", roll, "--pitch", pitch,
                                         "--yaw", yaw, "--frame-id", contract.FRAME_BASE_STATION,
                                         "--child-frame-id", child)))
    if _truthy(a["rviz"]):
        nodes.append(NodeSpec("rviz", "rviz2", package="rviz2", parameters=dict(common),
                              arguments=("-d", str(config_path("v2i.rviz")))))
    return nodes
