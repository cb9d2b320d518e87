"""Generate a DeepSense-format scenario from the ray-traced twin (``beam-predictor twin``).

Each pass of the UE car is one sequence at 10 Hz.  Per frame, the twin ray traces the
base station -> UE channel (64-beam power), the monostatic radar channel (raw FMCW cube),
casts the camera and LiDAR rays, checks line of sight, evaluates every pinching-antenna
codeword, and writes everything through :class:`ScenarioWriter`, so the reader, the
converter and training treat the result like a real scenario.

Columns written beside the DeepSense ones (all per frame):

===================  =====================================================================
``ue_x/ue_y/ue_z``   UE antenna in scene coordinates [m] (x east, y north, z up)
``ue_vx/ue_vy``      UE velocity [m/s]
``los``              1 when the array -> UE antenna segment is unobstructed
``ue_bbox``          UE box in the image, ``u_min v_min u_max v_max`` pixels; empty if hidden
``unit1_yolo``       YOLO label file of every visible vehicle (class 0 car, 1 truck)
``unit1_pass``       complex64 .npy: effective PASS channel of every codeword (K,)
``pass_codeword``    best PASS codeword, 1-based; ``pass_gain_db`` its gain |h|^2 in dB;
                     ``pass_gains_db`` every codeword's gain (dB, blockage included), space-separated
``unit1_channel``    complex64 .npy: the 16 elements' channel, mean over subcarriers (N,)
``unit1_channel_ofdm`` complex64 .npy: the same per subcarrier (F, N); empty without
                     ``array.store_subcarriers``.  The power file is exactly this channel
                     through the impaired array plus the noise of :func:`measurement_rng`
``unit1_pass_mu``     complex64 .npy (G, U, N, K): every user's effective channel through every
                     codeword of every waveguide, for each PA count of ``pinching.pas_grid``,
                     with per-PA blockage (physics/pass_system.py); user 0 is the UE
``unit1_channel_mu``  complex64 .npy (U, 16): every user's element channel at the carrier (the
                     PASS links are narrowband at the carrier too; a mean over the subcarriers
                     would cancel the delay phases of a 100 MHz band)
``unitN_loc`` (N>=3) the other users' GPS files (``traffic.extra_ues``), with
                     ``unitN_mode_fix_type`` and ``unitN_hdop``; ``unitN_x/unitN_y`` their true
                     antenna positions and ``unitN_bbox`` their true boxes (evaluation only)
``motion``           the pass's UE behaviour (twin/traffic.py)
``condition``        lighting/weather of the pass: day, dusk, night, rain
``split``            train / val / test (by pass)
===================  =====================================================================

The DeepSense columns ``unit2_mode_fix_type`` and ``unit2_hdop`` carry the GPS receiver's
quality (twin/gps.py); an outage leaves ``unit2_loc`` empty or writes a NaN fix.

``twin_meta.json`` holds the config, the sensor extrinsics and intrinsics, the beam
codebook angles, the site geometry (``site``: what a real base station knows of its own
pose, :mod:`beam_predictor.physics.site`) and the PASS codebook (also ``unit1/pass_data/pass_codebook.npy``);
``site.yaml`` holds the same site with its camera, in the format real scenarios use;
``splits.csv`` lists each pass's split.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from beam_predictor import contract
from beam_predictor.atomic import partial_dir, replace_dir
from beam_predictor.config import to_mapping
from beam_predictor.deepsense.frame import Frame, best_beam
from beam_predictor.deepsense.splits import draw_splits
from beam_predictor.deepsense.writer import ScenarioWriter
from beam_predictor.physics.geo import enu_to_latlon
from beam_predictor.twin import camera as cam_mod
from beam_predictor.physics import array
from beam_predictor.physics import pass_system, pinching
from beam_predictor.physics.site import SITE_FILE, CameraSite, SiteGeometry
from beam_predictor.twin import gps, lidar, radar
from beam_predictor.twin.config import TwinConfig
from beam_predictor.twin.traffic import PassPlan, plan_pass

EXTRA_COLUMNS = ("ue_x", "ue_y", "ue_z", "ue_vx", "ue_vy", "los", "ue_bbox", "unit1_yolo", "unit1_pass",
                 "pass_codeword", "pass_gain_db", "pass_gains_db", "unit1_channel", "unit1_channel_ofdm",
                 "unit1_pass_mu", "unit1_channel_mu", "motion", "condition", "split")
USER_COLUMNS = ("loc", "mode_fix_type", "hdop", "x", "y", "bbox")      # unitN_* of every other user


def extra_columns(cfg: TwinConfig) -> tuple[str, ...]:
    """The twin's columns beside DeepSense's: :data:`EXTRA_COLUMNS` and each other user's."""
    return EXTRA_COLUMNS + tuple(f"unit{3 + j}_{c}" for j in range(cfg.traffic.extra_ues)
                                 for c in USER_COLUMNS)


CARRIER = np.zeros(1)             # the carrier as a baseband offset: narrowband channels
START_OF_DAY_S = 9 * 3600.0       # first pass starts at 09:00:00
PASS_GAP_S = 5.0


class TwinGenerator:
    """Renders frames of planned passes; one instance holds the Sionna scene."""

    def __init__(self, cfg: TwinConfig):
        from beam_predictor.twin.scene import TwinScene
        self.cfg = cfg
        self.scene = TwinScene(cfg)
        bs = np.asarray(cfg.array.position, dtype=float)
        self.bs = bs
        self.cam = cam_mod.PinholeCamera(bs + np.asarray(cfg.camera.offset), cfg.camera.width,
                                         cfg.camera.height, cfg.camera.hfov_deg, cfg.camera.pitch_deg)
        self.cam_rays = self.cam.pixel_rays()
        self.lidar_origin = bs + np.asarray(cfg.lidar.offset)
        self.lidar_dirs = lidar.scan_directions(cfg.lidar)
        self.weights = array_weights(cfg.array)
        self.freqs = array.subcarriers(cfg.array.bandwidth_hz, cfg.array.num_subcarriers)
        self.pass_book = pinching.build_codebook(cfg.pinching, cfg.array.frequency_hz)
        self.pa_xyz = pinching.pa_world(self.pass_book, cfg.pinching).reshape(-1, 3)
        # every waveguide's codebook at every PA count of the grid, and all their PAs in one list
        self.mu_books = [pass_system.waveguide_books(cfg.pinching, cfg.array.frequency_hz, p)
                         for p in cfg.pinching.pas_grid]
        self.mu_xyz = np.concatenate([pass_system.pa_points(b, cfg.pinching).reshape(-1, 3)
                                      for b in self.mu_books])
        self.timing: dict[str, float] = defaultdict(float)
        self._object_info()

    def _object_info(self) -> None:
        info = {}
        for name, obj in self.scene.scene.objects.items():
            kind = "floor" if name == "floor" else "vehicle" if name.startswith("car_") else "building"
            info[int(obj.object_id)] = (kind, obj.radio_material.name, None)
        self.object_info = info
        self.reflectivity = {oid: lidar.REFLECTIVITY.get(kind if kind != "building" else material, 0.5)
                             for oid, (kind, material, _) in info.items()}
        self.vehicle_ids = {n: int(o.object_id) for n, o in self.scene.vehicles.items()}

    def plan(self, num_passes: int) -> list[PassPlan]:
        plans = []
        for seq in range(1, num_passes + 1):
            rng = np.random.default_rng([self.cfg.seed, seq, 1])
            plans.append(plan_pass(seq, self.cfg, self.scene.vehicles, self.bs[:2], rng,
                                   np.random.default_rng([self.cfg.seed, seq, 8]),
                                   np.random.default_rng([self.cfg.seed, seq, 9])))
        return plans

    def _tick(self, name: str, start: float) -> float:
        now = time.perf_counter()
        self.timing[name] += now - start
        return now

    def render_pass(self, plan: PassPlan, first_index: int, start_s: float, split: str):
        """Yield (frame, files) for every frame of a pass; ``files`` are extra files to write.

        BLAS runs on one thread meanwhile, as in a Ray worker (Ray gives each one thread), so
        that no sum depends on the process's BLAS threading: a pass must have the same bytes
        in every process (the scene also lists the ray tracer's paths in a canonical order).
        """
        from threadpoolctl import threadpool_limits
        with threadpool_limits(limits=1, user_api="blas"):
            yield from self._render_pass(plan, first_index, start_s, split)

    def _render_pass(self, plan: PassPlan, first_index: int, start_s: float, split: str):
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, plan.seq, 2])
        palette = rng.integers(30, 230, size=(len(plan.tracks), 3))
        classes = {}
        for tr in plan.tracks:
            classes[self.vehicle_ids[tr.name]] = 1 if tr.kind == "truck" else 0
        truck = np.asarray(cfg.traffic.truck_scale)
        scales = {tr.name: truck if tr.kind == "truck" else np.ones(3) for tr in plan.tracks}
        for tr in plan.tracks:                 # parked vehicles (and scales) are set once per pass
            x, y, vx, vy = tr.state(0, 0.0)
            self.scene.place(tr.name, (x, y), (vx, vy, 0.0), scales[tr.name], heading(vx, vy))
        colours = {tr.name: tuple(int(c) for c in palette[i]) for i, tr in enumerate(plan.tracks)}
        movers = [tr for tr in plan.tracks if tr.moving]
        ue = plan.ue
        # the true antenna track as the CSV writes it (4 decimals), and what the receiver reports
        truth = np.array([[float(f"{v:.4f}") for v in ue.state(k, k / cfg.frame_rate_hz)[:2]]
                          for k in range(plan.num_frames)])
        fixes = gps_fixes(cfg, plan.seq, truth)
        others = plan.users[1:]
        other_truth = [np.array([[float(f"{v:.4f}") for v in tr.state(k, k / cfg.frame_rate_hz)[:2]]
                                 for k in range(plan.num_frames)]) for tr in others]
        other_fixes = [gps_fixes(cfg, plan.seq, tt, unit=3 + j) for j, tt in enumerate(other_truth)]
        for tr in plan.tracks:
            lo, hi = self.scene.bbox(tr.name)
            self.object_info[self.vehicle_ids[tr.name]] = ("vehicle", "metal", (colours[tr.name], lo, hi))
        for k in range(plan.num_frames):
            t0 = time.perf_counter()
            t = k / cfg.frame_rate_hz
            for tr in movers:
                x, y, vx, vy = tr.state(k, t)
                self.scene.place(tr.name, (x, y), (vx, vy, 0.0), scales[tr.name], heading(vx, vy))
                lo, hi = self.scene.bbox(tr.name)
                self.object_info[self.vehicle_ids[tr.name]] = ("vehicle", "metal", (colours[tr.name], lo, hi))
            ue_x, ue_y, ue_vx, ue_vy = ue.state(k, t)
            ue_ant = np.array([ue_x, ue_y, cfg.traffic.ue_antenna_height])
            t0 = self._tick("place", t0)

            index = first_index + k
            paths = self.scene.trace_comms(ue_ant, seed=index)
            H = array.frequency_response(paths.a, paths.tau, paths.ux, cfg.array.num_antennas,
                                         self.freqs).astype(np.complex64)
            # the power files are exactly the stored channel through the array, plus the frame's noise
            power = array.beam_power(H.astype(np.complex128), self.weights, cfg.array.tx_power_scale,
                                     cfg.array.noise_power, measurement_rng(cfg, index)).astype(np.float32)
            t0 = self._tick("comms", t0)

            rp = self.scene.trace_radar(seed=first_index + k)
            far = rp.tau * radar.C0 / 2 > 1.0          # drop TX->RX leakage and the pole itself
            cube = radar.synthesize_cube(rp.a[far], rp.tau[far],
                                         rp.doppler[far] * cfg.radar.carrier_hz / cfg.array.frequency_hz,
                                         rp.ux[far], cfg.radar, rng)
            t0 = self._tick("radar", t0)

            ids, dist, normals = self.scene.cast(self.cam.position, self.cam_rays)
            img = cam_mod.shade(ids, dist, normals, self.cam_rays, self.cam, self.object_info, plan.condition,
                                rng, lanes_y=self._lane_lines())
            jpeg = cam_mod.encode_jpeg(img, cfg.camera.jpeg_quality, blur=plan.condition == "rain")
            boxes = cam_mod.boxes_from_ids(ids, self.cam.width, self.cam.height, classes)
            t0 = self._tick("camera", t0)

            lids, ldist, lnorm = self.scene.cast(self.lidar_origin, self.lidar_dirs)
            uniq, inverse = np.unique(lids, return_inverse=True)
            refl = np.array([self.reflectivity.get(int(u), 0.0) for u in uniq])[inverse]
            points = lidar.points_from_hits(self.lidar_dirs, ldist, lnorm, refl, cfg.lidar, rng)
            t0 = self._tick("lidar", t0)

            ue_id = self.vehicle_ids[ue.name]
            los = bool(self.scene.visible(self.bs[None, :], ue_ant[None, :], ignore_ids=[ue_id])[0])
            pa_los = self.scene.visible(self.pa_xyz, np.broadcast_to(ue_ant, self.pa_xyz.shape),
                                        ignore_ids=[ue_id]).reshape(self.pass_book.shape)
            h_pass = pinching.effective_channels(self.pass_book, ue_ant, pa_los.astype(float), cfg.pinching,
                                                 cfg.array.frequency_hz)
            gains = pinching.gain_db(h_pass)
            carrier = array.frequency_response(paths.a, paths.tau, paths.ux, cfg.array.num_antennas,
                                               CARRIER)[0]
            mu_links, mu_channels = self._users_links(plan, k, index, ue_ant, carrier)
            t0 = self._tick("los+pass", t0)

            latlon, fix_type, hdop = fixes[k]
            box = boxes.get(ue_id)
            yolo = cam_mod.yolo_lines(boxes, classes, self.cam.width, self.cam.height)
            extras = {
                "ue_x": f"{truth[k, 0]:.4f}", "ue_y": f"{truth[k, 1]:.4f}", "ue_z": f"{ue_ant[2]:.4f}",
                "ue_vx": f"{ue_vx:.4f}", "ue_vy": f"{ue_vy:.4f}", "los": "1" if los else "0",
                "ue_bbox": "" if box is None else " ".join(f"{v:.0f}" for v in box[:4]),
                "unit1_yolo": f"./unit1/yolo_labels/image_{index}.txt",
                "unit1_pass": f"./unit1/pass_data/pass_channel_{index}.npy",
                "pass_codeword": str(int(np.argmax(gains)) + 1), "pass_gain_db": f"{gains.max():.3f}",
                "pass_gains_db": " ".join(f"{g:.2f}" for g in gains),
                "unit1_channel": f"./unit1/channel_data/channel_{index}.npy",
                "unit1_channel_ofdm": (f"./unit1/channel_data/channel_ofdm_{index}.npy"
                                       if cfg.array.store_subcarriers else ""),
                "unit1_pass_mu": f"./unit1/pass_data/pass_mu_{index}.npy",
                "unit1_channel_mu": f"./unit1/channel_data/channel_mu_{index}.npy",
                "unit2_mode_fix_type": fix_type, "unit2_hdop": hdop,
                "motion": plan.behaviour, "condition": plan.condition, "split": split,
            }
            users_latlon = {}
            for j, tr in enumerate(others):
                unit = 3 + j
                u_latlon, u_fix, u_hdop = other_fixes[j][k]
                u_box = boxes.get(self.vehicle_ids[tr.name])
                users_latlon[unit] = u_latlon
                extras.update({f"unit{unit}_mode_fix_type": u_fix, f"unit{unit}_hdop": u_hdop,
                               f"unit{unit}_x": f"{other_truth[j][k, 0]:.4f}",
                               f"unit{unit}_y": f"{other_truth[j][k, 1]:.4f}",
                               f"unit{unit}_bbox": ("" if u_box is None
                                                    else " ".join(f"{v:.0f}" for v in u_box[:4]))})
            frame = Frame(index=index, seq_index=plan.seq, stamp_ns=int(round((start_s + t) * 1e9)),
                          beam=best_beam(power)[0], power=power, image_jpeg=jpeg, lidar=points, radar=cube,
                          ue_latlon=latlon, ue_altitude=cfg.gps.origin_alt + ue_ant[2] - self.bs[2],
                          bs_latlon=np.array([cfg.gps.origin_lat, cfg.gps.origin_lon]), extras=extras,
                          users_latlon=users_latlon)
            files = {extras["unit1_yolo"]: "\n".join(yolo) + ("\n" if yolo else ""),
                     extras["unit1_pass"]: h_pass.astype(np.complex64),
                     extras["unit1_pass_mu"]: mu_links, extras["unit1_channel_mu"]: mu_channels,
                     extras["unit1_channel"]: H.mean(axis=0)}
            if cfg.array.store_subcarriers:
                files[extras["unit1_channel_ofdm"]] = H
            self._tick("assemble", t0)
            yield frame, files

    def _users_links(self, plan: PassPlan, k: int, index: int, ue_ant: np.ndarray, ue_channel: np.ndarray):
        """Frame ``k``'s multi-user PASS links (G, U, N, K) and element channels at the carrier (U, M).

        The UE's element channel (``ue_channel``) comes from the frame's traced paths; the others' are
        traced here."""
        cfg = self.cfg
        t = k / cfg.frame_rate_hz
        links, channels = [], [ue_channel]
        for u, tr in enumerate(plan.users):
            if u == 0:
                ant = ue_ant
            else:
                x, y = tr.state(k, t)[:2]
                ant = np.array([x, y, cfg.traffic.ue_antenna_height])
                paths = self.scene.trace_comms(ant, seed=index * 8 + u)
                channels.append(array.frequency_response(paths.a, paths.tau, paths.ux, cfg.array.num_antennas,
                                                         CARRIER)[0])
            los = self.scene.visible(self.mu_xyz, np.broadcast_to(ant, self.mu_xyz.shape),
                                     ignore_ids=[self.vehicle_ids[tr.name]]).astype(float)
            per_grid, start = [], 0
            for books in self.mu_books:
                size = books.size
                mask = los[start:start + size].reshape(books.shape)
                per_grid.append(pass_system.links(books, ant, mask, cfg.pinching, cfg.array.frequency_hz))
                start += size
            links.append(per_grid)
        mu = np.stack([np.stack(g) for g in zip(*links)])                   # (G, U, N, K)
        return mu.astype(np.complex64), np.stack(channels).astype(np.complex64)

    def _lane_lines(self) -> tuple[float, ...]:
        lanes = sorted(self.cfg.traffic.lanes_y)
        return tuple((a + b) / 2 for a, b in zip(lanes, lanes[1:]) if (a + b) / 2 != 0)

    def meta(self) -> dict:
        cfg = self.cfg
        return {
            "config": to_mapping(cfg),
            "frames": "x east along the street, y north, z up; base station faces +y",
            "base_station_array": list(map(float, self.bs)),
            "camera": {"position": self.cam.position.tolist(), "width": self.cam.width,
                       "height": self.cam.height, "fx": self.cam.fx, "fy": self.cam.fx,
                       "cx": self.cam.width / 2, "cy": self.cam.height / 2, "pitch_deg": self.cam.pitch_deg},
            "lidar_origin": self.lidar_origin.tolist(),
            "radar_origin": (self.bs + np.asarray(cfg.radar.offset)).tolist(),
            "beam_angles_deg": np.degrees(contract.codebook_angles_rad(cfg.array.num_beams,
                                                                       cfg.array.fov_deg)).tolist(),
            "pass_codebook_m": self.pass_book.tolist(),
            "site": twin_site(cfg).to_dict(),
            "yolo_classes": {"0": "car", "1": "truck"},
        }


def gps_fixes(cfg: TwinConfig, seq: int, truth: np.ndarray,
              unit: int = 2) -> list[tuple[np.ndarray | None, str, str]]:
    """Per frame of pass ``seq``: unit ``unit``'s fix (None: no file), its fix type and HDOP cells.

    ``truth`` holds the antenna's true (x, y) as the CSV writes them; the receiver's draws
    come from the pass's own GPS stream (one per unit), so :func:`regps` can redo them for another preset.
    """
    a = cfg.array.position
    stream = [cfg.seed, seq, 7] + ([] if unit == 2 else [unit])
    track = gps.receiver_track(truth[:, 0] - a[0], truth[:, 1] - a[1], cfg.gps, cfg.frame_rate_hz,
                               np.random.default_rng(stream))
    out = []
    for k in range(len(truth)):
        latlon = None
        if track.written[k]:
            latlon = np.asarray(enu_to_latlon(track.east_m[k], track.north_m[k],
                                              (cfg.gps.origin_lat, cfg.gps.origin_lon)), dtype=float)
        out.append((latlon, track.fix_type[k], f"{track.hdop[k]:.2f}"))
    return out


def heading(vx: float, vy: float) -> float:
    """Yaw of a vehicle's body from the street axis: it points along its velocity (lane changes)."""
    return float(np.arctan(vy / vx)) if vx else 0.0


def array_weights(a) -> np.ndarray:
    """(B, N) weights of the twin's impaired array (``ArrayConfig``): what its power files measure with.

    The hardware's errors are fixed for the array: the same in every scenario of the site.
    """
    return array.impaired_codebook(a.num_beams, a.fov_deg, a.num_antennas, a.phase_error_deg,
                                   a.gain_error_db, a.impairment_seed)


def measurement_rng(cfg: TwinConfig, index: int) -> np.random.Generator:
    """The noise stream of frame ``index``'s power measurement (so the power files can be re-synthesised)."""
    return np.random.default_rng([cfg.seed, index, 6])


def twin_site(cfg: TwinConfig) -> SiteGeometry:
    """The twin's site: the array is the GPS origin and faces +y, which is north; its camera."""
    c = cfg.camera
    f = c.width / 2 / np.tan(np.radians(c.hfov_deg) / 2)
    camera = CameraSite(width=c.width, height=c.height, fx=float(f), fy=float(f), cx=c.width / 2,
                        cy=c.height / 2, offset_m=tuple(float(v) for v in c.offset), pitch_deg=c.pitch_deg)
    return SiteGeometry(bs_latlon=(cfg.gps.origin_lat, cfg.gps.origin_lon), heading_deg=0.0,
                        array_height_m=float(cfg.array.position[2]),
                        ue_antenna_height_m=cfg.traffic.ue_antenna_height,
                        num_antennas=cfg.array.num_antennas, num_beams=cfg.array.num_beams,
                        fov_deg=cfg.array.fov_deg, camera=camera)


class PassWorker:
    """One rendering process: holds its own scene and renders whole passes (a Ray actor)."""

    def __init__(self, cfg: TwinConfig):
        self.gen = TwinGenerator(cfg)

    def render(self, job):
        before = dict(self.gen.timing)
        frames = list(self.gen.render_pass(*job))
        return frames, {k: v - before.get(k, 0.0) for k, v in self.gen.timing.items()}


def _ray_results(cfg: TwinConfig, jobs, workers: int, address: str | None):
    """Render ``jobs`` on Ray actors; results in job order.

    A local Ray runtime with ``workers`` CPUs, or the cluster at ``address`` (every node
    needs beam_predictor and its twin dependencies installed).  An actor whose process dies
    is restarted and its pass rendered again (passes are seeded on their own, so the retry
    renders the same bytes).
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")      # offline by design: no usage reports
    import ray
    from ray.util import ActorPool
    if not ray.is_initialized():
        # "local": a new runtime of our own, even when another Ray instance runs on this machine
        ray.init(address=address or "local", num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, configure_logging=False,
                 object_store_memory=None if address else RAY_OBJECT_STORE_BYTES)
    actor = ray.remote(num_cpus=1, max_restarts=3, max_task_retries=3)(PassWorker)
    pool = ActorPool([actor.remote(cfg) for _ in range(workers)])
    try:
        yield from pool.map(lambda a, job: a.render.remote(job), jobs)
    finally:
        ray.shutdown()


RAY_OBJECT_STORE_BYTES = 1 << 30        # passes in flight are tens of MB each


def generate(out: str | Path, cfg: TwinConfig | None = None, progress: bool = True,
             overwrite: bool = False, workers: int = 1, address: str | None = None) -> dict:
    """Write the twin scenario to ``out`` (atomically); returns a summary with timings.

    ``workers`` > 1 (or an ``address``) renders passes on Ray actors, each with its own
    scene: a local Ray runtime, or the cluster at ``address``.  The driver writes the passes
    in order, so the output has exactly the bytes of a single-process run (every pass is
    seeded on its own).  A run that fails or is killed leaves no partial dataset: the
    next run starts clean.
    """
    cfg = cfg or TwinConfig()
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
    tmp = partial_dir(out)
    start = time.perf_counter()
    gen = TwinGenerator(cfg)
    setup_s = time.perf_counter() - start
    plans = gen.plan(cfg.passes)
    splits = draw_splits(cfg.passes, cfg.split, np.random.default_rng([cfg.seed, 0, 3]), min_test=False)
    total = sum(p.num_frames for p in plans)
    jobs, index, start_s = [], 1, START_OF_DAY_S
    for plan, split in zip(plans, splits):
        jobs.append((plan, index, start_s, split))
        index += plan.num_frames
        start_s += plan.num_frames / cfg.frame_rate_hz + PASS_GAP_S
    timing: dict[str, float] = defaultdict(float)
    distributed = workers > 1 or address is not None
    try:
        if distributed:
            results = _ray_results(cfg, jobs, max(workers, 1), address)
        else:
            results = ((list(gen.render_pass(*job)), {}) for job in jobs)
        with ScenarioWriter(tmp, layout="s31", extra_columns=extra_columns(cfg),
                            ascii_ply=cfg.lidar_ascii) as writer:
            for sub in ("unit1/yolo_labels", "unit1/pass_data", "unit1/channel_data"):
                (tmp / sub).mkdir(parents=True, exist_ok=True)
            np.save(tmp / "unit1/pass_data/pass_codebook.npy", gen.pass_book)
            for p, books in zip(cfg.pinching.pas_grid, gen.mu_books):
                np.save(tmp / f"unit1/pass_data/pass_codebook_mu_{p}.npy", books)
            with tqdm(total=total, desc="twin", unit="frame", disable=not progress) as bar:
                for frames, stage_s in results:
                    for name, sec in stage_s.items():
                        timing[name] += sec
                    for frame, files in frames:
                        t0 = time.perf_counter()
                        for rel, content in files.items():
                            if isinstance(content, str):
                                (tmp / rel).write_text(content)
                            else:
                                np.save(tmp / rel, content)
                        writer.add(frame)
                        timing["write"] += time.perf_counter() - t0
                        bar.update(1)
        (tmp / "twin_meta.json").write_text(json.dumps(gen.meta(), indent=1))
        (tmp / SITE_FILE).write_text("# Site geometry of this twin scenario (beam_predictor.physics.site)\n"
                                     + yaml.safe_dump(twin_site(cfg).to_dict(), sort_keys=False))
        (tmp / "splits.csv").write_text("seq_index,split,condition,frames,motion\n" + "".join(
            f"{p.seq},{s},{p.condition},{p.num_frames},{p.behaviour}\n" for p, s in zip(plans, splits)))
        replace_dir(tmp, out)
    finally:
        if distributed:
            results.close()
        shutil.rmtree(tmp, ignore_errors=True)
    for name, sec in gen.timing.items():
        timing[name] += sec
    elapsed = time.perf_counter() - start
    return {"frames": total, "passes": cfg.passes, "workers": workers,
            "backend": "ray" if distributed else "local", "seconds": elapsed,
            "setup_seconds": setup_s, "frames_per_second": total / max(elapsed - setup_s, 1e-9),
            "stage_seconds": dict(timing)}
