"""The topic and message contract of beam_predictor: the single source of truth.

Every topic name, message type, frame id and QoS profile used by the converter,
the bag reader and the ROS nodes is defined here and imported from here.  The
module is plain Python (no rclpy), so the offline tools can use it too; nodes
turn :class:`QoS` into an ``rclpy.qos.QoSProfile`` with ``nodes.qos``.

Message layouts that are not obvious from the type are documented on the
:class:`Topic` entries below (radar cube as ``sensor_msgs/Image``, the 64-beam
power as ``sensor_msgs/LaserScan``, per-frame DeepSense metadata as
``diagnostic_msgs/DiagnosticArray``).
"""
from __future__ import annotations

from dataclasses import dataclass

# --- Array and codebook (DeepSense 6G unit 1); the physics lives in beam_predictor.physics ---
from beam_predictor.physics.array import (CARRIER_HZ, CODEBOOK_FOV_DEG, NUM_ANTENNAS,  # noqa: F401
                                          NUM_BEAMS, codebook_angles_rad)

# --- Radar cube (DeepSense: complex64, RX x fast-time samples x chirps) ---
RADAR_NUM_RX = 4
RADAR_NUM_SAMPLES = 256
RADAR_CHIRP_COUNTS = (128, 250)   # 128 in most scenarios, 250 in the challenge release
RADAR_ENCODING = "32FC2"           # real, imaginary interleaved = numpy complex64

# --- Nominal sampling ---
FRAME_RATE_HZ = 10.0


@dataclass(frozen=True)
class QoS:
    """A ROS-independent description of a QoS profile."""

    reliability: str   # "best_effort" | "reliable"
    durability: str    # "volatile" | "transient_local"
    depth: int


# Sensor streams: best effort, keep last, shallow.  A best-effort subscriber
# accepts reliable and best-effort publishers alike (bag players often offer reliable).
SENSOR_QOS = QoS("best_effort", "volatile", 5)
# Predictions and commands: reliable, shallow.
COMMAND_QOS = QoS("reliable", "volatile", 10)
# Values that never change during a run (base-station position): latched.
LATCHED_QOS = QoS("reliable", "transient_local", 1)


GLOBAL_TOPICS = ("/clock", "/diagnostics", "/tf", "/tf_static")


@dataclass(frozen=True)
class Topic:
    """One topic of the contract.  ``name`` is the recorded name (in bags, in the docs)."""

    name: str
    msgtype: str       # rosbags / ROS 2 full type name
    frame_id: str
    qos: QoS
    doc: str

    @property
    def node_name(self) -> str:
        """The name the nodes use: relative, so a node namespace moves the whole graph
        (``namespace:=car1``: /car1/bs/camera/image/compressed, /car1/bp/beam_command); /clock,
        /diagnostics and tf stay global, as ROS tools expect them."""
        return self.name if self.name in GLOBAL_TOPICS else self.name.lstrip("/")


# Frame ids (REP-103/105): `base_station` is the base-station body frame on the pole.
FRAME_BASE_STATION = "base_station"
FRAME_CAMERA = "bs_camera_optical"
FRAME_LIDAR = "bs_lidar"
FRAME_RADAR = "bs_radar"
FRAME_ARRAY = "bs_mmwave_array"
FRAME_GPS_UE = "ue_gps"
FRAME_GPS_BS = "bs_gps"

CAMERA = Topic(
    "/bs/camera/image/compressed", "sensor_msgs/msg/CompressedImage", FRAME_CAMERA, SENSOR_QOS,
    "Camera frame; `format` = 'jpeg', `data` = the DeepSense JPEG bytes unchanged.")
LIDAR = Topic(
    "/bs/lidar/points", "sensor_msgs/msg/PointCloud2", FRAME_LIDAR, SENSOR_QOS,
    "Unorganised cloud (height 1), fields x, y, z, intensity as FLOAT32, little endian, "
    "point_step 16.")
RADAR = Topic(
    "/bs/radar/cube", "sensor_msgs/msg/Image", FRAME_RADAR, SENSOR_QOS,
    "Raw FMCW cube. encoding '32FC2' (complex64), height = RX * samples (RX-major: row "
    "r * samples + s), width = chirps, step = width * 8, is_bigendian 0. RX = "
    f"{RADAR_NUM_RX}; samples = height / RX.")
POWER = Topic(
    "/bs/mmwave/power", "sensor_msgs/msg/LaserScan", FRAME_ARRAY, SENSOR_QOS,
    "Measured 64-beam received power. One reading per codebook beam: angle_min/max = "
    "codebook edges, `intensities` = linear power, `ranges` = power / max power (RViz draws a "
    "beam fan). The optimal beam is argmax + 1 (1-based); the dataset label is in FRAME_INFO.")
UE_GPS = Topic(
    "/ue/gps/fix", "sensor_msgs/msg/NavSatFix", FRAME_GPS_UE, SENSOR_QOS,
    "Vehicle (unit 2) position: latitude, longitude in degrees; altitude NaN when unknown.")
BS_GPS = Topic(
    "/bs/gps/fix", "sensor_msgs/msg/NavSatFix", FRAME_GPS_BS, LATCHED_QOS,
    "Base-station (unit 1) position, latched: written once, before the first frame.")
TF_STATIC = Topic(
    "/tf_static", "tf2_msgs/msg/TFMessage", FRAME_BASE_STATION, LATCHED_QOS,
    "The sensor frames' static transforms from base_station (STATIC_TRANSFORMS), written once "
    "into every bag, so `ros2 bag play` plus RViz alone shows a consistent tree.")

# Static transforms from base_station (REP-103: x forward to the street, y left, z up):
# child frame -> (x, y, z, roll, pitch, yaw) in metres and radians, fixed-axis roll-pitch-yaw as
# tf2 uses.  Written into every bag (/tf_static) and published by the launch file.
STATIC_TRANSFORMS: dict[str, tuple[float, float, float, float, float, float]] = {
    FRAME_CAMERA: (0.0, 0.0, 0.3, -1.885, 0.0, -1.5708),    # optical frame, pitched 18 deg down
    FRAME_LIDAR: (0.0, 0.0, 0.6, 0.0, 0.0, -1.5708),        # twin clouds use the street's axes
    FRAME_RADAR: (0.0, 0.0, -0.3, 0.0, 0.0, -1.5708),
    FRAME_ARRAY: (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    FRAME_GPS_BS: (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
}
FRAME_INFO = Topic(
    "/deepsense/frame_info", "diagnostic_msgs/msg/DiagnosticArray", FRAME_BASE_STATION, SENSOR_QOS,
    "Per-frame dataset metadata: one DiagnosticStatus named 'deepsense_frame' whose key/values "
    "hold `index`, `seq_index`, `beam` (1-based label), `power_nan` and every extra CSV column "
    "as text. Carries sequence boundaries and extra columns through a bag. A multi-user twin's links "
    "(`unit1_pass_mu`, a file in the scenario) travel as `pass_mu_links`: the complex64 array as "
    "'<shape, x-separated>:<base64 of its bytes>' (bag.messages.encode_array), which the beamformer "
    "scores PASS commands with.")

# Sensor topics written by the converter, in the order they are written per frame.
FRAME_TOPICS = (FRAME_INFO, CAMERA, LIDAR, RADAR, POWER, UE_GPS)
MAX_POWER_ARRAYS = 4


def array_power_topic(k: int) -> "Topic":
    """Array k's own power (a base station with several arrays, scenario 41); POWER then carries
    their union down-sampled to the 64-beam codebook (deepsense.reader)."""
    return Topic(f"/bs/mmwave/power/array_{k}", "sensor_msgs/msg/LaserScan", FRAME_ARRAY, SENSOR_QOS,
                 f"Array {k}'s measured per-beam power (several arrays only), laid out as POWER; POWER "
                 "carries the arrays' union down-sampled to the 64-beam codebook.")


ARRAY_POWER_TOPICS = tuple(array_power_topic(k) for k in range(1, MAX_POWER_ARRAYS + 1))
# Multi-user scenarios (paper 003): users beyond the UE are DeepSense units 3, 4, ... with the
# UE's GPS message on a topic of their own.  The UE (unit 2) keeps UE_GPS.
MAX_USERS = 4


def user_gps_topic(unit: int) -> "Topic":
    """The fix of user ``unit`` (3 .. MAX_USERS + 1) of a multi-user scenario."""
    return Topic(f"/ue{unit}/gps/fix", "sensor_msgs/msg/NavSatFix", f"ue{unit}_gps", SENSOR_QOS,
                 f"Position of the multi-user scenario's user unit {unit}, as UE_GPS (paper 003).")


USER_GPS_TOPICS = {unit: user_gps_topic(unit) for unit in range(3, MAX_USERS + 2)}
# The sensor topic each feature modality is computed from (beam: the previous frame's best beam).
MODALITY_SOURCE = {"image": CAMERA, "radar": RADAR, "lidar": LIDAR, "gps": UE_GPS, "beam": POWER,
                   "sweep": POWER}
ALL_DATA_TOPICS = (BS_GPS,) + FRAME_TOPICS + ARRAY_POWER_TOPICS + tuple(USER_GPS_TOPICS.values())
TOPICS_BY_NAME = {t.name: t for t in ALL_DATA_TOPICS}
# everything a converted bag holds: the data topics and the sensor frames' /tf_static
BAG_TOPICS = {t.name: t for t in ALL_DATA_TOPICS + (TF_STATIC,)}

FRAME_INFO_STATUS_NAME = "deepsense_frame"

# --- Live graph (produced by the beam_predictor nodes) ---


def feature_topic(modality: str) -> "Topic":
    """Per-modality encoder features, stamped with the source frame's stamp."""
    return Topic(f"/bp/features/{modality}", "sensor_msgs/msg/Image", FRAME_BASE_STATION, SENSOR_QOS,
                 "Encoder features as a 1 x M image, encoding '32FC1' (float32), header copied from the "
                 "sensor message (M = the encoders' feature size, config/sensing.yaml). The missing flag: "
                 "width 0 and empty data when the input was unusable (the reason is in the encoder's "
                 "/diagnostics).")


TRACKS = Topic(
    "/bp/tracks", "sensor_msgs/msg/PointCloud2", FRAME_CAMERA, SENSOR_QOS,
    "Every tracked vehicle of a camera frame, one 'point' per track with FLOAT32 fields u_min, v_min, "
    "u_max, v_max (pixels), conf, track_id (-1 = not yet confirmed), is_ue (1 for the UE's track); "
    "header copied from the camera frame.")
UE_BOX = Topic(
    "/bp/ue_box", "geometry_msgs/msg/PolygonStamped", FRAME_CAMERA, SENSOR_QOS,
    "The UE's box in normalised image coordinates (u / width, v / height, 0): two points, the "
    "top-left and bottom-right corners; an empty polygon when the UE is not visible. header copied "
    "from the camera frame.")
USER_BOX_FIELDS = ("unit", "track_id", "u_min", "v_min", "u_max", "v_max")
USER_BOXES = Topic(
    "/bp/user_boxes", "sensor_msgs/msg/PointCloud2", FRAME_CAMERA, SENSOR_QOS,
    "Multi-user scenarios (paper 003, the tracker's `users` > 1): every user's box, keyed by DeepSense unit "
    "(2 = the UE, 3.. = /ue<N>/gps/fix) and track id. One 'point' per user with FLOAT32 fields unit, "
    "track_id (-1 = no track), u_min, v_min, u_max, v_max (normalised as UE_BOX; NaN when the user is "
    "not tracked in this frame); header copied from the camera frame.")
ANNOTATED_IMAGE = Topic(
    "/bp/camera/annotated/compressed", "sensor_msgs/msg/CompressedImage", FRAME_CAMERA, SENSOR_QOS,
    "The camera frame with every track drawn (the UE's box in green, others in grey), JPEG; for RViz.")
BEAM_COMMAND = Topic(
    "/bp/beam_command", "trajectory_msgs/msg/JointTrajectory", FRAME_ARRAY, COMMAND_QOS,
    "The beamformer actuator command. header.stamp = the stamp of the newest sensor frame it was "
    "predicted from. points[k] is offset k frames ahead (k = 0 is now, 1..T the future), "
    "time_from_start = k * frame period. joint_names / positions: 'beam' (0-based codebook index of "
    "the top-1 beam), 'beam_angle' (its steering angle, rad), 'beam_top<i>' and 'prob_top<i>' for "
    "i = 1..K (ranked candidates and their probabilities), 'pa_<n>' (position of pinching antenna n, "
    "metres from the waveguide feed). A phased-array driver applies points[0].")
PASS_COMMAND = Topic(
    "/bp/pass_command", "trajectory_msgs/msg/JointTrajectory", FRAME_ARRAY, COMMAND_QOS,
    "The multi-user pinching-antenna command of the llm_pass node (paper 003). header.stamp = the camera "
    "frame's stamp; one point (now). For each user k = 1..U: 'user<k>_unit' (DeepSense unit), "
    "'user<k>_track_id' (the tracker's id, -1 = none), 'user<k>_waveguide' (0-based; its RF chain), "
    "'user<k>_codeword' (0-based codeword of that waveguide's codebook), 'user<k>_power_share' (its "
    "share of the transmit power in the MMSE precoder), 'user<k>_fallback' (1: not tracked in the "
    "window, the fallback codeword) and 'user<k>_pa_<n>' (PA n's position, metres from that "
    "waveguide's feed). The digital MMSE weights are computed by the base station from the effective "
    "channel it measures once the PAs are placed (the beamformer, from the twin's links).")
CLOSED_LOOP = Topic(
    "/bp/closed_loop", "diagnostic_msgs/msg/DiagnosticArray", FRAME_ARRAY, COMMAND_QOS,
    "Live closed-loop metrics of the beamformer: frames, top1, top3, power_loss_mean_db, "
    "e2e_p50_ms, e2e_p99_ms, ... as key/values of one status 'closed_loop'.")
MARKERS = Topic(
    "/bp/markers", "visualization_msgs/msg/MarkerArray", FRAME_BASE_STATION, COMMAND_QOS,
    "RViz: predicted (green) and optimal (red) beam directions from the array, PA positions on the "
    "waveguide (spheres) and the waveguide itself.")
FUSED = Topic(
    "/bp/fused", "std_msgs/msg/Header", FRAME_ARRAY, COMMAND_QOS,
    "One message per frame the fusion node (and the llm_pass node, when it runs) has taken into its "
    "window, header = that frame's header, sent after its command when it commands one (a frame in the "
    "warm-up of the history has none). The bag player's lock-step mode waits for one per frame from each "
    "of them (its acks_per_frame) before replaying the next frame.")
DIAGNOSTICS = Topic(
    "/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", FRAME_BASE_STATION, COMMAND_QOS,
    "Node health: per-stage latency, frames dropped, modalities missing.")
CLOCK = Topic("/clock", "rosgraph_msgs/msg/Clock", "", QoS("best_effort", "volatile", 1),
              "Simulated time published by the bag player.")
