"""The UE box series of a scenario, from the same detector + tracker step the live node runs.

Training and evaluation must see the boxes the live graph sees, not the twin's
ground-truth boxes.  :func:`track_scenario` streams a scenario's camera frames and GPS
fixes, in order, through :meth:`beam_predictor.sensing.tracker.UETracker.track` (the
tracker node's whole per-frame step: the gap rule, YOLO + ByteTrack, the GPS-guided UE
association), and keeps each frame's UE box normalised by the image size.

The result is cached like the feature cache:
``<cache>/boxes-<scenario key>-<hash of weights, camera model and tracker settings>.npz``,
so new detector weights, tracker settings or a new site camera recompute it.  The camera
model is the scenario's site file's (``site.yaml`` or the twin's ``twin_meta.json``, read by
the caller); a scenario without one gets the calibration-free association.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beam_predictor.atomic import write_npz
from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader, scenario_key
from beam_predictor.physics.site import SiteGeometry


@dataclass
class BoxSeries:
    index: np.ndarray        # (F,) frame index
    box: np.ndarray          # (F, 4) float32 u0, v0, u1, v1 over the image size; zeros where not visible
    visible: np.ndarray      # (F,) bool: the tracker reported the UE
    version: str             # hash of the detector weights, camera model and settings


@dataclass(frozen=True)
class TrackerSettings:
    """What decides the boxes: the tracker node's parameters (runtime.config.TrackerConfig)."""

    weights: str
    conf: float = 0.25
    imgsz: int = 320
    gap_reset_s: float = 1.0
    association: str = "auto"
    runtime: str = "auto"


def _version(settings: TrackerSettings, site: SiteGeometry | None) -> str:
    h = hashlib.sha256(Path(settings.weights).read_bytes())
    from beam_predictor.runtime.engine import resolve_runtime
    camera = None if site is None or site.camera is None else site.to_dict()
    runtime = resolve_runtime(settings.runtime, "cpu")         # torch keeps the keys of earlier caches
    h.update(json.dumps({"conf": settings.conf, "imgsz": settings.imgsz, "gap": settings.gap_reset_s,
                         "association": settings.association, "camera": camera, "letterbox": "square",
                         **({"runtime": runtime} if runtime != "torch" else {})}, sort_keys=True).encode())
    return h.hexdigest()[:12]


def _tracker(settings: TrackerSettings, site: SiteGeometry | None):
    from beam_predictor.sensing.detector import setup_offline
    from beam_predictor.sensing.tracker import CameraModel, UETracker
    if not Path(settings.weights).is_file():
        raise FileNotFoundError(f"{settings.weights}: no detector weights (build them with `make detector`)")
    setup_offline("build")
    camera = CameraModel(site) if site is not None and site.camera is not None else None
    return UETracker(settings.weights, camera, conf=settings.conf, imgsz=settings.imgsz,
                     gap_reset_s=settings.gap_reset_s, association=settings.association,
                     runtime=settings.runtime)


def _run(scenario: Path, settings: TrackerSettings, site: SiteGeometry | None, cache: Path | None,
         progress: bool, multi: bool) -> dict[int, BoxSeries]:
    """Stream the scenario through the tracker; each unit's series (unit 2 is the UE), cached."""
    import cv2

    from beam_predictor.sensing.tracker import normalised_box
    version = _version(settings, site) + ("-users" if multi else "")
    if cache is not None and cache.is_file():
        z = np.load(cache)
        units = [int(k[len("box_"):]) for k in z.files if k.startswith("box_")]
        return {u: BoxSeries(z["index"], z[f"box_{u}"], z[f"visible_{u}"], version) for u in units}
    tracker = _tracker(settings, site)
    reader = ScenarioReader(scenario, ReaderConfig(modalities=("camera", "gps")))
    index, boxes, visible = [], {}, {}
    for f in tqdm(reader, total=len(reader), desc=f"track {scenario.name}", disable=not progress):
        image = None
        if f.image_jpeg is not None:
            image = cv2.imdecode(np.frombuffer(f.image_jpeg, np.uint8), cv2.IMREAD_COLOR)
        if multi:
            _, found = tracker.track_users(f.stamp_ns, image, {2: f.ue_latlon, **f.users_latlon})
        else:
            found = {2: tracker.track(f.stamp_ns, image, f.ue_latlon)[1]}
        index.append(f.index)
        for unit, ue in found.items():
            corners = normalised_box(ue, image.shape[1], image.shape[0]) if image is not None else None
            visible.setdefault(unit, []).append(corners is not None)
            boxes.setdefault(unit, []).append(corners if corners is not None else (0.0, 0.0, 0.0, 0.0))
    idx = np.array(index)
    out = {u: BoxSeries(idx, np.array(boxes[u], np.float32).reshape(-1, 4), np.array(visible[u]), version)
           for u in sorted(boxes)}
    if cache is not None:
        write_npz(cache, index=idx, **{f"box_{u}": b.box for u, b in out.items()},
                  **{f"visible_{u}": b.visible for u, b in out.items()})
    return out


def track_scenario(scenario: str | Path, settings: TrackerSettings, site: SiteGeometry | None,
                   cache_dir: str | Path | None = None, progress: bool = True) -> BoxSeries:
    """Every frame's UE box as the live tracker reports it (cached); ``site``: the scenario's (its
    camera, if any, projects the GPS fixes; None: no site file)."""
    scenario = Path(scenario)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"boxes-{scenario_key(scenario)}-{_version(settings, site)}.npz"
        if cache.is_file():
            z = np.load(cache)
            if "box" in z.files:                                   # caches written before several users
                return BoxSeries(z["index"], z["box"], z["visible"], _version(settings, site))
    return _run(scenario, settings, site, cache, progress, multi=False)[2]


def track_users(scenario: str | Path, settings: TrackerSettings, site: SiteGeometry,
                cache_dir: str | Path | None = None, progress: bool = True) -> dict[int, BoxSeries]:
    """Every user's box series of a multi-user scenario (unit 2 the UE, 3, 4, ... the others),
    from one detection pass and each user's own GPS association (cached)."""
    scenario = Path(scenario)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"boxes-{scenario_key(scenario)}-{_version(settings, site)}-users.npz"
    return _run(scenario, settings, site, cache, progress, multi=True)
