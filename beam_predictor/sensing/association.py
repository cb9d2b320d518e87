"""Calibration-free choice of the UE's track: the largest *moving* vehicle, kept sticky.

:class:`beam_predictor.sensing.tracker.UEAssociator` needs the UE's GPS fix projected into
the image, i.e. a camera model.  Real DeepSense scenarios ship none, so there the UE is
never associated.  :class:`MovingTrackAssociator` is the fallback for that case; it has
the same interface (``reset()``, ``update(boxes, ue_pixel) -> UEBox``, ``track_id``,
``last``) and ignores ``ue_pixel``.  Its policy rests on what a DeepSense pass is: the UE
is a car driving through the camera's view while parked cars stand still.

* Motion, per confirmed track (ByteTrack id >= 0): the displacement of the box centre
  since the oldest of its observations in the last ``window`` frames, over the box's
  scale ``sqrt(w * h)``.  The measure is size-relative because the associator does not
  know the image size, and it makes a far car and a near one comparable.  The track is
  *moving* when that exceeds ``min_motion`` (pro rata when fewer than ``window`` frames
  of history exist, from ``min_age`` frames on, so the UE entering the image counts
  early), and *recently moving* for ``recent_frames`` frames after.
* Choice: among the moving confirmed tracks, the one with the largest box area.
* Stickiness: the current UE track is kept while it is present and recently moving.  It
  is replaced only by another moving track whose area is ``switch_ratio`` times larger
  for ``switch_frames`` consecutive frames, so a truck passing in front does not steal
  the association.
* Occlusion and id switches: when the current track is missing, the UE is reported lost
  for up to ``hold_frames`` frames while its id is waited for (ByteTrack keeps ids
  through short occlusions).  Meanwhile a new or moving track whose centre lies within
  ``reid_distance`` box scales of where the lost track should be (constant velocity) and
  whose area is within a factor ``reid_area`` of it takes over (ByteTrack gave the same
  car a new id; an occluding truck is far larger and does not qualify).  After
  ``hold_frames``, or when the current track stops moving (e.g. its id switched to a
  parked car), the choice is made afresh.
* No moving track: the UE is reported lost (the last box, confidence 0, ``lost=True``),
  as :class:`UEAssociator` does; nothing is guessed.

Why hand-written: trackers (ByteTrack, BoT-SORT, ...) give ids, not *which* id is a
given vehicle; choosing the GPS-carrying car without a camera model is specific to this
setting and no library does it.  It is a heuristic with known failure modes: a moving
vehicle larger than the UE (a truck in a nearer lane) that is in view before the UE is
chosen instead of it, and the UE standing still is not found.  The GPS is not used: a
bearing from it means nothing in pixels without the camera model this fallback lacks.
The twin measurement, camera model vs this policy, is ``scripts/association_accuracy.py``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from beam_predictor.sensing.tracker import LOST, UEBox


@dataclass(frozen=True)
class MovingTrackConfig:
    # Defaults: set on the twin's train/val passes and data/twin_sample (not its test passes).
    window: int = 5             # frames over which a track's centre displacement is measured
    min_motion: float = 0.35    # moving: displacement over the window > this x the box scale sqrt(w*h)
    min_age: int = 1            # frames of history a track needs before its motion is judged (pro rata)
    recent_frames: int = 10     # a track stays "recently moving" this many frames after it last moved
    switch_ratio: float = 1.5   # another moving track must be this many times larger (area) ...
    switch_frames: int = 20     # ... for this many consecutive frames to take the association over
    hold_frames: int = 10       # the current track missing: report lost and wait this many frames for it
    reid_distance: float = 1.0  # meanwhile a new or moving track within this x the lost box's scale of ...
    reid_area: float = 2.5      # ... its predicted centre, and of an area within this factor, succeeds it
    forget_frames: int = 30     # a track unseen for this many frames is dropped from the history

    def __post_init__(self):
        if min(self.window, self.min_age, self.switch_frames) < 1:
            raise ValueError("window, min_age and switch_frames must be >= 1")
        if self.min_motion < 0 or self.switch_ratio < 1 or self.reid_area < 1 or self.reid_distance < 0:
            raise ValueError("min_motion, reid_distance must be >= 0 and switch_ratio, reid_area >= 1")
        if min(self.recent_frames, self.hold_frames) < 0 or self.forget_frames < self.window:
            raise ValueError("recent_frames, hold_frames >= 0 and forget_frames >= window")


class MovingTrackAssociator:
    """Chooses the UE among tracked boxes (rows of x0, y0, x1, y1, conf, track_id) without a camera."""

    def __init__(self, config: MovingTrackConfig | None = None):
        self.cfg = config or MovingTrackConfig()
        self.reset()

    def reset(self) -> None:
        self.track_id: int | None = None
        self.last = LOST
        self._frame = 0
        self._history: dict[int, deque] = {}     # id -> (frame, cx, cy) of the last `window` frames
        self._last_seen: dict[int, int] = {}
        self._first_seen: dict[int, int] = {}
        self._velocity = (0.0, 0.0)              # of the current track, pixels per frame
        self._last_moving: dict[int, int] = {}
        self._missing = 0                         # frames the current track has been absent
        self._challenger: int | None = None
        self._challenge = 0                       # consecutive frames the challenger was larger

    def _observe(self, boxes: np.ndarray) -> None:
        t, w = self._frame, self.cfg.window
        for b in boxes:
            tid = int(b[5])
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            hist = self._history.setdefault(tid, deque())
            hist.append((t, cx, cy))
            while hist[0][0] < t - w:
                hist.popleft()
            self._last_seen[tid] = t
            self._first_seen.setdefault(tid, t)
            t0, x0, y0 = hist[0]
            scale = np.sqrt(max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0))
            if t - t0 >= self.cfg.min_age and scale > 0 \
                    and np.hypot(cx - x0, cy - y0) > self.cfg.min_motion * scale * (t - t0) / w:
                self._last_moving[tid] = t
        for tid in [k for k, s in self._last_seen.items() if t - s > self.cfg.forget_frames]:
            del self._history[tid], self._last_seen[tid], self._first_seen[tid]
            self._last_moving.pop(tid, None)

    def _moving(self, tid: int, recent: int = 0) -> bool:
        return tid in self._last_moving and self._frame - self._last_moving[tid] <= recent

    def update(self, boxes: np.ndarray, ue_pixel=None) -> UEBox:
        """One frame's tracked boxes -> the UE's box (``ue_pixel`` is accepted and ignored)."""
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 6)
        boxes = boxes[boxes[:, 5] >= 0]                      # confirmed tracks only
        self._frame += 1
        self._observe(boxes)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        by_id = {int(b[5]): (b, a) for b, a in zip(boxes, area)}
        moving = sorted((tid for tid in by_id if self._moving(tid)), key=lambda k: -by_id[k][1])
        chosen = None
        if self.track_id is not None:
            if self.track_id in by_id and self._moving(self.track_id, self.cfg.recent_frames):
                chosen = self._challenged(by_id, moving)
            elif (self.track_id not in by_id and self.track_id in self._last_seen
                  and self._missing < self.cfg.hold_frames):
                self._missing += 1
                chosen = self._successor(by_id)
                if chosen is None:
                    return self._lost()
        if chosen is None and moving:
            chosen = moving[0]
        if chosen is None:
            self.track_id = None
            return self._lost()
        if chosen != self.track_id:
            self._challenger, self._challenge = None, 0
        self.track_id, self._missing = chosen, 0
        hist = self._history[chosen]
        dt = hist[-1][0] - hist[0][0]
        if dt:
            self._velocity = ((hist[-1][1] - hist[0][1]) / dt, (hist[-1][2] - hist[0][2]) / dt)
        else:
            self._velocity = (0.0, 0.0)
        b = by_id[chosen][0]
        self.last = UEBox((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1], float(b[4]),
                          chosen, False)
        return self.last

    def _successor(self, by_id: dict) -> int | None:
        """A new or moving track where the missing current one should be now, of a similar size."""
        last, k, cfg = self.last, self._missing, self.cfg
        area = last.w * last.h
        if area <= 0:
            return None
        px, py = last.cx + self._velocity[0] * k, last.cy + self._velocity[1] * k
        best, best_d = None, cfg.reid_distance * np.sqrt(area)
        for tid, (b, a) in by_id.items():
            fresh = self._first_seen[tid] > self._frame - k        # born since the current track went
            if tid == self.track_id or not (fresh or self._moving(tid, cfg.recent_frames)):
                continue
            d = np.hypot((b[0] + b[2]) / 2 - px, (b[1] + b[3]) / 2 - py)
            if d < best_d and 1 / cfg.reid_area <= a / area <= cfg.reid_area:
                best, best_d = tid, d
        return best

    def _challenged(self, by_id: dict, moving: list[int]) -> int:
        """The current track, or the larger moving track that has out-sized it long enough."""
        current_area = by_id[self.track_id][1]
        rival = next((tid for tid in moving if tid != self.track_id), None)
        if rival is None or by_id[rival][1] <= self.cfg.switch_ratio * current_area:
            self._challenger, self._challenge = None, 0
            return self.track_id
        self._challenge = self._challenge + 1 if rival == self._challenger else 1
        self._challenger = rival
        if self._challenge >= self.cfg.switch_frames:
            self._challenger, self._challenge = None, 0
            return rival
        return self.track_id

    def _lost(self) -> UEBox:
        last = self.last
        self.last = UEBox(last.cx, last.cy, last.w, last.h, 0.0, last.track_id, True)
        return self.last
