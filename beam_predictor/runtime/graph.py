"""The V2I node graph, described once for both ``launch/v2i.launch.py`` and ``beam-predictor launch``.

``build_graph`` turns the launch arguments, config/v2i.yaml (encoders, remappings), the ROS 2
parameters file config/v2i.params.yaml and contract.STATIC_TRANSFORMS into :class:`NodeSpec`s:
which executable, node name, namespace, parameters and remappings.  The ROS 2 launch file
maps each spec to a ``launch_ros`` Node (LifecycleNode for the model-holding tracker, encoders
and fusion node); the runner
(:mod:`beam_predictor.runtime.runner`) starts the beam_predictor specs as processes with
the same parameters.  External nodes (tf2_ros static transforms, RViz) are started by the
launch file only: those packages cannot be installed here, and the runner says so.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from beam_predictor import contract
from beam_predictor.config import ConfigError, config_path, resolve_resource, to_mapping
from beam_predictor.runtime.config import (PARAMS_FILE, BeamformerConfig, EncoderNodeConfig, FusionNodeConfig,
                                           PassNodeConfig, PlayerConfig, TrackerConfig, node_parameters,
                                           read_params_file, resolve_paths)

PACKAGE = "beam_predictor"

# name -> (default, description); the launch file declares exactly these.
LAUNCH_ARGUMENTS: dict[str, tuple[str, str]] = {
    "bag": ("rosbags/twin_sample",
            "rosbag2 folder to replay (relative: from the working directory); none = no player: live "
            "sensors or `ros2 bag play`"),
    "rate": ("1.0", "replay speed factor (0 = as fast as possible)"),
    "use_sim_time": ("auto", "use the /clock of the replay; 'auto' = true when a bag is given"),
    "device": ("", "torch device of the encoders and the fusion node: cpu or cuda[:n]; '' = the "
                   "params file's"),
    "checkpoint": ("", "predictor checkpoint of the fusion node; '' = the params file's"),
    "system": ("beam", "what the graph serves: beam (the encoders and the M2BeamLLM fusion node: the array's "
                       "beam and one PA placement), pass (paper 003: the llm_pass node places every user's "
                       "pinching antennas from the tracker's per-user boxes and their fixes), or both"),
    "pass_checkpoint": ("", "LLM-PASS checkpoint of the llm_pass node (system pass or both); '' = the params "
                            "file's"),
    "runtime": ("", "inference runtime of the tracker, the encoders and the fusion node: auto, onnxruntime "
                    "or torch; '' = the params file's"),
    "encoder_processes": ("", "one (the encoders of every modality in one node and process) or per_modality "
                              "(an encoder_<modality> node each); '' = config/v2i.yaml's"),
    "lockstep": ("false", "replay each frame only once the fusion node has acknowledged the previous one "
                          "(every frame reaches every stage, however slow the machine); the synchronizers "
                          "then wait up to half the player's lockstep_timeout for a frame's inputs"),
    "params_file": ("", "ROS 2 parameters file of the nodes; '' = the shipped config/v2i.params.yaml"),
    "rviz": ("false", "start RViz with config/v2i.rviz"),
    "static_tf": ("true", "start the tf2_ros static transforms of the sensor frames (false where tf2_ros "
                          "is not installed)"),
    "namespace": ("", "namespace of every node"),
    "site": ("", "site file of this deployment (site.yaml or a twin's twin_meta.json; relative: from the "
                 "working directory) for the tracker's camera and the fusion node's geometry; '' = the "
                 "params file's"),
    "report": ("", "folder of the beamformer's closed-loop report; '' = "
                   "$ROS_HOME/beam_predictor/closed_loop"),
}

NO_BAG = ("", "none")


def has_player(args: dict[str, str]) -> bool:
    """Whether the launch arguments start the bag player (bag:=none, or an empty bag, starts none)."""
    return str(args.get("bag", "")).strip().lower() not in NO_BAG


def graph_env(base: dict | None = None) -> dict[str, str]:
    """Environment variables every node of the graph runs with, set by the launch file and the runner:
    discovery on loopback only, the Fast DDS profile config/fastdds_loopback.xml (shared memory
    sized for 1 MB radar cubes, UDP on 127.0.0.1; kept when ``base`` already names a profile),
    and no hub access for transformers / ultralytics."""
    base = os.environ if base is None else base
    return {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            "FASTDDS_DEFAULT_PROFILES_FILE": base.get("FASTDDS_DEFAULT_PROFILES_FILE")
            or str(config_path("fastdds_loopback.xml")),
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "YOLO_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


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
    respawn: bool = False               # restarted RESPAWN_DELAY s after an unexpected exit

    @property
    def external(self) -> bool:
        return self.package != PACKAGE


def _truthy(value: str) -> bool:
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no", ""):
        return False
    raise ConfigError(f"launch argument: expected true/false, got '{value}'")


DEFAULT_ENCODERS = ("image", "radar", "lidar", "gps")
SYSTEMS = ("beam", "pass", "both")
ENCODER_PROCESSES = ("one", "per_modality")
ENCODERS_NODE = "encoders"          # the node of encoder_processes: one
# s: a node of the graph that dies is started again after this (not 0: a node that fails at its start
# would respawn in a tight loop)
RESPAWN_DELAY = 0.5
# s: a node asked to stop (SIGINT) gets this long to write its reports and exit before it is
# escalated (launch: SIGTERM; beam-predictor launch: SIGKILL); 5 s, launch's default, is too
# short for the fusion node on a busy 2-core machine
SHUTDOWN_TIMEOUT = 20.0


def checkpoint_inputs(path: str) -> tuple[tuple[str, ...], int | None, bool, int | None]:
    """(modalities, feature width, reads the camera itself, history H) of the predictor checkpoint: the
    encoder nodes to start and the beamformer watchdog's warm-up.  An unreadable checkpoint gives the
    default encoders (the fusion node then reports the checkpoint)."""
    from beam_predictor.model.checkpoint import CheckpointError, read_config
    try:
        cfg = read_config(path)
    except (CheckpointError, ConfigError, OSError):
        return DEFAULT_ENCODERS, None, False, None
    return cfg.feature_modalities, cfg.fusion.feature_dim, cfg.needs_image, cfg.task.history


def pass_users(path: str) -> int:
    """Users the LLM-PASS checkpoint serves (the tracker follows that many); an unreadable checkpoint gives
    1 (the llm_pass node then reports the checkpoint)."""
    from beam_predictor.model.errors import CheckpointError
    from beam_predictor.model.pass_checkpoint import read_pass_config
    try:
        return read_pass_config(path).users
    except (CheckpointError, ConfigError, OSError):
        return 1


def with_parameters(specs, by_node: dict[str, dict]) -> list[NodeSpec]:
    """``specs`` with parameters set on the named nodes (as a params file's section would), e.g. a
    test's report folder or the player's fault plan."""
    unknown = set(by_node) - {s.name for s in specs}
    if unknown:
        raise ConfigError(f"no node {sorted(unknown)} in the graph ({[s.name for s in specs]})")
    return [dataclasses.replace(s, parameters={**s.parameters, **by_node.get(s.name, {})}) for s in specs]


def build_graph(args: dict[str, str] | None = None, config_file: str | Path | None = None) -> list[NodeSpec]:
    """The nodes of the V2I graph for the given launch arguments (defaults from LAUNCH_ARGUMENTS)."""
    a = {k: v[0] for k, v in LAUNCH_ARGUMENTS.items()}
    a.update({k: str(v) for k, v in (args or {}).items() if v is not None})
    unknown = sorted(set(a) - set(LAUNCH_ARGUMENTS))
    if unknown:
        raise ConfigError(f"unknown launch argument(s) {unknown}; known: {sorted(LAUNCH_ARGUMENTS)}")
    path = Path(config_file) if config_file else config_path("v2i.yaml")
    doc = yaml.safe_load(path.read_text()) or {}
    params_file = resolve_resource(a["params_file"]) if a["params_file"] else config_path(PARAMS_FILE)
    sections = read_params_file(params_file)
    namespace = a["namespace"]

    def _params(cls, name: str, **overrides) -> dict:
        """The node's parameters: the dataclass defaults, the params file, then the launch arguments."""
        cfg, ros_level = node_parameters(params_file, cls, name, namespace, sections)
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v not in (None, "")})
        return {**to_mapping(resolve_paths(cfg)), **ros_level}
    replay = has_player(a)
    sim = replay if a["use_sim_time"] == "auto" else _truthy(a["use_sim_time"])
    remap = doc.get("remappings") or {}
    common = {"use_sim_time": sim}

    def spec(name, executable, module, params, **kw):
        """A node of the graph proper (not the player): respawned when it dies."""
        return NodeSpec(name, executable, module=f"{PACKAGE}.nodes.{module}",
                        parameters={**params, **common}, respawn=True,
                        remappings=tuple(tuple(r) for r in remap.get(name, [])), **kw)

    if a["system"] not in SYSTEMS:
        raise ConfigError(f"launch argument system:={a['system']}: choose from {SYSTEMS}")
    beam, pinching = a["system"] in ("beam", "both"), a["system"] in ("pass", "both")
    if _truthy(a["lockstep"]) and not replay:
        raise ConfigError("launch argument lockstep:=true needs a bag to replay")
    player = _params(PlayerConfig, "bag_player", bag=a["bag"], rate=float(a["rate"]),
                     lockstep=_truthy(a["lockstep"]) or None, acks_per_frame=beam + pinching,
                     wait_for=None if beam else "llm_pass") if replay else {}
    # lock-step: a frame's inputs all come, however slowly; the synchronizers wait for them, up to half the
    # player's wait for the frame's acknowledgement (the other half is for fusing it)
    wait = player["lockstep_timeout"] / 2 if player.get("lockstep") else None
    fusion = _params(FusionNodeConfig, "llm_fusion", checkpoint=a["checkpoint"], device=a["device"],
                     site=a["site"], runtime=a["runtime"], max_wait=wait)
    modalities, feature_dim, fusion_reads_camera, history = (checkpoint_inputs(fusion["checkpoint"]) if beam
                                                             else ((), None, False, None))
    encoders = modalities if doc.get("encoders", "auto") == "auto" or not beam else tuple(doc["encoders"])
    llm_pass = _params(PassNodeConfig, "llm_pass", checkpoint=a["pass_checkpoint"], site=a["site"],
                       max_wait=wait) if pinching else {}
    users = pass_users(llm_pass["checkpoint"]) if pinching else 1
    # every other user's fix: read by the tracker and by the llm_pass node
    user_fixes = [contract.USER_GPS_TOPICS[unit].name for unit in range(3, 2 + users)] * 2
    nodes = []
    if replay:
        # the replay waits for every reader of what the graph reads: the tracker's camera and fix, the
        # beamformer's power and frame info, each encoder's source, and the fusion node's camera when its
        # model reads the image itself
        readers = Counter([contract.CAMERA.name, contract.UE_GPS.name, contract.POWER.name,
                           contract.FRAME_INFO.name] + [contract.MODALITY_SOURCE[m].name for m in encoders]
                          + [contract.CAMERA.name] * fusion_reads_camera + [contract.UE_GPS.name] * pinching
                          + user_fixes)
        player["wait_topics"] = ",".join(f"{t}:{n}" for t, n in sorted(readers.items()))
        nodes.append(NodeSpec("bag_player", "bag_player", module=f"{PACKAGE}.nodes.player_node",
                              parameters={**player, "use_sim_time": False}))
    nodes.append(spec("yolo_tracker", "yolo_tracker", "tracker_node",
                      _params(TrackerConfig, "yolo_tracker", site=a["site"], runtime=a["runtime"],
                              max_wait=wait, users=users if pinching else None),
                      lifecycle=True))
    processes = a["encoder_processes"] or doc.get("encoder_processes", "one")
    if processes not in ENCODER_PROCESSES:
        raise ConfigError(f"encoder_processes '{processes}': choose from {ENCODER_PROCESSES}")
    groups = [(ENCODERS_NODE, encoders)] if processes == "one" and encoders else \
        [(f"encoder_{m}", (m,)) for m in encoders]
    for name, group in groups:
        nodes.append(spec(name, "feature_encoder", "encoder_node",
                          _params(EncoderNodeConfig, name, modality=",".join(group), device=a["device"],
                                  feature_dim=feature_dim, runtime=a["runtime"]), lifecycle=True))
    if beam:
        nodes.append(spec("llm_fusion", "llm_fusion", "fusion_node", fusion, lifecycle=True))
    if pinching:
        nodes.append(spec("llm_pass", "llm_pass", "pass_node", llm_pass, lifecycle=True))
    nodes.append(spec("beamformer", "beamformer", "beamformer_node",
                      _params(BeamformerConfig, "beamformer", report=a["report"], watchdog_warmup=history,
                              # `ros2 bag play` offers the recorded (best-effort) QoS: match it
                              truth_reliable=None if replay else False)))
    for child, xyzrpy in contract.STATIC_TRANSFORMS.items() if _truthy(a["static_tf"]) else ():
        x, y, z, roll, pitch, yaw = (str(v) for v in xyzrpy)
        nodes.append(NodeSpec(f"tf_{child}", "static_transform_publisher", package="tf2_ros",
                              arguments=("--x", x, "--y", y, "--z", z, "--roll", roll, "--pitch", pitch,
                                         "--yaw", yaw, "--frame-id", contract.FRAME_BASE_STATION,
                                         "--child-frame-id", child)))
    if _truthy(a["rviz"]):
        nodes.append(NodeSpec("rviz", "rviz2", package="rviz2", parameters=dict(common),
                              arguments=("-d", str(config_path("v2i.rviz")))))
    return nodes
