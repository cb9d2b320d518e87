"""The Sionna RT scene behind the twin: materials, vehicles, radios and ray casting.

This is the only module of the twin that imports Sionna RT / Mitsuba.  It loads the
scene ``twin.scene`` names (:mod:`beam_predictor.twin.scenes`) with ``merge_shapes=False``,
so every car is an object that can be moved, scaled into a truck and given a velocity.
Materials without ITU parameters at the carrier are switched to their ``scene_materials``
substitutes before the frequency is set (the street canyon's brick and marble become
concrete); a material with neither is a configuration error naming it.
"""
from __future__ import annotations

import ctypes.util
import glob
import os
from dataclasses import dataclass

import numpy as np

from beam_predictor.physics.array import direction_cosine_x
from beam_predictor.twin import scenes
from beam_predictor.twin.config import TwinConfig


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
        import drjit as dr
        import mitsuba as mi
        import sionna.rt as rt
        from sionna.rt.radio_materials.itu import ITU_MATERIALS_PROPERTIES
        if cfg.render_threads > 0:
            dr.set_thread_count(cfg.render_threads)      # one: bit-reproducible (config.py)
        self.mi, self.rt, self.cfg = mi, rt, cfg
        if cfg.scene == "boulevard":
            scene = rt.load_scene_from_string(scenes.boulevard_xml(rt.scene.low_poly_car), merge_shapes=False)
        else:
            scene = rt.load_scene(getattr(rt.scene, scenes.BUILTIN[cfg.scene]), merge_shapes=False)
        used = {o.radio_material.name: o.radio_material.itu_type for o in scene.objects.values()}
        rendered = scenes.check_materials(cfg.scene, used, dict(cfg.scene_materials), cfg.array.frequency_hz,
                                          ITU_MATERIALS_PROPERTIES)
        substitutes = {}
        for obj in scene.objects.values():
            name = obj.radio_material.name
            if rendered[name] != used[name]:
                if rendered[name] not in substitutes:
                    substitutes[rendered[name]] = rt.ITURadioMaterial(
                        f"{rendered[name]}_60ghz", rendered[name], thickness=0.3)
                obj.radio_material = substitutes[rendered[name]]
        for name in used:
            if rendered[name] != used[name] and name in scene.radio_materials:
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
        params = scene.mi_scene_params
        self._pristine = {}
        for n, o in self.vehicles.items():
            key = o.mi_mesh.id() + ".vertex_positions"
            v = np.array(params[key], dtype=np.float64).reshape(-1, 3)
            self._pristine[n] = (key, v - (v.min(axis=0) + v.max(axis=0)) / 2)
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

    def place(self, name: str, xyz, velocity=(0.0, 0.0, 0.0), scale=(1.0, 1.0, 1.0),
              yaw: float = 0.0) -> None:
        """Put vehicle ``name`` with its footprint centred at (x, y) on the ground (z ignored).

        The mesh is rebuilt from its vertices as loaded (centred, scaled, turned by ``yaw``
        about z, moved), never from its last pose: Sionna's own setters transform the
        current vertices, so float32 rounding would carry the history of earlier passes
        into a pass, and a pass would render differently in a fresh worker.
        """
        key, rel = self._pristine[name]
        scale = np.asarray(scale, dtype=float)
        v = rel * scale
        if yaw:
            c, s = np.cos(yaw), np.sin(yaw)
            v = np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1], v[:, 2]], axis=1)
        v = v + np.array([xyz[0], xyz[1], self._base_half[name][2] * scale[2]])
        params = self.scene.mi_scene_params
        params[key] = self.mi.Float(np.ascontiguousarray(v, dtype=np.float32).ravel())
        params.update()
        self.scene.scene_geometry_updated()
        self.vehicles[name].velocity = self.mi.Vector3f(*(float(u) for u in velocity))

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
        out = Paths(a=a[keep], tau=np.asarray(paths.tau).ravel()[keep],
                    ux=direction_cosine_x(theta[keep], phi[keep]),
                    doppler=np.asarray(paths.doppler).ravel()[keep])
        # The solver's multi-threaded kernels may list the same paths in another order from run
        # to run; sums over paths then differ in the last bits.  A canonical order makes a
        # frame's channel, power and radar cube the same bytes in every process.
        order = np.lexsort((out.a.imag, out.a.real, out.doppler, out.ux, out.tau))
        return Paths(a=out.a[order], tau=out.tau[order], ux=out.ux[order], doppler=out.doppler[order])

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
