"""Frames <-> standard ROS 2 messages, following the layouts in :mod:`beam_predictor.contract`.

Messages are rosbags typestore objects (ROS 2 Kilted definitions), so this module
needs neither rclpy nor a ROS install; the ROS nodes convert between these and rclpy
messages field by field.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from beam_predictor import contract as C
from beam_predictor.deepsense.frame import Frame, best_beam

POINTFIELD_FLOAT32 = 7
LIDAR_FIELDS = ("x", "y", "z", "intensity")
EXTRA_PREFIX = "csv:"


class MessageError(ValueError):
    """A message does not follow the contract; names the topic and field."""

    def __init__(self, topic: str, field: str, reason: str):
        self.topic, self.field = topic, field
        super().__init__(f"topic {topic}, field '{field}': {reason}")


@lru_cache(maxsize=1)
def typestore():
    """The ROS 2 Kilted message definitions (rosbags' built-in store)."""
    from rosbags.typesys import Stores, get_typestore
    return get_typestore(Stores.ROS2_KILTED)


def encode_array(a: np.ndarray) -> str:
    """An array as text for a frame-info value: '<shape, x-separated>:<base64 of the complex64 bytes>'."""
    import base64
    a = np.ascontiguousarray(a, np.complex64)
    return "x".join(str(n) for n in a.shape) + ":" + base64.b64encode(a.tobytes()).decode("ascii")


def decode_array(text: str) -> np.ndarray:
    """The complex64 array of :func:`encode_array`; ValueError naming what is wrong."""
    import base64
    import binascii
    shape_text, sep, data = text.partition(":")
    try:
        shape = tuple(int(n) for n in shape_text.split("x")) if sep else None
        raw = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"not an encoded array ({exc})") from exc
    if shape is None or len(raw) != 8 * int(np.prod(shape)):
        raise ValueError(f"shape '{shape_text}' does not fit {len(raw)} bytes of complex64")
    return np.frombuffer(raw, np.complex64).reshape(shape)


PASS_LINKS_KEY = "pass_mu_links"       # frame info: a multi-user twin's links (encode_array)
PASS_PAS_KEY = "pass_mu_pas"           # frame info: the PA counts of their first axis, space-separated


def _types():
    return typestore().types


def header(stamp_ns: int, frame_id: str):
    t = _types()
    return t["std_msgs/msg/Header"](
        stamp=t["builtin_interfaces/msg/Time"](sec=int(stamp_ns // 1_000_000_000),
                                               nanosec=int(stamp_ns % 1_000_000_000)),
        frame_id=frame_id)


def stamp_ns(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


# --- one builder per topic -----------------------------------------------------------------
def camera_msg(jpeg: bytes, stamp: int):
    return _types()["sensor_msgs/msg/CompressedImage"](
        header=header(stamp, C.CAMERA.frame_id), format="jpeg",
        data=np.frombuffer(jpeg, dtype=np.uint8))


def lidar_msg(points: np.ndarray, stamp: int):
    t = _types()
    pts = np.ascontiguousarray(points, dtype="<f4").reshape(-1, 4)
    fields = [t["sensor_msgs/msg/PointField"](name=n, offset=4 * i, datatype=POINTFIELD_FLOAT32, count=1)
              for i, n in enumerate(LIDAR_FIELDS)]
    return t["sensor_msgs/msg/PointCloud2"](
        header=header(stamp, C.LIDAR.frame_id), height=1, width=len(pts), fields=fields,
        is_bigendian=False, point_step=16, row_step=16 * len(pts),
        data=pts.view(np.uint8).reshape(-1), is_dense=bool(np.isfinite(pts).all()))


def radar_msg(cube: np.ndarray, stamp: int):
    cube = np.ascontiguousarray(cube, dtype=np.complex64)
    rx, samples, chirps = cube.shape
    return _types()["sensor_msgs/msg/Image"](
        header=header(stamp, C.RADAR.frame_id), height=rx * samples, width=chirps,
        encoding=C.RADAR_ENCODING, is_bigendian=0, step=chirps * 8,
        data=cube.view(np.uint8).reshape(-1))


def power_msg(power: np.ndarray, stamp: int):
    angles = C.codebook_angles_rad(len(power))
    p = np.asarray(power, dtype=np.float32)
    peak = np.nanmax(p) if np.isfinite(p).any() else 1.0
    return _types()["sensor_msgs/msg/LaserScan"](
        header=header(stamp, C.POWER.frame_id), angle_min=angles[0], angle_max=angles[-1],
        angle_increment=angles[1] - angles[0], time_increment=0.0, scan_time=0.0,
        range_min=0.0, range_max=1.0, ranges=(p / peak).astype(np.float32), intensities=p)


def navsat_msg(latlon, altitude: float, stamp: int, frame_id: str):
    t = _types()
    cov = np.zeros(9, dtype=np.float64)
    return t["sensor_msgs/msg/NavSatFix"](
        header=header(stamp, frame_id),
        status=t["sensor_msgs/msg/NavSatStatus"](status=0 if np.isfinite(latlon).all() else -1, service=1),
        latitude=float(latlon[0]), longitude=float(latlon[1]), altitude=float(altitude),
        position_covariance=cov, position_covariance_type=0)


def frame_info_msg(frame: Frame):
    t = _types()
    values = {"index": str(frame.index), "seq_index": str(frame.seq_index),
              "beam": "" if frame.beam is None else str(frame.beam),
              "power_nan": "1" if frame.power_nan else "0"}
    values.update({EXTRA_PREFIX + k: v for k, v in frame.extras.items()})
    status = t["diagnostic_msgs/msg/DiagnosticStatus"](
        level=0, name=C.FRAME_INFO_STATUS_NAME, message="", hardware_id="deepsense",
        values=[t["diagnostic_msgs/msg/KeyValue"](key=k, value=v) for k, v in values.items()])
    return t["diagnostic_msgs/msg/DiagnosticArray"](
        header=header(frame.stamp_ns, C.FRAME_INFO.frame_id), status=[status])


def tf_static_msg(stamp: int):
    """/tf_static: base_station -> every sensor frame of C.STATIC_TRANSFORMS."""
    from scipy.spatial.transform import Rotation
    t = _types()
    transforms = []
    for child, (x, y, z, roll, pitch, yaw) in C.STATIC_TRANSFORMS.items():
        qx, qy, qz, qw = Rotation.from_euler("xyz", [roll, pitch, yaw]).as_quat()   # fixed axes, as tf2
        transforms.append(t["geometry_msgs/msg/TransformStamped"](
            header=header(stamp, C.FRAME_BASE_STATION), child_frame_id=child,
            transform=t["geometry_msgs/msg/Transform"](
                translation=t["geometry_msgs/msg/Vector3"](x=x, y=y, z=z),
                rotation=t["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw))))
    return t["tf2_msgs/msg/TFMessage"](transforms=transforms)


def frame_to_messages(frame: Frame) -> list[tuple[C.Topic, object]]:
    """The frame's messages in contract order (without the latched base-station fix)."""
    s = frame.stamp_ns
    out: list[tuple[C.Topic, object]] = [(C.FRAME_INFO, frame_info_msg(frame))]
    if frame.image_jpeg is not None:
        out.append((C.CAMERA, camera_msg(frame.image_jpeg, s)))
    if frame.lidar is not None:
        out.append((C.LIDAR, lidar_msg(frame.lidar, s)))
    if frame.radar is not None:
        out.append((C.RADAR, radar_msg(frame.radar, s)))
    if frame.power is not None:
        out.append((C.POWER, power_msg(frame.power, s)))
    if len(frame.array_power) > C.MAX_POWER_ARRAYS:
        raise ValueError(f"frame {frame.index}: {len(frame.array_power)} arrays, the contract has topics for "
                         f"{C.MAX_POWER_ARRAYS}")
    for topic, power in zip(C.ARRAY_POWER_TOPICS, frame.array_power):
        out.append((topic, power_msg(power, s)))
    if frame.ue_latlon is not None:
        out.append((C.UE_GPS, navsat_msg(frame.ue_latlon, frame.ue_altitude, s, C.UE_GPS.frame_id)))
    for unit, fix in sorted(frame.users_latlon.items()):
        if unit not in C.USER_GPS_TOPICS:
            raise ValueError(f"frame {frame.index}: user unit {unit}; the contract has topics for units "
                             f"{sorted(C.USER_GPS_TOPICS)} (MAX_USERS)")
        if fix is not None:
            topic = C.USER_GPS_TOPICS[unit]
            out.append((topic, navsat_msg(fix, float("nan"), s, topic.frame_id)))
    return out


# --- and back ----------------------------------------------------------------------------
def _require(ok: bool, topic: C.Topic, field: str, reason: str) -> None:
    if not ok:
        raise MessageError(topic.name, field, reason)


def lidar_points(msg) -> np.ndarray:
    """(N, 4) float32 from a PointCloud2 with float32 x, y, z and optional intensity."""
    offsets = {f.name: f for f in msg.fields}
    for name in ("x", "y", "z"):
        _require(name in offsets, C.LIDAR, "fields", f"no '{name}' field")
    _require(not msg.is_bigendian, C.LIDAR, "is_bigendian", "big-endian clouds are not supported")
    n = int(msg.width) * int(msg.height)
    step = int(msg.point_step)
    raw = np.asarray(msg.data, dtype=np.uint8)
    _require(raw.size >= n * step, C.LIDAR, "data", f"{raw.size} bytes for {n} points of {step}")
    out = np.zeros((n, 4), dtype=np.float32)
    if n == 0:                     # a cloud of 0 points (a LiDAR that sees nothing): no field to read
        return out
    for i, name in enumerate(LIDAR_FIELDS):
        f = offsets.get(name)
        if f is None:
            continue
        _require(f.datatype == POINTFIELD_FLOAT32, C.LIDAR, f"fields.{name}", "must be FLOAT32")
        out[:, i] = np.ndarray((n,), dtype="<f4", buffer=raw, offset=f.offset, strides=(step,))
    return out


def radar_cube(msg) -> np.ndarray:
    _require(msg.encoding == C.RADAR_ENCODING, C.RADAR, "encoding",
             f"'{msg.encoding}', expected '{C.RADAR_ENCODING}'")
    _require(msg.height % C.RADAR_NUM_RX == 0, C.RADAR, "height",
             f"{msg.height} is not a multiple of {C.RADAR_NUM_RX} RX")
    _require(msg.step == msg.width * 8, C.RADAR, "step", f"{msg.step} != width * 8")
    _require(not msg.is_bigendian, C.RADAR, "is_bigendian", "must be 0")
    raw = np.asarray(msg.data, dtype=np.uint8)
    _require(raw.size == msg.height * msg.step, C.RADAR, "data",
             f"{raw.size} bytes, expected {msg.height * msg.step}")
    return raw.view(np.complex64).reshape(C.RADAR_NUM_RX, msg.height // C.RADAR_NUM_RX, msg.width).copy()


def power_values(msg, topic: C.Topic = C.POWER) -> np.ndarray:
    p = np.asarray(msg.intensities, dtype=np.float32).copy()
    if topic is C.POWER:
        _require(p.size == C.NUM_BEAMS, C.POWER, "intensities", f"{p.size} values, expected {C.NUM_BEAMS}")
    return p


def latlon(msg) -> np.ndarray:
    return np.array([msg.latitude, msg.longitude], dtype=np.float64)


def frame_from_messages(msgs: dict[str, object], stamp: int, fallback_index: int) -> Frame:
    """Rebuild a frame from its messages keyed by topic name (any subset of the contract)."""
    frame = Frame(index=fallback_index, seq_index=0, stamp_ns=stamp)
    if C.CAMERA.name in msgs:
        frame.image_jpeg = np.asarray(msgs[C.CAMERA.name].data, dtype=np.uint8).tobytes()
    if C.LIDAR.name in msgs:
        frame.lidar = lidar_points(msgs[C.LIDAR.name])
    if C.RADAR.name in msgs:
        frame.radar = radar_cube(msgs[C.RADAR.name])
    if C.POWER.name in msgs:
        frame.power = power_values(msgs[C.POWER.name])
        try:
            frame.beam, frame.power_nan = best_beam(frame.power)
        except ValueError:
            frame.beam = None
    frame.array_power = tuple(power_values(msgs[t.name], t) for t in C.ARRAY_POWER_TOPICS if t.name in msgs)
    if C.UE_GPS.name in msgs:
        fix = msgs[C.UE_GPS.name]
        frame.ue_latlon, frame.ue_altitude = latlon(fix), float(fix.altitude)
    frame.users_latlon = {unit: latlon(msgs[t.name]) for unit, t in C.USER_GPS_TOPICS.items()
                          if t.name in msgs}
    info = msgs.get(C.FRAME_INFO.name)
    if info is not None:
        status = next((s for s in info.status if s.name == C.FRAME_INFO_STATUS_NAME), None)
        _require(status is not None, C.FRAME_INFO, "status",
                 f"no status named '{C.FRAME_INFO_STATUS_NAME}'")
        kv = {v.key: v.value for v in status.values}
        try:
            frame.index = int(kv["index"])
            frame.seq_index = int(kv["seq_index"])
            frame.beam = int(kv["beam"]) if kv.get("beam") else frame.beam
        except (KeyError, ValueError) as exc:
            raise MessageError(C.FRAME_INFO.name, "status.values", f"bad or missing key ({exc})") from None
        frame.power_nan = kv.get("power_nan") == "1"
        # the PASS links are the bag's copy of the unit1_pass_mu file: not a column of the scenario
        frame.extras = {k[len(EXTRA_PREFIX):]: v for k, v in kv.items() if k.startswith(EXTRA_PREFIX)
                        and k[len(EXTRA_PREFIX):] not in (PASS_LINKS_KEY, PASS_PAS_KEY)}
    return frame
