"""The Sionna RT street canyon behind the twin: materials, vehicles, radios and ray casting.

This is the only module of the twin that imports Sionna RT / Mitsuba.  It uses Sionna's
built-in ``simple_street_canyon_with_cars`` scene, loaded with ``merge_shapes=False`` so
every car is an object that can be moved, scaled into a truck and given a velocity.
The ITU materials ``brick`` and ``marble`` of that scene have no parameters at 60 GHz,
so those buildings are switched to ITU ``concrete`` before the frequency is set.
"""
from __future__ import annotations

import ctypes.util
import glob
import os
from dataclasses import dataclass

import numpy as np

from beam_predictor.physics.array import direction_cosine_x
from beam_predictor.twin.config import TwinConfig

SCENE_NAME = "simple_street_canyon_with_cars"
UNSUPPORTED_AT_60GHZ = ("brick", "marble")


def ensure_llvm() -> None:
    """Point Dr.Jit at LLVM 19 (older LLVMs abort on the first ray trace), unless already set."""
    if os.environ.get("DRJIT_LIBLLVM_PATH"):
        return
    found = ctypes.util.find_library("LLVM-19")
    candidates = sorted(glob.glob("/usr/lib/*/libLLVM.so.19*") + glob.glob("/usr/lib/*/libLLVM-19.so*"))
    path = candidates[0] if candidates else found
    if not path:
        raise RuntimeError("LLVM 19 not found: install the Debian package libllvm19 (make setup does) "
                           "or set DRJIT_LIBLLVM_PATH")
    os.environ["DRJIT_LIBLLVM_PATH"] = path


@dataclass
class Paths:
    """Ray-traced paths of one link, as numpy arrays over the valid paths."""

    a: np.ndarray          # complex gain
    tau: np.ndarray        # delay [s]
    ux: np.ndarray         # x direction cosine at the transmitter (departure) or receiver
    doppler: np.ndarray    # [Hz], at the scene frequency


class TwinScene:
    """Owns the Sionna scene; positions vehicles, traces links and casts rays."""

    def __init__(self, cfg: TwinConfig):
        ensure_llvm()
        import mitsuba as mi
        import sionna.rt as rt
        self.mi, self.rt, self.cfg = mi, rt, cfg
        scene = rt.load_scene(getattr(rt.scene, SCENE_NAME), merge_shapes=False)
        concrete = rt.ITURadioMaterial("concrete_60ghz", "concrete", thickness=0.3)
        for obj in scene.objects.values():
            if obj.radio_material.name in UNSUPPORTED_AT_60GHZ:
                obj.radio_material = concrete
        for name in UNSUPPORTED_AT_60GHZ:
            if name in scene.radio_materials:
                scene.remove(name)
        scene.frequency = cfg.array.frequency_hz
        scene.bandwidth = cfg.array.bandwidth_hz
        self.vehicle_material = rt.ITURadioMaterial("vehicle_metal", "metal", thickness=0.01,
                                                    scattering_coefficient=cfg.radar.vehicle_scattering)
        self.vehicles = {n: o for n, o in scene.objects.items() if n.startswith("car_")}
        for obj in self.vehicles.values():
            obj.radio_material = self.vehicle_material
        self.scene = scene
        self.kind_of_id = {int(o.object_id): n for n, o in scene.objects.items()}
        self._base_half = {n: self._half_extent(o) for n, o in self.vehicles.items()}
        self._scale: dict[str, np.ndarray] = {}
        scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern=cfg.array.element_pattern,
                                        polarization="V")
        scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
        # yaw 90 deg turns the boresight to +y; pitch tilts it down (the ULA axis stays x)
        facing = mi.Point3f(np.pi / 2, float(np.radians(cfg.array.tilt_deg)), 0.0)
        bs = np.asarray(cfg.array.position, dtype=float)
        radar = bs + np.asarray(cfg.radar.offset)
        self.comms = (rt.Transmitter("bs", position=self._p(bs), orientation=facing),
                      rt.Receiver("ue", position=self._p(bs + [0, 10, -2])))
        self.radar = (rt.Transmitter("radar_tx", position=self._p(radar), orientation=facing),
                      rt.Receiver("radar_rx", position=self._p(radar + [0.05, 0, 0]), orientation=facing))
        self.solver = rt.PathSolver()
        self._active = None

    # --- geometry ------------------------------------------------------------------------
    def _p(self, xyz):
        return self.mi.Point3f(*(float(v) for v in xyz))

    @staticmethod
    def _half_extent(obj) -> np.ndarray:
        bb = obj.mi_mesh.bbox()
        return (np.array(bb.max).ravel() - np.array(bb.min).ravel()) / 2

    def place(self, name: str, xyz, velocity=(0.0, 0.0, 0.0), scale=(1.0, 1.0, 1.0)) -> None:
        """Put vehicle ``name`` with its footprint centred at (x, y) on the ground (z ignored)."""
        obj = self.vehicles[name]
        scale = np.asarray(scale, dtype=float)
        if not np.array_equal(self._scale.get(name), scale):
            obj.scaling = self.mi.Vector3f(*(float(s) for s in scale))
            self._scale[name] = scale
        height = self._base_half[name][2] * scale[2]
        obj.position = self._p((xyz[0], xyz[1], height))
        obj.velocity = self.mi.Vector3f(*(float(v) for v in velocity))

    def bbox(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        bb = self.vehicles[name].mi_mesh.bbox()
        return np.array(bb.min).ravel(), np.array(bb.max).ravel()

    # --- radio ---------------------------------------------------------------------------
    def _use(self, devices) -> None:
        if self._active is devices:
            return
        for dev in (self._active or ()):
            self.scene.remove(dev.name)
        for dev in devices:
            self.scene.add(dev)
        self._active = devices

    def _trace(self, depth: int, samples: int, diffuse: bool, arrival: bool) -> Paths:
        paths = self.solver(self.scene, max_depth=depth, samples_per_src=samples, synthetic_array=True,
                            los=True, specular_reflection=True, diffuse_reflection=diffuse,
                            refraction=False, seed=int(self._seed))
        a_re, a_im = paths.a
        a = (np.asarray(a_re) + 1j * np.asarray(a_im)).ravel()
        valid = np.asarray(paths.valid).ravel().astype(bool)
        theta = np.asarray(paths.theta_r if arrival else paths.theta_t).ravel()
        phi = np.asarray(paths.phi_r if arrival else paths.phi_t).ravel()
        keep = valid & (np.abs(a) > 0)
        return Paths(a=a[keep], tau=np.asarray(paths.tau).ravel()[keep],
                     ux=direction_cosine_x(theta[keep], phi[keep]),
                     doppler=np.asarray(paths.doppler).ravel()[keep])

    def trace_comms(self, ue_antenna, seed: int) -> Paths:
        self._seed = seed
        self._use(self.comms)
        self.comms[1].position = self._p(ue_antenna)
        return self._trace(self.cfg.array.max_depth, self.cfg.array.samples_per_src, False, False)

    def trace_radar(self, seed: int) -> Paths:
        self._seed = seed
        self._use(self.radar)
        return self._trace(self.cfg.radar.max_depth, self.cfg.radar.samples_per_src, True, True)

    # --- ray casting ---------------------------------------------------------------------
    def cast(self, origins: np.ndarray, dirs: np.ndarray):
        """First hit of each ray: (object id or 0, distance or inf, unit normal facing the ray)."""
        mi = self.mi
        import drjit as dr
        origins = np.broadcast_to(np.asarray(origins, dtype=np.float32), dirs.shape)
        dirs = np.asarray(dirs, dtype=np.float32)
        ray = mi.Ray3f(mi.Point3f(*(mi.Float(np.ascontiguousarray(origins[:, i])) for i in range(3))),
                       mi.Vector3f(*(mi.Float(np.ascontiguousarray(dirs[:, i])) for i in range(3))))
        si = self.scene.mi_scene.ray_intersect(ray)
        ids = np.asarray(dr.reinterpret_array(mi.UInt32, si.shape), dtype=np.uint32)
        t = np.asarray(si.t, dtype=np.float64)
        n = np.asarray(si.n, dtype=np.float64).reshape(3, -1).T
        hit = np.isfinite(t) & (ids != 0)
        t = np.where(hit, t, np.inf)
        flip = np.sum(n * dirs, axis=1) > 0
        n[flip] *= -1
        return np.where(hit, ids, 0), t, n

    def visible(self, origins: np.ndarray, targets: np.ndarray, ignore_ids=()) -> np.ndarray:
        """Whether the segment origin -> target is free of obstacles (hits on ``ignore_ids`` skip)."""
        d = np.asarray(targets, dtype=float) - np.asarray(origins, dtype=float)
        dist = np.linalg.norm(d, axis=-1)
        ids, t, _ = self.cast(origins, d / dist[:, None])
        blocked = (t < dist - 0.05) & ~np.isin(ids, np.asarray(ignore_ids, dtype=np.uint32))
        return ~blocked
