"""YOLO vehicle detector trained on the twin's auto-labelled camera frames (ultralytics, offline).

No COCO weights can be had offline, so the detector is built from ``yolov8n.yaml`` and
trained from scratch on the twin's YOLO labels (class 0 car, 1 truck).  Ultralytics is
kept offline: ``YOLO_OFFLINE=1``, its config folder under the project's build area, and
the font it wants for plots provided from matplotlib's DejaVuSans, so nothing is fetched.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader

CLASS_NAMES = {0: "car", 1: "truck"}


@dataclass(frozen=True)
class DetectorConfig:
    """config/detector.yaml"""

    model: str = "yolov8n.yaml"       # architecture only: trained from scratch
    imgsz: int = 320
    epochs: int = 15
    batch: int = 16
    max_train_images: int = 600       # every n-th training frame, to fit the CPU budget
    max_val_images: int = 150
    seed: int = 0
    conf: float = 0.25                # detection threshold when tracking
    tracker: str = "bytetrack.yaml"


def setup_offline(build_dir: str | Path) -> Path:
    """Keep ultralytics offline with a local config folder holding its font; returns that folder.

    An existing ``YOLO_CONFIG_DIR`` (the Makefile sets one) is used as it is; otherwise
    ``<build_dir>/ultralytics``.  Call it before ultralytics is first imported.
    """
    cfg_dir = Path(os.environ.get("YOLO_CONFIG_DIR") or Path(build_dir).resolve() / "ultralytics")
    font = cfg_dir / "Ultralytics" / "Arial.ttf"
    if not font.is_file():
        import matplotlib
        font.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf", font)
    os.environ["YOLO_CONFIG_DIR"] = str(cfg_dir)
    os.environ["YOLO_OFFLINE"] = "1"
    return cfg_dir


def _subsample(items: list, limit: int) -> list:
    if limit <= 0 or len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def write_yolo_dataset(scenario: str | Path, out: str | Path, cfg: DetectorConfig,
                       splits: dict[int, str]) -> Path:
    """Ultralytics dataset (images linked, labels copied) of a twin scenario (its ``unit1_yolo``
    labels), split by pass with ``splits`` (:func:`beam_predictor.deepsense.splits.pass_splits`)."""
    scenario, out = Path(scenario).resolve(), Path(out)
    shutil.rmtree(out, ignore_errors=True)
    by_split: dict[str, list] = {"train": [], "val": [], "test": []}
    for f in ScenarioReader(scenario, ReaderConfig(modalities=("power",))):
        by_split[splits[f.seq_index]].append(f)
    limits = {"train": cfg.max_train_images, "val": cfg.max_val_images, "test": 0}
    for split, frames in by_split.items():
        (out / "images" / split).mkdir(parents=True)
        (out / "labels" / split).mkdir(parents=True)
        for f in _subsample(frames, limits[split]):
            src = scenario / "unit1" / "camera_data" / f"image_{f.index}.jpg"
            os.symlink(src, out / "images" / split / src.name)
            shutil.copy(scenario / f.extras["unit1_yolo"], out / "labels" / split / f"image_{f.index}.txt")
    data = {"path": str(out.resolve()), "train": "images/train", "val": "images/val", "test": "images/test",
            "names": CLASS_NAMES}
    (out / "data.yaml").write_text(yaml.safe_dump(data))
    return out / "data.yaml"


def train_detector(data_yaml: Path, cfg: DetectorConfig, run_dir: str | Path) -> Path:
    """Train from the architecture yaml on CPU; returns the best weights file."""
    from ultralytics import YOLO
    run_dir = Path(run_dir).resolve()
    model = YOLO(cfg.model)
    model.train(data=str(data_yaml), epochs=cfg.epochs, imgsz=cfg.imgsz, batch=cfg.batch, device="cpu",
                amp=False, seed=cfg.seed, deterministic=True, workers=0, plots=False,
                project=str(run_dir.parent), name=run_dir.name, exist_ok=True, verbose=False,
                pretrained=False)
    return run_dir / "weights" / "best.pt"


def evaluate_detector(weights: Path, data_yaml: Path, cfg: DetectorConfig, split: str = "test") -> dict:
    """mAP50, mAP50-95, mean precision and recall on a split."""
    from ultralytics import YOLO
    res = YOLO(str(weights)).val(data=str(data_yaml), split=split, imgsz=cfg.imgsz, device="cpu",
                                 plots=False, verbose=False, workers=0)
    return {"map50": float(res.box.map50), "map50_95": float(res.box.map), "precision": float(res.box.mp),
            "recall": float(res.box.mr)}
