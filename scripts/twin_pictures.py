#!/usr/bin/env python3
"""The README pictures of a twin scenario (``make twin-pictures``).

Writes three small PNGs of one frame: the camera image with the UE box, a LiDAR top
view coloured by intensity, and the radar range-angle map.
Usage: twin_pictures.py SCENARIO_DIR OUT_DIR [--index N]
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from beam_predictor.deepsense.reader import ScenarioReader  # noqa: E402
from beam_predictor.sensing.radar_maps import angle_axis_deg, range_angle_map  # noqa: E402
from beam_predictor.config import from_mapping  # noqa: E402
from beam_predictor.twin import radar as twin_radar  # noqa: E402
from beam_predictor.twin.config import RadarConfig  # noqa: E402


def pick_frame(scenario: Path, index: int | None):
    for frame in ScenarioReader(scenario):
        if index is not None and frame.index == index:
            return frame
        if index is None and frame.extras.get("los") == "1" and frame.extras.get("ue_bbox") \
                and abs(float(frame.extras["ue_x"])) < 4:
            return frame
    raise SystemExit(f"no suitable frame in {scenario}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("scenario", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--index", type=int)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    frame = pick_frame(args.scenario, args.index)

    img = Image.open(io.BytesIO(frame.image_jpeg)).convert("RGB")
    box = [float(v) for v in frame.extras["ue_bbox"].split()]
    ImageDraw.Draw(img).rectangle(box, outline=(255, 40, 40), width=3)
    img.thumbnail((640, 360))
    img.convert("P", palette=Image.ADAPTIVE, colors=128).save(args.out / "twin_camera.png", optimize=True)

    pts = frame.lidar
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.scatter(pts[:, 0], pts[:, 1], c=pts[:, 3], s=0.3, cmap="viridis")
    ax.plot(0, 0, "r^", ms=8, label="base station")
    ax.set(xlim=(-40, 40), ylim=(-2, 22), xlabel="x east [m]", ylabel="y north [m]",
           title=f"LiDAR top view, frame {frame.index} ({len(pts)} points)", aspect="equal")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(args.out / "twin_lidar_top.png")
    plt.close(fig)

    meta = json.loads((args.scenario / "twin_meta.json").read_text())
    radar_cfg = from_mapping(RadarConfig, meta["config"]["radar"])
    ra = range_angle_map(frame.radar, 64)
    rng_m = np.arange(ra.shape[0]) * twin_radar.range_bin_m(radar_cfg)
    ang = angle_axis_deg(64)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.pcolormesh(ang, rng_m, 20 * np.log10(ra + 1e-9), shading="auto", cmap="magma")
    ax.set(ylim=(0, 30), xlabel="angle [deg]", ylabel="range [m]",
           title=f"radar range-angle map, frame {frame.index}")
    fig.tight_layout()
    fig.savefig(args.out / "twin_radar_range_angle.png")
    plt.close(fig)
    print(f"frame {frame.index} (pass {frame.seq_index}, UE x = {frame.extras['ue_x']} m) -> {args.out}")


if __name__ == "__main__":
    main()
