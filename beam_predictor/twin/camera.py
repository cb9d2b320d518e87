"""Base-station camera of the twin: pinhole model, ray-cast shading, boxes and YOLO labels.

The image is ray cast (one primary ray per pixel through the Mitsuba scene), not path
traced: every pixel knows the object it sees, its distance and surface normal.  Colour
comes from a per-object albedo with procedural texture (lane markings and kerbs on the
road, windows on facades, glass, tyres and lights on vehicles), Lambert shading under a
per-pass lighting condition, a sky gradient, and sensor noise.  The same object-id
buffer gives occlusion-aware 2D boxes of every vehicle.

Camera frame: x right, y down, z forward (optical); it looks along the base station's +y,
pitched by ``pitch_deg``.
"""
from __future__ import annotations

import io

import numpy as np

from beam_predictor.physics.camera import PinholeCamera

# name -> (ambient, diffuse, sun direction, tint, sky top, sky horizon, noise std, rain)
CONDITIONS = {
    "day": (0.45, 0.75, (0.3, -0.5, 0.8), (1.0, 1.0, 1.0), (70, 130, 210), (185, 210, 235), 2.0, False),
    "dusk": (0.30, 0.55, (-0.8, -0.2, 0.25), (1.15, 0.85, 0.65), (60, 50, 110), (240, 150, 90), 3.0, False),
    "night": (0.10, 0.08, (0.0, 0.0, 1.0), (0.8, 0.85, 1.1), (5, 8, 20), (20, 25, 45), 6.0, False),
    "rain": (0.40, 0.30, (0.2, -0.3, 0.9), (0.9, 0.95, 1.0), (110, 115, 125), (150, 155, 160), 4.0, True),
}
MATERIAL_ALBEDO = {"glass": (120, 150, 170), "wood": (150, 110, 80), "concrete": (165, 160, 150),
                   "concrete_60ghz": (175, 140, 120), "metal": (150, 150, 155)}


def _hash_noise(p: np.ndarray, scale: float) -> np.ndarray:
    """Deterministic value noise in [0, 1) from world coordinates (texture grain)."""
    q = np.floor(p / scale).astype(np.int64)
    h = (q[:, 0] * 73856093) ^ (q[:, 1] * 19349663) ^ (q[:, 2] * 83492791)
    return (h % 1000) / 1000.0


def shade(ids: np.ndarray, t: np.ndarray, normals: np.ndarray, rays: np.ndarray, cam: PinholeCamera,
          object_info: dict[int, tuple[str, str, tuple]], condition: str, rng: np.random.Generator,
          lanes_y=(), road_half_width: float = 6.8) -> np.ndarray:
    """(H, W, 3) uint8 image from the ray-cast buffers.

    ``object_info`` maps an object id to (kind, material, colour) with kind one of
    'floor', 'building', 'vehicle'.
    """
    amb, dif, sun, tint, sky_top, sky_hor, noise_std, rain = CONDITIONS[condition]
    n_pix = ids.size
    hit = np.isfinite(t)
    p = cam.position + rays * np.where(hit, t, 0.0)[:, None]
    albedo = np.zeros((n_pix, 3))
    # sky
    elev = np.clip(rays[:, 2] * 3 + 0.2, 0, 1)[:, None]
    sky = np.asarray(sky_hor) * (1 - elev) + np.asarray(sky_top) * elev
    for oid in np.unique(ids[hit]):
        kind, material, colour = object_info.get(int(oid), ("building", "concrete", (160, 160, 160)))
        m = ids == oid
        q = p[m]
        grain = _hash_noise(q, 0.15)[:, None]
        if kind == "floor":
            base = np.where(np.abs(q[:, 1:2]) > road_half_width, 150.0, 72.0) * np.ones(3)
            base = base * (0.9 + 0.2 * grain)
            for y in lanes_y:
                dashed = (np.abs(q[:, 1] - y) < 0.08) & ((q[:, 0] % 6.0) < 3.0)
                base[dashed] = (225, 225, 215)
            centre = np.abs(q[:, 1]) < 0.12
            base[centre] = (220, 190, 60)
        elif kind == "vehicle":
            lo, hi = np.asarray(colour[1]), np.asarray(colour[2])
            rel = (q[:, 2] - lo[2]) / max(hi[2] - lo[2], 1e-6)
            base = np.tile(np.asarray(colour[0], dtype=float), (len(q), 1)) * (0.95 + 0.1 * grain)
            base[rel > 0.62] = (40, 50, 60)                           # windows
            base[rel < 0.22] = (25, 25, 25)                           # tyres, underbody
            if condition in ("night", "dusk"):
                ends = (np.minimum(q[:, 0] - lo[0], hi[0] - q[:, 0]) < 0.12) & (rel > 0.3) & (rel < 0.5)
                base[ends] = (255, 240, 200)                          # lights
        else:
            base = np.tile(np.asarray(MATERIAL_ALBEDO.get(material, (160, 160, 160)), float), (len(q), 1))
            base = base * (0.85 + 0.3 * grain)
            along = np.where(np.abs(normals[m, 0]) > 0.5, q[:, 1], q[:, 0])
            window = ((along % 3.0) > 0.7) & ((along % 3.0) < 2.3) & ((q[:, 2] % 3.5) > 1.2) & (q[:, 2] > 1.0)
            base[window] = (55, 70, 90) if condition != "night" else (230, 200, 120)
        albedo[m] = base
    light = amb + dif * np.clip(normals @ (np.asarray(sun) / np.linalg.norm(sun)), 0, None)
    img = np.where(hit[:, None], albedo * light[:, None] * np.asarray(tint), sky)
    if condition == "night":
        lit = hit & (albedo.max(axis=1) >= 230)
        img[lit] = albedo[lit]                                        # emissive lights/windows
    img = img.reshape(cam.height, cam.width, 3)
    if rain:
        streaks = rng.random((cam.height, cam.width)) < 0.004
        for shift in range(1, 6):
            streaks[shift:] |= streaks[:-shift]
        img = 0.8 * img + 0.2 * np.mean(img, axis=2, keepdims=True)
        img[streaks] = img[streaks] * 0.6 + 90
    img = img + rng.normal(0, noise_std, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def encode_jpeg(img: np.ndarray, quality: int, blur: bool = False) -> bytes:
    from PIL import Image, ImageFilter
    im = Image.fromarray(img)
    if blur:
        im = im.filter(ImageFilter.GaussianBlur(0.8))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def boxes_from_ids(ids: np.ndarray, width: int, height: int, wanted: dict[int, int],
                   min_pixels: int = 30) -> dict[int, tuple[float, float, float, float, int]]:
    """Tight (u_min, v_min, u_max, v_max, pixels) box of each wanted object's visible pixels."""
    img = ids.reshape(height, width)
    out = {}
    for oid in wanted:
        rows, cols = np.nonzero(img == oid)
        if rows.size >= min_pixels:
            out[oid] = (float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1),
                        int(rows.size))
    return out


def yolo_lines(boxes: dict, classes: dict[int, int], width: int, height: int) -> list[str]:
    """YOLO label lines: class cx cy w h, normalised to the image size."""
    lines = []
    for oid, (u0, v0, u1, v1, _) in boxes.items():
        lines.append(f"{classes[oid]} {(u0 + u1) / 2 / width:.6f} {(v0 + v1) / 2 / height:.6f} "
                     f"{(u1 - u0) / width:.6f} {(v1 - v0) / height:.6f}")
    return lines
