"""YOLO tracker node: compressed camera frames -> every track, plus the UE's box.

Runs :class:`beam_predictor.sensing.tracker.UETracker` (YOLO + ByteTrack + GPS-guided
choice of the UE's track) on each camera frame, with the UE's GPS fix of the same stamp:
frame and fix are paired by :class:`beam_predictor.runtime.sync.StampSynchronizer`, and a
frame whose fix has not come within ``max_wait`` is tracked without one.
Publishes all tracks (track ids on the message) and the UE box, both with the camera
frame's header.  With ``users`` U > 1 (paper 003) it also pairs each frame with the fixes of
/ue3/gps/fix .. /ue<U+1>/gps/fix and runs ``UETracker.track_users`` (one detection pass, each
user associated through its own projected fix, as the offline box series are made), publishing
every user's box with its track id on /bp/user_boxes.  A frame that does not decode publishes
no tracks and an empty UE box.
With ``drop_stale`` (default) tracking runs in a worker thread on the newest paired frame
(:class:`beam_predictor.runtime.latest.LatestWorker`); skipped frames are counted.
"""
from __future__ import annotations

import time

import cv2
import numpy as np
from geometry_msgs.msg import PolygonStamped
import torch
from sensor_msgs.msg import CompressedImage, NavSatFix, PointCloud2

from beam_predictor import contract
from beam_predictor.config import ros_home
from beam_predictor.nodes.common import (FlushTimer, ManagedNode, fix_from_msg, float_cloud, qos, run,
                                         sensor_subscription, stamp_ns, ue_box_msg, user_boxes_msg)
from beam_predictor.physics.site import read_site
from beam_predictor.runtime.config import TrackerConfig
from beam_predictor.runtime.latest import LatestWorker
from beam_predictor.runtime.sync import StampSynchronizer
from beam_predictor.sensing.detector import setup_offline
from beam_predictor.sensing.tracker import CameraModel, UETracker, normalised_box

TRACK_FIELDS = ("u_min", "v_min", "u_max", "v_max", "conf", "track_id", "is_ue")


def tracks_msg(header, boxes: np.ndarray, ue_track: int | None) -> PointCloud2:
    rows = np.zeros((len(boxes), len(TRACK_FIELDS)))
    if len(boxes):
        rows[:, :6] = boxes
        rows[:, 6] = (boxes[:, 5] == ue_track) if ue_track is not None else 0
    return float_cloud(header, TRACK_FIELDS, rows)


class TrackerNode(ManagedNode):
    def __init__(self, **node_kwargs):
        super().__init__("yolo_tracker", TrackerConfig, **node_kwargs)
        torch.set_num_threads(self.cfg.threads)
        self.tracker, self.pending = None, None
        self.ms: list[float] = []
        self.start()

    def load(self) -> None:
        setup_offline(ros_home() / "beam_predictor")
        site = read_site(self.cfg.site) if self.cfg.site else None
        camera = CameraModel(site) if site is not None and site.camera is not None else None
        self.tracker = UETracker(self.cfg.weights, camera, conf=self.cfg.conf, imgsz=self.cfg.imgsz,
                                 gap_reset_s=self.cfg.gap_reset, association=self.cfg.association,
                                 runtime=self.cfg.runtime, threads=self.cfg.threads)
        self.tracker.warm_up()
        moving = camera is None or self.cfg.association == "moving"
        how = "the largest moving track (calibration-free)" if moving else f"the camera of {self.cfg.site}"
        self.get_logger().info(f"UE association: {how}")
        self.get_logger().info(f"YOLO weights {self.cfg.weights} ({self.tracker.runtime}"
                               + (f", {self.tracker.onnx})" if self.tracker.onnx else ")"))
        # users > 1 (paper 003): every user's fix, keyed fix (the UE, unit 2), fix3, fix4 ...
        self.users = {2: "fix", **{unit: f"fix{unit}" for unit in range(3, 2 + self.cfg.users)}}
        if self.cfg.users > 1 and camera is None:
            raise ValueError(f"users {self.cfg.users}: tracking several users needs a site with a camera "
                             f"(site parameter '{self.cfg.site}')")
        self.sync = StampSynchronizer(("image",) + tuple(self.users.values()),
                                      int(self.cfg.gps_tolerance * 1e9),
                                      int(self.cfg.max_wait * 1e9), restart_ns=int(self.cfg.gap_reset * 1e9),
                                      silent_after=self.cfg.silent_after)
        self.tracks_pub = self.create_lifecycle_publisher(PointCloud2, contract.TRACKS.node_name,
                                                          qos(contract.TRACKS.qos))
        self.box_pub = self.create_lifecycle_publisher(PolygonStamped, contract.UE_BOX.node_name,
                                                       qos(contract.UE_BOX.qos))
        self.image_pub = self.create_lifecycle_publisher(CompressedImage, contract.ANNOTATED_IMAGE.node_name,
                                                         qos(contract.ANNOTATED_IMAGE.qos))
        self.users_pub = None if self.cfg.users == 1 else self.create_lifecycle_publisher(
            PointCloud2, contract.USER_BOXES.node_name, qos(contract.USER_BOXES.qos))

    def activate(self) -> list:
        self.pending = self.worker(self.timed_track)
        self.flush = FlushTimer(self, self.sync, self.on_ready)
        handles = [sensor_subscription(self, NavSatFix, contract.UE_GPS, self.on_fix),
                   sensor_subscription(self, CompressedImage, contract.CAMERA, self.on_image), self.flush]
        handles += [sensor_subscription(self, NavSatFix, contract.USER_GPS_TOPICS[unit],
                                        lambda m, key=key: self.on_fix(m, key))
                    for unit, key in self.users.items() if unit > 2]
        return handles + ([self.pending] if self.pending is not None else [])

    def release(self) -> None:
        for pub in (self.tracks_pub, self.box_pub, self.image_pub, self.users_pub):
            if pub is not None:
                self.destroy_publisher(pub)
        self.tracker = None

    def on_fix(self, msg: NavSatFix, key: str = "fix") -> None:
        self.flush.feed(self.sync.add(key, stamp_ns(msg.header), fix_from_msg(msg), time.monotonic_ns()))

    def on_image(self, msg: CompressedImage) -> None:
        self.flush.feed(self.sync.add("image", stamp_ns(msg.header), msg, time.monotonic_ns()))

    def on_ready(self, sets) -> None:
        """Each camera frame with the UE fix of its stamp (or without one after ``max_wait``)."""
        for s in sets:
            if "image" in s.items:
                item = (s.items["image"], {unit: s.items.get(key) for unit, key in self.users.items()})
                if self.pending is not None:
                    self.pending.put(item)
                else:
                    self.timed_track(item)

    def timed_track(self, item) -> None:
        start = time.perf_counter()
        self.track(*item)
        self.ms.append(1e3 * (time.perf_counter() - start))

    def close(self) -> None:
        if self.ms:
            stale = LatestWorker.stale_of(self.pending)
            print(f"yolo_tracker: {len(self.ms)} frames, {stale} stale dropped, p50 "
                  f"{np.percentile(self.ms, 50):.1f} ms, p99 {np.percentile(self.ms, 99):.1f} ms per frame",
                  flush=True)

    def track(self, msg: CompressedImage, fixes: dict) -> None:
        t = stamp_ns(msg.header)
        data = bytes(msg.data)        # OpenCV asserts on an empty buffer; a zero-size image is undecodable
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
        if self.users_pub is not None:
            boxes, found = self.tracker.track_users(t, image, fixes)
            ue = found[2]
            h, w = image.shape[:2] if image is not None else (0, 0)
            self.users_pub.publish(user_boxes_msg(msg.header, found, w, h))
        else:
            boxes, ue = self.tracker.track(t, image, fixes[2])
        if ue is None:
            self.get_logger().warning(f"{contract.CAMERA.name}: frame at {t} ns does not decode",
                                      throttle_duration_sec=5.0)
            self.tracks_pub.publish(tracks_msg(msg.header, boxes, None))
            self.box_pub.publish(ue_box_msg(msg.header, None))
            return
        self.tracks_pub.publish(tracks_msg(msg.header, boxes, None if ue.lost else ue.track_id))
        self.box_pub.publish(ue_box_msg(msg.header, normalised_box(ue, image.shape[1], image.shape[0])))
        if self.cfg.annotate:
            for b in boxes:
                colour = (0, 220, 0) if not ue.lost and int(b[5]) == ue.track_id else (160, 160, 160)
                cv2.rectangle(image, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), colour, 2)
                cv2.putText(image, f"{int(b[5])}", (int(b[0]), int(b[1]) - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                            colour, 1)
            ok, jpeg = cv2.imencode(".jpg", image)
            if ok:
                self.image_pub.publish(CompressedImage(header=msg.header, format="jpeg", data=jpeg.tobytes()))


def main(args=None) -> None:
    run(TrackerNode, args)


if __name__ == "__main__":
    main()
