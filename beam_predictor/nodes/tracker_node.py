"""YOLO tracker node: compressed camera frames -> every track, plus the UE's box.

Runs :class:`beam_predictor.sensing.tracker.UETracker` (YOLO + ByteTrack + GPS-guided
choice of the UE's track) on each camera frame, with the UE's GPS fix nearest in stamp.
Publishes all tracks (track ids on the message) and the UE box, both with the camera
frame's header.  A frame that does not decode publishes no tracks and an empty UE box.
"""
from __future__ import annotations

import time
from collections import deque
from pathlib import Path

import cv2
import numpy as np
from geometry_msgs.msg import Point32, PolygonStamped
import torch
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, NavSatFix, PointCloud2, PointField

from beam_predictor import contract
from beam_predictor.nodes.common import declare_config, qos, run, stamp_ns
from beam_predictor.runtime.config import TrackerConfig
from beam_predictor.sensing.detector import setup_offline

TRACK_FIELDS = ("u_min", "v_min", "u_max", "v_max", "conf", "track_id", "is_ue")


def tracks_msg(header, boxes: np.ndarray, ue_track: int | None) -> PointCloud2:
    rows = np.zeros((len(boxes), len(TRACK_FIELDS)), "<f4")
    if len(boxes):
        rows[:, :6] = boxes
        rows[:, 6] = (boxes[:, 5] == ue_track) if ue_track is not None else 0
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
              for i, n in enumerate(TRACK_FIELDS)]
    return PointCloud2(header=header, height=1, width=len(rows), fields=fields, is_bigendian=False,
                       point_step=4 * len(TRACK_FIELDS), row_step=4 * len(TRACK_FIELDS) * len(rows),
                       data=rows.tobytes(), is_dense=True)


class TrackerNode(Node):
    def __init__(self, **node_kwargs):
        super().__init__("yolo_tracker", **node_kwargs)
        self.cfg = declare_config(self, TrackerConfig)
        torch.set_num_threads(self.cfg.threads)
        setup_offline("build")
        from beam_predictor.sensing.tracker import CameraModel, UETracker
        camera = None
        if self.cfg.camera_meta and Path(self.cfg.camera_meta).is_file():
            camera = CameraModel.from_twin_meta(self.cfg.camera_meta)
        else:
            self.get_logger().warning(f"camera_meta '{self.cfg.camera_meta}' not found: tracks are "
                                      "published, but the UE is never associated (no GPS-to-pixel model)")
        self.tracker = UETracker(self.cfg.weights, camera, conf=self.cfg.conf, imgsz=self.cfg.imgsz)
        self.get_logger().info(f"YOLO weights {self.cfg.weights}")
        self.fixes: deque = deque(maxlen=50)
        self.ms: list[float] = []
        self.last_stamp: int | None = None
        self.tracks_pub = self.create_publisher(PointCloud2, contract.TRACKS.name, qos(contract.TRACKS.qos))
        self.box_pub = self.create_publisher(PolygonStamped, contract.UE_BOX.name, qos(contract.UE_BOX.qos))
        self.image_pub = self.create_publisher(CompressedImage, contract.ANNOTATED_IMAGE.name,
                                               qos(contract.ANNOTATED_IMAGE.qos))
        self.create_subscription(NavSatFix, contract.UE_GPS.name, self.on_fix, qos(contract.UE_GPS.qos))
        self.create_subscription(CompressedImage, contract.CAMERA.name,
                                 self.on_image, qos(contract.CAMERA.qos))

    def on_fix(self, msg: NavSatFix) -> None:
        self.fixes.append((stamp_ns(msg.header), np.array([msg.latitude, msg.longitude])))

    def _fix_for(self, t: int):
        best = min(self.fixes, key=lambda f: abs(f[0] - t), default=None)
        if best is None or abs(best[0] - t) > self.cfg.gps_tolerance * 1e9 or not np.isfinite(best[1]).all():
            return None
        return best[1]

    def on_image(self, msg: CompressedImage) -> None:
        start = time.perf_counter()
        self.track(msg)
        self.ms.append(1e3 * (time.perf_counter() - start))

    def close(self) -> None:
        if self.ms:
            print(f"yolo_tracker: {len(self.ms)} frames, p50 {np.percentile(self.ms, 50):.1f} ms, "
                  f"p99 {np.percentile(self.ms, 99):.1f} ms per frame", flush=True)

    def track(self, msg: CompressedImage) -> None:
        t = stamp_ns(msg.header)
        if self.last_stamp is not None and abs(t - self.last_stamp) > self.cfg.gap_reset * 1e9:
            self.tracker.reset()
        self.last_stamp = t
        image = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
        box = PolygonStamped(header=msg.header)
        if image is None:
            self.get_logger().warning(f"{contract.CAMERA.name}: frame at {t} ns does not decode",
                                      throttle_duration_sec=5.0)
            self.tracks_pub.publish(tracks_msg(msg.header, np.zeros((0, 6)), None))
            self.box_pub.publish(box)
            return
        boxes = self.tracker.boxes(image)
        fix = self._fix_for(t)
        camera = self.tracker.camera
        ue_pixel = camera.project(fix) if fix is not None and camera is not None else None
        ue = self.tracker.associator.update(boxes, ue_pixel)
        self.tracks_pub.publish(tracks_msg(msg.header, boxes, None if ue.lost else ue.track_id))
        if not ue.lost:
            h, w = image.shape[:2]
            u0, v0, u1, v1 = ue.xyxy()
            box.polygon.points = [Point32(x=float(u0 / w), y=float(v0 / h)),
                                  Point32(x=float(u1 / w), y=float(v1 / h))]
        self.box_pub.publish(box)
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
