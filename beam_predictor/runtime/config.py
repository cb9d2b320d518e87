"""Per-node configs of the live graph, and the ROS 2 parameters file that sets them.

The ROS parameters of each node are exactly these fields: declared from the dataclass
defaults (the one source of defaults), set by a standard ROS 2 parameters file
(config/v2i.params.yaml: ``<node>: ros__parameters: {...}``) and the command line, so a
node's parameters and the offline tools share one definition.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from beam_predictor.config import ConfigError, config_path, from_mapping, read_yaml, resolve_resource
from beam_predictor.sensing.boxes import TrackerSettings


def _p(default, doc: str, path: bool = False, dynamic: bool = False):
    """A node parameter: its default and the description ROS shows for it.  ``path``: a file
    the node reads, resolved by :func:`resolve_paths` (working directory, then the package's
    shipped copy).  ``dynamic``: `ros2 param set` changes it in the running node; every other
    parameter is declared read-only, so `ros2 param set` refuses it instead of pretending."""
    return field(default=default, metadata={"doc": doc, "path": path, "dynamic": dynamic})


# the model-serving parameters of the tracker, the encoders and the fusion node
def _silent_after():
    return _p(3, "frames an input must miss in a row before frames stop waiting max_wait for it (a dead "
                 "sensor then adds no latency; its next message ends it); 0 = always wait")


def _threads():
    return _p(1, "CPU threads of this process's model, torch or ONNX Runtime (1: the graph's processes share "
                 "the cores)")


def _runtime():
    return _p("auto", "inference runtime: auto (ONNX Runtime on the CPU, torch on CUDA), onnxruntime or "
                      "torch")


def _drop_stale():
    return _p(True, "run the model on the newest frame only: a frame replaced by a newer one while the model "
                    "was busy is skipped and counted (false: every frame, in order)")


def resolve_paths(cfg):
    """``cfg`` with every file parameter resolved by :func:`beam_predictor.config.resolve_resource`,
    so a node started by ``ros2 run`` or ``ros2 launch`` from any folder finds the shipped files."""
    return dataclasses.replace(cfg, **{f.name: resolve_resource(getattr(cfg, f.name))
                                       for f in dataclasses.fields(cfg) if f.metadata.get("path")})


@dataclass(frozen=True)
class PlayerConfig:
    bag: str = _p("", "rosbag2 folder (mcap or sqlite3)", path=True)
    rate: float = _p(1.0, "replay speed factor; 0 = as fast as possible")
    start_offset: float = _p(0.0, "seconds skipped from the bag's start")
    loop: bool = _p(False, "replay the bag again from the start when it ends")
    loop_passes: int = _p(0, "with loop: stop after this many passes of the bag; 0 = never")
    clock_hz: float = _p(40.0, "/clock publications per second between messages (as `ros2 bag play "
                               "--clock`'s default; every use_sim_time node wakes for each)")
    start_timeout: float = _p(120.0, "s: at most this long waiting for the graph (a subscriber on every "
                                     "sensor topic, wait_for active) before the first message")
    wait_topics: str = _p("", "comma-separated topic[:count] that must have (count, default 1) subscribers "
                              "before the replay starts; \"\" = one on every sensor topic of the bag (the "
                              "launch lists its nodes' readers)")
    wait_for: str = _p("llm_fusion", "lifecycle node that must be active before the replay starts; "
                                     "\"\" = none")
    offered_qos: str = _p("reliable", "reliable: sensor topics offered reliable (every subscriber matches, "
                                      "nothing is lost on loopback); recorded: the QoS the bag recorded, "
                                      "as `ros2 bag play` offers it")
    exit_when_done: bool = _p(True, "exit after the last message (the runner then stops the graph)")
    lockstep: bool = _p(False, "replay a frame only once the fusion node has acknowledged the previous one "
                               "on /bp/fused (never faster than rate): every frame reaches every stage, "
                               "whatever the machine's speed (the integration test's mode)")
    lockstep_timeout: float = _p(10.0, "s: lock-step waits at most this for a frame's acknowledgement")
    acks_per_frame: int = _p(1, "lock-step: /bp/fused acknowledgements of each frame to wait for (one per "
                                "fusion-stage node: llm_fusion, llm_pass; the launch sets it)")
    faults: str = _p("", "fault injection for tests and `make faults`: comma-separated "
                         "KIND[:TOPIC]@START+DURATION (s of bag time) with KIND silent, empty, nan or "
                         "clock_stop (runtime/inject.py); "
                         "\"\" = replay the bag as recorded")


@dataclass(frozen=True)
class TrackerConfig:
    weights: str = _p("models/yolo_twin.pt", "YOLO detector weights (local path; nothing is downloaded)",
                      path=True)
    site: str = _p("", "site file (site.yaml, or a twin's twin_meta.json) whose camera projects the UE's GPS "
                       "fix into the image; \"\" or no camera section = calibration-free association",
                   path=True)
    association: str = _p("auto", "UE association: auto (camera when the site has one, else moving), camera, "
                                  "or moving (the largest moving track; needs no calibration)")
    conf: float = _p(0.25, "detection confidence threshold")
    imgsz: int = _p(320, "YOLO inference size (pixels)")
    users: int = _p(1, "users tracked at once (paper 003): 1 = the UE only; U > 1 also follows the fixes of "
                       "/ue3/gps/fix .. /ue<U+1>/gps/fix and publishes every user's box on /bp/user_boxes "
                       "(needs the site's camera)")
    gps_tolerance: float = _p(0.06, "s: UE fix matched to a camera frame within this")
    max_wait: float = _p(0.1, "s (wall): a camera frame waits at most this for the UE fix of its stamp")
    silent_after: int = _silent_after()
    gap_reset: float = _p(1.0, "s without frames starts a new sequence (tracks forgotten)")
    annotate: bool = _p(True, "publish the annotated camera image for RViz (costs a JPEG encode)",
                        dynamic=True)
    threads: int = _threads()
    runtime: str = _runtime()
    drop_stale: bool = _drop_stale()
    autostart: bool = _p(True, "configure (load the detector) and activate at start (lifecycle)")


@dataclass(frozen=True)
class EncoderNodeConfig:
    modality: str = _p("image", "image | radar | lidar | gps | beam (the previous frame's optimal beam), or "
                                "several comma-separated (image,radar,lidar,gps): one node encodes them all")
    feature_dim: int = _p(64, "beam: width of its features (the predictor's fusion.feature_dim)")
    checkpoint: str = _p("", "encoder checkpoint (one modality), or a folder of encoder_<modality>.pt; "
                             "\"\" = models/encoders", path=True)
    device: str = _p("cpu", "torch device: cpu or cuda[:n] (fails clearly without CUDA)")
    threads: int = _threads()
    runtime: str = _runtime()
    drop_stale: bool = _drop_stale()
    autostart: bool = _p(True, "configure (load the encoder) and activate at start (lifecycle)")


@dataclass(frozen=True)
class FusionNodeConfig:
    checkpoint: str = _p("models/m2beamllm.pt", "predictor checkpoint (beam-predictor train)", path=True)
    site: str = _p("", "site geometry file (twin_meta.json or a site YAML) of this deployment; \"\" = the "
                       "site the checkpoint was trained at", path=True)
    device: str = _p("cpu", "torch device: cpu or cuda[:n] (fails clearly without CUDA)")
    threads: int = _threads()
    runtime: str = _runtime()
    tolerance: float = _p(0.02, "s: features within this of each other belong to one frame", dynamic=True)
    max_wait: float = _p(0.15, "s (wall): a frame missing an input is fused without it after this",
                         dynamic=True)
    silent_after: int = _silent_after()
    top_k: int = _p(16, "ranked beam candidates per step in the command (the beamformer's refine_k sweeps "
                        "at most this many)")
    diagnostics_period: float = _p(1.0, "s between /diagnostics messages")
    drop_stale: bool = _drop_stale()
    autostart: bool = _p(True, "configure and activate at start (lifecycle)")


@dataclass(frozen=True)
class PassNodeConfig:
    checkpoint: str = _p("models/llm_pass.pt", "LLM-PASS checkpoint (beam-predictor pass --save)", path=True)
    site: str = _p("", "site geometry file of this deployment; \"\" = the site the checkpoint was trained at",
                   path=True)
    threads: int = _threads()
    tolerance: float = _p(0.02, "s: boxes and fixes within this of each other belong to one frame")
    max_wait: float = _p(0.15, "s (wall): a frame missing an input is served without it after this")
    silent_after: int = _silent_after()
    autostart: bool = _p(True, "configure and activate at start (lifecycle)")


@dataclass(frozen=True)
class BeamformerConfig:
    report: str = _p("", "folder of the CSV + PNG report written at shutdown; \"\" = "
                         "$ROS_HOME/beam_predictor/closed_loop")
    twin_config: str = _p("config/twin_sample.yaml", "array and PA waveguide geometry of the scene",
                          path=True)
    match_window: float = _p(5.0, "s of measured power kept to match late commands", dynamic=True)
    truth_reliable: bool = _p(True, "subscribe the measured power reliably (every replayed frame is scored); "
                                    "false for a best-effort live power publisher")
    metrics_period: float = _p(1.0, "s between live metric publications")
    watchdog: float = _p(2.0, "s (wall) of frames without commands before a WARN on /diagnostics")
    refine_k: int = _p(0, "beams of the command's ranking measured before applying the strongest (0 = apply "
                          "the prediction); at most the fusion node's top_k", dynamic=True)
    refine_curve: tuple[int, ...] = _p((0, 1, 3, 5, 16), "K values every frame is also scored at (loss "
                                                         "against the sweep overhead K / 64)")
    pass_config: str = _p("config/pass.yaml", "LLM-PASS link settings (transmit power, noise figure, min "
                                              "SINR, Top-K) PASS commands are scored with", path=True)
    watchdog_warmup: int = _p(8, "frames after a quiet spell (a pass's start) that come without commands "
                                 "by design: the fusion node's history H (the launch sets it from the "
                                 "checkpoint)")


PARAMS_FILE = "v2i.params.yaml"
COMMON_PARAMETERS = ("use_sim_time",)     # ROS's own, accepted in any node's section


def read_params_file(path: str | Path) -> dict[str, dict]:
    """The sections of a ROS 2 parameters file: node key -> its ``ros__parameters`` mapping."""
    path = Path(path)
    doc = read_yaml(path, "parameters file")
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected node keys at the top level")
    out = {}
    for key, body in doc.items():
        if not isinstance(body, dict) or set(body) != {"ros__parameters"} or \
                not isinstance(body["ros__parameters"], dict):
            raise ConfigError(f"{path}: '{key}' must hold exactly one mapping 'ros__parameters' "
                              "(the ROS 2 parameters file format)")
        out[str(key)] = body["ros__parameters"]
    return out


def node_key_matches(key: str, fqn: str) -> bool:
    """Whether a parameters-file node key names the node ``fqn`` (``/ns/name``): exact names,
    ``*`` for one namespace or name token and ``/**`` for any namespace, as rcl reads them."""
    key = key if key.startswith("/") else "/" + key
    pattern = re.escape(key).replace(r"/\*\*", "(/[^/]+)*").replace(r"\*", "[^/]+")
    return re.fullmatch(pattern, fqn) is not None


def _ros_level(key: str) -> bool:
    """Parameters rclpy itself declares (use_sim_time, the QoS overrides of sensor subscriptions)."""
    return key in COMMON_PARAMETERS or key.startswith("qos_overrides.")


def node_parameters(path: str | Path, cls, name: str, namespace: str = "",
                    sections: dict[str, dict] | None = None) -> tuple:
    """(``cls`` filled from every section of the parameters file that names node ``name``, in file
    order; the QoS overrides those sections set, which rclpy declares itself).  A key the node does
    not have is an error naming the file and the section, except in a section for every node
    (``/**``), which may hold parameters of other nodes.  ``sections``: the file already read."""
    fqn = "/" + "/".join(t for t in (namespace.strip("/"), name) if t)
    fields = {f.name for f in dataclasses.fields(cls)}
    merged, ros_level = {}, {}
    for key, params in (read_params_file(path) if sections is None else sections).items():
        if not node_key_matches(key, fqn):
            continue
        if key.strip("/") != "**":
            unknown = sorted(k for k in set(params) - fields if not _ros_level(k))
            if unknown:
                raise ConfigError(f"{path}:{key}: unknown parameter(s) {unknown} of node {name}; "
                                  f"known: {sorted(fields)}")
        merged.update({k: v for k, v in params.items() if k in fields})
        ros_level.update({k: v for k, v in params.items() if _ros_level(k) and k not in COMMON_PARAMETERS})
    return from_mapping(cls, merged, f"{path} (node {fqn})"), ros_level


def wait_counts(text: str) -> dict[str, int]:
    """``PlayerConfig.wait_topics`` ("topic[:count],...") as {topic: subscribers to wait for}."""
    out = {}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        topic, _, count = item.partition(":")
        if count and not count.isdigit():
            raise ConfigError(f"wait_topics item '{item}': expected topic or topic:count")
        out[topic] = int(count or 1)
    return out


def tracker_settings(params_file: str | Path | None = None) -> TrackerSettings:
    """The live tracker node's settings (``yolo_tracker`` of config/v2i.params.yaml), so that
    training and evaluation compute their box series exactly as the node does."""
    cfg, _ = node_parameters(params_file or config_path(PARAMS_FILE), TrackerConfig, "yolo_tracker")
    return TrackerSettings(weights=cfg.weights, conf=cfg.conf, imgsz=cfg.imgsz, gap_reset_s=cfg.gap_reset,
                           association=cfg.association, runtime=cfg.runtime)
