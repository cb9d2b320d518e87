"""UE tracking core: YOLO detections + ByteTrack ids + GPS-guided choice of the UE's track.

The detector finds every vehicle; ultralytics' ByteTrack gives them stable ids.  Which
track is the UE is decided with the UE's GPS fix projected into the image through the
site's camera (:class:`CameraModel`): the track whose box holds the projected antenna
(closest centre when several do).  A site without a camera uses the calibration-free
:class:`beam_predictor.sensing.association.MovingTrackAssociator` instead (``association``:
``auto`` picks by whether a camera model exists).  The choice is sticky: the current UE
track is kept while its box stays consistent with the projection, so a passing truck does
not steal the association.
When no box fits, the UE is reported ``lost`` (with the last box, confidence 0) rather
than guessed.  The same code runs in the tracker node.

The detector runs in torch or in ONNX Runtime (``runtime``; auto = ONNX Runtime on the
CPU): ultralytics exports the weights to ONNX once (cached by
:func:`beam_predictor.runtime.engine.cached`) and runs the same pre- and post-processing
and ByteTrack on either.  ultralytics opens its ONNX Runtime session with the default
thread pool (one thread per core); the tracker replaces it with a ``threads``-thread
session of the same file after the first frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beam_predictor.physics.site import SiteError, SiteGeometry


@dataclass
class UEBox:
    """The UE's box in pixels (centre and size), detection confidence and track id."""

    cx: float
    cy: float
    w: float
    h: float
    conf: float
    track_id: int
    lost: bool

    def xyxy(self) -> np.ndarray:
        half_w, half_h = self.w / 2, self.h / 2
        return np.array([self.cx - half_w, self.cy - half_h, self.cx + half_w, self.cy + half_h])


LOST = UEBox(0.0, 0.0, 0.0, 0.0, 0.0, -1, True)


class CameraModel:
    """GPS fix -> pixel, through the site frame and the site file's camera
    (:class:`beam_predictor.physics.site.CameraSite`)."""

    def __init__(self, site: SiteGeometry):
        if site.camera is None:
            raise SiteError("the site has no camera section: no GPS-to-pixel model")
        self.site, self.camera = site, site.camera.pinhole(site.array_height_m)

    def project(self, latlon) -> np.ndarray | None:
        """(u, v) pixel of the UE antenna, or None when it is behind the camera or off the image."""
        x, y = self.site.site_xy(self.site.local_en(np.asarray(latlon, np.float64)))
        uv, depth = self.camera.project(np.array([[x, y, self.site.ue_antenna_height_m]]))
        u, v = uv[0]
        if depth[0] <= 0 or not (0 <= u < self.camera.width and 0 <= v < self.camera.height):
            return None
        return uv[0]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class UEAssociator:
    """Chooses the UE among tracked boxes (rows of x0, y0, x1, y1, conf, track_id)."""

    def __init__(self, margin: float = 0.15):
        self.margin = margin          # a box counts as holding the point within this fraction of its size
        self.track_id: int | None = None
        self.last = LOST

    def reset(self) -> None:
        self.track_id, self.last = None, LOST

    def _holds(self, box: np.ndarray, uv) -> bool:
        mw, mh = self.margin * (box[2] - box[0]), self.margin * (box[3] - box[1])
        return box[0] - mw <= uv[0] <= box[2] + mw and box[1] - mh <= uv[1] <= box[3] + mh

    def update(self, boxes: np.ndarray, ue_pixel) -> UEBox:
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 6)
        chosen = None
        current = [b for b in boxes if self.track_id is not None and int(b[5]) == self.track_id]
        if current and (ue_pixel is None or self._holds(current[0], ue_pixel)):
            chosen = current[0]
        elif ue_pixel is not None:
            holding = [b for b in boxes if self._holds(b, ue_pixel)]
            if holding:
                chosen = min(holding, key=lambda b: np.hypot((b[0] + b[2]) / 2 - ue_pixel[0],
                                                             (b[1] + b[3]) / 2 - ue_pixel[1]))
        if chosen is None:
            last = self.last
            self.last = UEBox(last.cx, last.cy, last.w, last.h, 0.0, last.track_id, True)
            return self.last
        self.track_id = int(chosen[5])
        self.last = UEBox((chosen[0] + chosen[2]) / 2, (chosen[1] + chosen[3]) / 2, chosen[2] - chosen[0],
                          chosen[3] - chosen[1], float(chosen[4]), self.track_id, False)
        return self.last


class UETracker:
    """YOLO + ByteTrack on camera frames, then :class:`UEAssociator` with the projected GPS.

    :meth:`track` is the whole per-frame step of the tracker node, and the offline box
    series (:mod:`beam_predictor.sensing.boxes`) runs the same step over a scenario.
    """

    def __init__(self, weights: str | Path, camera: CameraModel | None, conf: float = 0.25,
                 tracker: str = "bytetrack.yaml", imgsz: int = 320, gap_reset_s: float = 1.0,
                 association: str = "auto", runtime: str = "auto", threads: int = 1):
        from ultralytics import YOLO

        from beam_predictor.runtime import engine
        self.runtime, self.threads = engine.resolve_runtime(runtime, "cpu"), threads
        self.onnx: Path | None = None
        if self.runtime == "onnxruntime":
            self.onnx = engine.cached(f"yolo_{engine.file_key(weights, imgsz)}.onnx",
                                      lambda out: export_yolo(weights, imgsz, out))
            self.model = YOLO(str(self.onnx), task="detect")
        else:
            self.model = YOLO(str(weights))
        self._session_set = self.onnx is None
        self.camera, self.conf, self.tracker, self.imgsz = camera, conf, tracker, imgsz
        self.gap_reset_ns = int(gap_reset_s * 1e9)
        self.associator = make_associator(association, camera is not None)
        self._new_sequence = True
        self._last_stamp: int | None = None
        self.users: dict[int, UEAssociator] = {}          # other users (paper 003), by DeepSense unit

    def reset(self) -> None:
        """Start a new sequence (forget tracks and the association)."""
        self.associator.reset()
        for a in self.users.values():
            a.reset()
        self._new_sequence = True

    def boxes(self, image_bgr: np.ndarray) -> np.ndarray:
        """(K, 6) tracked boxes: x0, y0, x1, y1, conf, track id (-1 when not yet confirmed)."""
        # rect=False: the full imgsz square letterbox for both runtimes (the exported graph has that shape)
        res = self.model.track(image_bgr, persist=not self._new_sequence, tracker=self.tracker, rect=False,
                               conf=self.conf, imgsz=self.imgsz, verbose=False, device="cpu")[0]
        self._new_sequence = False
        if not self._session_set:
            self._limit_threads()
        b = res.boxes
        if b is None or len(b) == 0:
            return np.zeros((0, 6))
        ids = b.id.numpy() if b.id is not None else -np.ones(len(b))
        return np.column_stack([b.xyxy.numpy(), b.conf.numpy(), ids])

    def warm_up(self, width: int = 640, height: int = 360) -> None:
        """Track one blank frame and forget it: ultralytics builds its predictor, imports its tracker
        and (ONNX Runtime) the session is set to ``threads`` now, not on the first real frame."""
        self.boxes(np.zeros((height, width, 3), np.uint8))
        self.reset()

    def _limit_threads(self) -> None:
        """Swap ultralytics' ONNX Runtime session (default thread pool) for a ``threads``-thread one."""
        from beam_predictor.runtime.engine import OrtModule
        backend = getattr(getattr(getattr(self.model, "predictor", None), "model", None), "backend", None)
        if backend is None or not hasattr(backend, "session"):
            raise RuntimeError("this ultralytics version keeps its ONNX Runtime session elsewhere "
                               "(predictor.model.backend.session); the tracker cannot set its threads")
        backend.session = OrtModule(self.onnx, self.threads).session
        self._session_set = True

    def track(self, stamp_ns: int, image_bgr: np.ndarray | None,
              ue_latlon) -> tuple[np.ndarray, UEBox | None]:
        """One camera frame: every tracked box and the UE's (None when the frame did not decode).

        A stamp more than ``gap_reset_s`` away from the previous frame's starts a new sequence.
        """
        if self._last_stamp is not None and abs(stamp_ns - self._last_stamp) > self.gap_reset_ns:
            self.reset()
        self._last_stamp = stamp_ns
        if image_bgr is None:
            return np.zeros((0, 6)), None
        boxes = self.boxes(image_bgr)
        ok = ue_latlon is not None and np.isfinite(np.asarray(ue_latlon, float)).all()
        uv = self.camera.project(ue_latlon) if ok and self.camera is not None else None
        return boxes, self.associator.update(boxes, uv)

    def track_users(self, stamp_ns: int, image_bgr: np.ndarray | None,
                    fixes: dict) -> tuple[np.ndarray, dict[int, UEBox | None]]:
        """Several users at once (paper 003): every tracked box and each user's, keyed by unit.

        ``fixes`` maps each user's DeepSense unit (2 is the UE) to its GPS fix (None: none).
        One detection and ByteTrack pass; each user has its own GPS association, which needs
        the site's camera model (without it only one moving car can be told apart)."""
        if self.camera is None:
            raise SiteError("tracking several users needs a site file with a camera section "
                            "(each user's GPS fix is projected into the image)")
        first = min(fixes)
        boxes, ue = self.track(stamp_ns, image_bgr, fixes[first])
        out = {first: ue}
        for unit, fix in fixes.items():
            if unit == first:
                continue
            assoc = self.users.setdefault(unit, UEAssociator())
            if image_bgr is None:
                out[unit] = None
                continue
            ok = fix is not None and np.isfinite(np.asarray(fix, float)).all()
            out[unit] = assoc.update(boxes, self.camera.project(fix) if ok else None)
        return boxes, out


def export_yolo(weights: str | Path, imgsz: int, out: Path) -> None:
    """ultralytics' ONNX export of ``weights`` at ``imgsz`` (static shape, simplified) to ``out``."""
    import shutil
    import tempfile

    from ultralytics import YOLO
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "detector.pt"           # ultralytics writes the export beside its input
        shutil.copy(weights, copy)
        made = YOLO(str(copy)).export(format="onnx", imgsz=imgsz, dynamic=False, simplify=True, device="cpu",
                                      verbose=False)
        shutil.move(made, out)


ASSOCIATIONS = ("auto", "camera", "moving")


def make_associator(association: str, has_camera: bool):
    """The UE associator: ``camera`` (GPS fix projected through the site's camera), ``moving``
    (calibration-free), or ``auto`` (camera when there is a camera model)."""
    from beam_predictor.sensing.association import MovingTrackAssociator
    if association not in ASSOCIATIONS:
        raise ValueError(f"association '{association}': choose from {ASSOCIATIONS}")
    if association == "camera" and not has_camera:
        raise SiteError("association 'camera' needs a site file with a camera section")
    return UEAssociator() if has_camera and association != "moving" else MovingTrackAssociator()


def normalised_box(ue: UEBox | None, width: int, height: int) -> tuple[float, ...] | None:
    """The UE box over the image size (u0, v0, u1, v1), or None when the UE is lost or unknown."""
    if ue is None or ue.lost:
        return None
    u0, v0, u1, v1 = ue.xyxy()
    return (float(u0 / width), float(v0 / height), float(u1 / width), float(v1 / height))
