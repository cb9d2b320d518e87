"""Shared ROS glue: QoS from the contract, parameters from a config dataclass, the node
main loop, and the codecs of the graph's own messages (features, UE box, GPS fix)."""
from __future__ import annotations

import dataclasses
import logging
import sys
import typing

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from geometry_msgs.msg import Point32, PolygonStamped
from sensor_msgs.msg import Image

from beam_predictor import contract
from beam_predictor.config import from_mapping
from beam_predictor.runtime.runner import READY_MARK


def qos(q: contract.QoS, depth: int | None = None) -> QoSProfile:
    return QoSProfile(
        reliability=(ReliabilityPolicy.BEST_EFFORT if q.reliability == "best_effort"
                     else ReliabilityPolicy.RELIABLE),
        durability=(DurabilityPolicy.TRANSIENT_LOCAL if q.durability == "transient_local"
                    else DurabilityPolicy.VOLATILE),
        history=HistoryPolicy.KEEP_LAST, depth=depth or q.depth)


def declare_config(node, cls):
    """Declare every field of ``cls`` as a parameter (default, description) and read it back."""
    values = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        default = f.default
        if isinstance(default, tuple):
            default = list(default)
        doc = ParameterDescriptor(description=f.metadata.get("doc", f.name))
        node.declare_parameter(f.name, default, doc)
        value = node.get_parameter(f.name).value
        values[f.name] = tuple(value) if typing.get_origin(hints[f.name]) is tuple else value
    return from_mapping(cls, values, f"node {node.get_name()} parameters")


def stamp_ns(header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def feature_msg(header, features: np.ndarray | None) -> Image:
    """Encoder features as a 1 x M 32FC1 image; None -> the empty 'missing' message."""
    msg = Image(header=header, encoding="32FC1", is_bigendian=0, height=1)
    if features is None:
        msg.width, msg.step = 0, 0
        return msg
    data = np.ascontiguousarray(features, dtype="<f4")
    msg.width, msg.step = data.size, 4 * data.size
    msg.data = data.tobytes()
    return msg


def feature_from_msg(msg: Image) -> np.ndarray | None:
    if msg.width == 0:
        return None
    if msg.encoding != "32FC1" or msg.height != 1 or len(msg.data) != 4 * msg.width:
        raise ValueError(f"feature message: expected a 1 x N 32FC1 image, got {msg.height} x {msg.width} "
                         f"'{msg.encoding}' with {len(msg.data)} bytes")
    return np.frombuffer(bytes(msg.data), dtype="<f4").copy()


def fix_from_msg(msg) -> np.ndarray | None:
    """(latitude, longitude) of a NavSatFix, None without a fix."""
    if msg.status.status < msg.status.STATUS_FIX:
        return None
    return np.array([msg.latitude, msg.longitude])


def ue_box_msg(header, corners) -> PolygonStamped:
    """The UE box message: two corners in normalised image coordinates, empty when not visible."""
    box = PolygonStamped(header=header)
    if corners is not None:
        box.polygon.points = [Point32(x=corners[0], y=corners[1]), Point32(x=corners[2], y=corners[3])]
    return box


def box_from_msg(msg: PolygonStamped) -> tuple[float, ...] | None:
    """The corners of a UE box message (None: the UE is not visible)."""
    pts = msg.polygon.points
    return (pts[0].x, pts[0].y, pts[1].x, pts[1].y) if len(pts) >= 2 else None


def run(make_node, args=None, body=None) -> None:
    """rclpy.init, spin (or ``body(node)``), and a clean exit on Ctrl-C / SIGTERM / external shutdown."""
    logging.basicConfig(level=logging.INFO, format="[%(name)s] %(message)s")
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    try:
        node = make_node()
        print(f"{READY_MARK} {node.get_name()}", flush=True)   # the runner waits for this line
        (body or rclpy.spin)(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
