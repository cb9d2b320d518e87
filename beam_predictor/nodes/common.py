"""Shared ROS glue: QoS from the contract, parameters from a config dataclass, the node
main loop, and the codecs of the graph's own messages (features, UE box, every user's box, GPS fix)."""
from __future__ import annotations

import abc
import dataclasses
import logging
import signal
import sys
import time
import typing

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.clock import Clock, ClockType
from rclpy.timer import Timer
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from geometry_msgs.msg import Point32, PolygonStamped
from sensor_msgs.msg import Image, PointCloud2, PointField

from beam_predictor import contract
from beam_predictor.config import from_mapping
from beam_predictor.runtime.config import resolve_paths
from beam_predictor.runtime.latest import LatestWorker
from beam_predictor.runtime.runner import READY_MARK


def qos(q: contract.QoS, depth: int | None = None) -> QoSProfile:
    return QoSProfile(
        reliability=(ReliabilityPolicy.BEST_EFFORT if q.reliability == "best_effort"
                     else ReliabilityPolicy.RELIABLE),
        durability=(DurabilityPolicy.TRANSIENT_LOCAL if q.durability == "transient_local"
                    else DurabilityPolicy.VOLATILE),
        history=HistoryPolicy.KEEP_LAST, depth=depth or q.depth)


def sensor_subscription(node, msg_type, topic: contract.Topic, callback, profile: QoSProfile | None = None):
    """Subscribe a sensor stream of the contract (relative name, the contract's QoS unless
    ``profile``), with QoS overriding enabled: reliability, durability, history and depth can be
    set per topic as read-only parameters, e.g. in the parameters file
    ``qos_overrides./bs/camera/image/compressed.subscription.reliability: reliable``."""
    return node.create_subscription(msg_type, topic.node_name, callback, profile or qos(topic.qos),
                                    qos_overriding_options=QoSOverridingOptions.with_default_policies())


def declare_config(node, cls):
    """Declare every field of ``cls`` as a parameter (default, description) and read it back, with
    file parameters resolved (working directory, then the package's shipped copy).

    Fields marked ``dynamic`` can be changed while the node runs: a `ros2 param set` is checked
    against the dataclass, then ``node.cfg`` is replaced and ``node.on_config_change(old, new)``
    runs when the node has one.  Every other parameter is read-only, so `ros2 param set`
    refuses it with a reason instead of reporting a success that changes nothing.
    """
    values = {}
    hints = typing.get_type_hints(cls)
    dynamic = {f.name for f in dataclasses.fields(cls) if f.metadata.get("dynamic")}
    for f in dataclasses.fields(cls):
        default = f.default
        if isinstance(default, tuple):
            default = list(default)
        doc = ParameterDescriptor(description=f.metadata.get("doc", f.name), read_only=f.name not in dynamic)
        node.declare_parameter(f.name, default, doc)
        value = node.get_parameter(f.name).value
        values[f.name] = tuple(value) if typing.get_origin(hints[f.name]) is tuple else value

    def on_set(params) -> SetParametersResult:
        changes = {p.name: p.value for p in params if p.name in dynamic}
        if not changes:
            return SetParametersResult(successful=True)
        old = node.cfg
        try:
            new = from_mapping(cls, {**dataclasses.asdict(old), **changes},
                               f"node {node.get_name()} parameters")
        except ValueError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        node.cfg = new
        hook = getattr(node, "on_config_change", None)
        if hook is not None:
            hook(old, new)
        node.get_logger().info(f"parameters changed: {changes}")
        return SetParametersResult(successful=True)

    if dynamic:
        node.add_on_set_parameters_callback(on_set)
    return resolve_paths(from_mapping(cls, values, f"node {node.get_name()} parameters"))


class ManagedNode(LifecycleNode, abc.ABC):
    """A node that holds a model: a lifecycle node that loads in configure.

    configure: ``load()`` (the model, publishers; may raise: the transition fails and the error
    is logged); activate: ``activate()`` returns the subscriptions, timers and workers it made
    (:meth:`worker`); deactivate: they are destroyed (workers stopped); cleanup: ``release()``.
    With the ``autostart`` parameter the node configures and activates itself (``start()``, at
    the end of the subclass's __init__), and a failed configure raises, so the process exits
    naming the cause instead of idling.
    """

    def __init__(self, name: str, config_cls, **node_kwargs):
        super().__init__(name, **node_kwargs)
        self.cfg = declare_config(self, config_cls)
        self.handles: list = []
        self.configure_error = ""

    def start(self) -> None:
        if self.cfg.autostart:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise RuntimeError(self.configure_error or f"{self.get_name()}: configure failed")
            self.trigger_activate()

    @abc.abstractmethod
    def load(self) -> None:
        """Load the model and create the publishers (configure)."""

    @abc.abstractmethod
    def activate(self) -> list:
        """Create and return the subscriptions and timers (activate)."""

    def release(self) -> None:
        pass

    def worker(self, handle) -> LatestWorker | None:
        """The newest-frame worker running ``handle`` (None with ``drop_stale`` false: the caller runs
        ``handle`` in its callback).  Return it from :meth:`activate` so deactivate stops it."""
        return LatestWorker(handle, f"{self.get_name()}-model") if self.cfg.drop_stale else None

    def stop_workers(self) -> None:
        """Stop the worker threads and flush timers among the handles."""
        for h in self.handles:
            if isinstance(h, STOPPED):
                h.stop()

    def on_configure(self, state) -> TransitionCallbackReturn:
        try:
            self.load()
        except Exception as exc:
            self.configure_error = f"{self.get_name()}: configure failed: {type(exc).__name__}: {exc}"
            self.get_logger().error(self.configure_error)
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state) -> TransitionCallbackReturn:
        self.handles = self.activate()
        return super().on_activate(state)

    def on_deactivate(self, state) -> TransitionCallbackReturn:
        self.stop_workers()
        for h in self.handles:
            if not isinstance(h, STOPPED):
                (self.destroy_timer if isinstance(h, Timer) else self.destroy_subscription)(h)
        self.handles = []
        return super().on_deactivate(state)

    def on_cleanup(self, state) -> TransitionCallbackReturn:
        self.release()
        return TransitionCallbackReturn.SUCCESS


class FlushTimer:
    """Hands a synchronizer's timed-out partial frames to ``on_ready`` at their deadline.

    A one-shot timer on the steady clock, armed only while a frame is pending: a periodic poll
    wakes the process every period (a 100 Hz rclpy timer costs about 6 % of a core), and a timer
    on the node clock would follow /clock during a replay.  Call :meth:`feed` with what the
    synchronizer's ``add`` returned.
    """

    def __init__(self, node, sync, on_ready):
        self.node, self.sync, self.on_ready = node, sync, on_ready
        self.timer = None
        self.clock = Clock(clock_type=ClockType.STEADY_TIME)

    def feed(self, sets) -> None:
        self.on_ready(sets)
        self.arm()

    def arm(self) -> None:
        deadline = self.sync.next_deadline_ns()
        if deadline is None or self.timer is not None:
            return
        delay = max(1e-3, (deadline - time.monotonic_ns()) * 1e-9)
        self.timer = self.node.create_timer(delay, self._fire, clock=self.clock)

    def _fire(self) -> None:
        self.stop()
        self.feed(self.sync.poll(time.monotonic_ns()))

    def stop(self) -> None:
        if self.timer is not None:
            self.node.destroy_timer(self.timer)
            self.timer = None


STOPPED = (LatestWorker, FlushTimer)      # handles that are stopped, not destroyed, at deactivate


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


def float_cloud(header, fields, rows: np.ndarray) -> PointCloud2:
    """A table as an unorganised PointCloud2: one 'point' per row, FLOAT32 ``fields`` (the tracks and the
    user boxes of the contract)."""
    rows = np.ascontiguousarray(rows, "<f4").reshape(-1, len(fields))
    cols = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
            for i, n in enumerate(fields)]
    return PointCloud2(header=header, height=1, width=len(rows), fields=cols, is_bigendian=False,
                       point_step=4 * len(fields), row_step=4 * len(fields) * len(rows), data=rows.tobytes(),
                       is_dense=True)


def user_boxes_msg(header, found: dict, width: int, height: int) -> PointCloud2:
    """contract.USER_BOXES of the tracker's users (unit -> UEBox or None), ``width`` x ``height`` image."""
    from beam_predictor.sensing.tracker import normalised_box
    rows = []
    for unit, ue in sorted(found.items()):
        box = normalised_box(ue, width, height) if width else None
        track = ue.track_id if box is not None and ue.track_id is not None else -1
        rows.append((unit, track, *(box if box is not None else (np.nan,) * 4)))
    return float_cloud(header, contract.USER_BOX_FIELDS, np.array(rows, float))


def user_boxes_from_msg(msg: PointCloud2) -> dict[int, tuple[int, np.ndarray | None]]:
    """unit -> (track id, the normalised box as float32, None when not tracked) of a USER_BOXES message."""
    names = [f.name for f in msg.fields]
    if tuple(names) != contract.USER_BOX_FIELDS or msg.point_step != 4 * len(names):
        raise ValueError(f"fields {names}, expected {list(contract.USER_BOX_FIELDS)} as FLOAT32")
    rows = np.frombuffer(bytes(msg.data), "<f4").reshape(-1, len(names))
    return {int(r[0]): (int(r[1]), r[2:6].copy() if np.isfinite(r[2:6]).all() else None) for r in rows}


def run(make_node, args=None, body=None) -> None:
    """rclpy.init, spin (or ``body(node)``), and a clean exit (code 0) on Ctrl-C, SIGTERM or an
    external shutdown.

    rclpy's own handlers take the first SIGINT/SIGTERM: they wake the executor and shut the
    context down.  A terminal's Ctrl-C reaches each node twice (from the terminal to the whole
    process group, and forwarded by ``ros2 launch``), so once shutting down the node ignores
    further signals: the report and the log line are written, and the process exits 0 instead
    of dying half-way with -2.
    """
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
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        try:
            if node is not None:
                getattr(node, "stop_workers", lambda: None)()
                close = getattr(node, "close", None)
                if close is not None:
                    close()
                node.destroy_node()
        finally:
            rclpy.try_shutdown()
