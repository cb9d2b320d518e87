"""Closed-loop metrics of the applied beam and PA commands (the beamformer node's core).

The simulated base station applies the commanded beam to a 16-element half-wavelength
ULA (DFT codebook weights over the contract's ±45° codebook) and the commanded PA
positions to the roadside waveguide.  Against the replay's ground truth it scores:

* sweep refinement (``refine_k``, 5G NR's P2 step with model-chosen candidates): with K > 0
  the actuator measures the command's K top-ranked beams and applies the strongest
  (:func:`refine_beam`); K = 0 applies the prediction.  Every frame is also scored for each K
  of ``refine_curve`` (:meth:`ClosedLoopMetrics.record`'s ``curve``): power loss and the sweep
  overhead K / 64 of a full sweep, so one run draws the loss-against-K curve;
* hit: the applied (offset 0) beam is the measured optimal beam; top-3 hit likewise;
* power loss: 10 log10(P[optimal] / P[applied]) from the measured 64-beam power;
* array-gain loss: the simulated array's gain toward the optimal beam's direction with
  the applied weights, against the optimal weights (what a mis-steer costs the array);
* PA gain loss: the PASS channel gain (paper 003 model, LoS assumed) at the UE position of
  the optimal codeword's PA positions against the commanded positions;
* latency: end to end (wall time from the frame's power measurement reaching the actuator
  to its command reaching it, both seen by the same process) and against the header
  stamp on the node clock (sim time during replay).
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from beam_predictor import contract
from beam_predictor.atomic import partial_dir, replace_dir
from beam_predictor.physics.array import codebook
from beam_predictor.physics.pinching import build_codebook, effective_channels, gain_db


class SimulatedArray:
    """The codebook weights of a ULA; ``apply`` returns the weights of a beam."""

    def __init__(self, num_antennas: int = contract.NUM_ANTENNAS):
        self.angles = np.asarray(contract.codebook_angles_rad())
        self.weights = codebook(self.angles, num_antennas)
        self.applied: int | None = None

    def apply(self, beam: int) -> np.ndarray:
        if not 0 <= beam < len(self.angles):
            raise ValueError(f"beam {beam} outside the {len(self.angles)}-beam codebook")
        self.applied = beam
        return self.weights[beam]

    def gain_loss_db(self, applied: int, optimal: int) -> float:
        a = self.weights[optimal]                           # the optimal direction's steering vector
        g_opt = abs(np.vdot(a, self.weights[optimal])) ** 2
        g_app = max(abs(np.vdot(a, self.weights[applied])) ** 2, 1e-12)
        return float(10 * np.log10(g_opt / g_app))


class SimulatedWaveguide:
    """PA positions on the twin's waveguide; gain of a placement at a UE position.

    :meth:`pa_loss_db` scores a command against the frame's best codeword with blockage: the
    twin's ``pass_gains_db`` (every codeword's gain with its per-PA line of sight) when the
    command is a codeword of the codebook; otherwise (an off-codebook placement, or a replay
    without the column) the line-of-sight model at the true UE position."""

    def __init__(self, pinching_cfg, frequency_hz: float):
        self.cfg, self.frequency = pinching_cfg, frequency_hz
        self.codebook = build_codebook(pinching_cfg, frequency_hz)
        self.positions: np.ndarray | None = None

    def apply(self, positions) -> None:
        p = np.asarray(positions, dtype=float)
        if p.size and ((p < 0).any() or (p > self.cfg.length_m).any()):
            raise ValueError(
                f"PA positions {p.round(3).tolist()} outside the {self.cfg.length_m} m waveguide")
        self.positions = p

    def gain_db(self, positions, ue_xyz) -> float:
        p = np.asarray(positions, dtype=float)[None]
        h = effective_channels(p, np.asarray(ue_xyz, float), np.ones_like(p), self.cfg, self.frequency)
        return float(gain_db(h)[0])

    def codeword(self, positions) -> int | None:
        """0-based codeword whose PA positions ``positions`` are, or None."""
        p = np.sort(np.asarray(positions, dtype=float))
        if p.shape != self.codebook.shape[1:]:
            return None
        hit = np.nonzero(np.all(np.abs(self.codebook - p) < 1e-6, axis=1))[0]
        return int(hit[0]) if hit.size else None

    def pa_loss_db(self, positions, info: dict) -> float:
        """Gain lost by the commanded placement against the frame's best codeword (NaN: no truth)."""
        if not info.get("pass_codeword") or "ue_x" not in info:
            return float("nan")
        k = self.codeword(positions)
        cell = info.get("pass_gains_db", "").split()
        if k is not None and len(cell) == len(self.codebook):
            gains = np.array(cell, dtype=float)
            return float(gains.max() - gains[k])
        ue = [float(info["ue_x"]), float(info["ue_y"]), float(info["ue_z"])]
        best = self.codebook[int(info["pass_codeword"]) - 1]
        return self.gain_db(best, ue) - self.gain_db(positions, ue)


@dataclass
class LoopSample:
    stamp_ns: int
    applied: int
    optimal: int
    hit: bool
    top3_hit: bool
    power_loss_db: float
    array_loss_db: float
    pa_loss_db: float
    e2e_ms: float
    stamp_latency_ms: float
    epoch: int = 0              # the pass of a looped replay (FrameLedger)
    wall_s: float = 0.0         # when it was scored (Unix time; the soak groups samples by minute)


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported ahead by the beamformer node, so writing the
    report at shutdown does not pay the import)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


class CommandWatchdog:
    """Frames arriving without commands for ``timeout`` s: the actuator notices the graph is down.

    The node calls :meth:`frame` and :meth:`command` (monotonic seconds) as they arrive;
    :meth:`check` returns (silent, text) when the state changes, else None.  Silence counts from
    the last command; after a quiet spell (the graph's start, a pass's start, a pause) and before
    the spell's first command, from the first frame beyond the ``warmup_frames`` the fusion node
    needs for its history (H): a pass's warm-up is no outage, at any replay rate."""

    def __init__(self, timeout: float, now: float, warmup_frames: int = 0):
        self.timeout, self.warmup = timeout, warmup_frames
        self.last_frame = self.last_command = self.spell_start = now
        self.frames_in_spell = 0
        self.counted_from: float | None = None     # None: still in a warm-up
        self.silent_since: float | None = None

    def frame(self, now: float) -> None:
        if now - self.last_frame > self.timeout:
            self.frames_in_spell, self.counted_from, self.spell_start = 0, None, now
        self.frames_in_spell += 1
        if self.frames_in_spell == self.warmup + 1:
            self.counted_from = now
        self.last_frame = now

    def command(self, now: float) -> None:
        self.last_command = now

    def check(self, now: float) -> tuple[bool, str] | None:
        since = self.last_command if self.last_command >= self.spell_start else self.counted_from
        silent = since is not None and now - since > self.timeout and now - self.last_frame < self.timeout
        if silent == (self.silent_since is not None):
            return None
        if silent:
            self.silent_since = since
            return True, f"no {contract.BEAM_COMMAND.name} for {now - since:.1f} s while frames arrive"
        text = f"commands flow again after {now - self.silent_since:.1f} s"
        self.silent_since = None
        return False, text


class FrameLedger:
    """The beamformer's bookkeeping: measured frames (power, frame info) and commands matched by stamp.

    A frame is keyed (epoch, stamp).  A measured stamp more than ``match_window_s`` behind the newest
    one starts a new epoch (a looped bag or a restarted source replays earlier stamps), so a looped
    bag is scored pass after pass instead of matching its second pass to the first's leftovers.
    Truth and commands more than ``match_window_s`` older than the newest measured frame are forgotten,
    so frames no command comes for (a silent fusion node, a graph without llm_pass) do not pile up."""

    def __init__(self, match_window_s: float):
        self.match_ns = int(match_window_s * 1e9)
        self.epoch, self.newest = 0, None
        self.truth: dict[tuple, dict] = {}          # key -> power, info, arrival (monotonic s)
        self.commands: dict[tuple, tuple] = {}      # key -> (payload, arrival, stamp latency ms)
        self.frames: list[tuple[tuple, int, int]] = []   # (key, pass, position in pass), measured
        self.scored: set[tuple] = set()
        self.command_keys: set[tuple] = set()

    def _measured(self, t: int, now: float) -> tuple[int, int]:
        if self.newest is not None and t < self.newest - self.match_ns:
            self.epoch += 1
            self.truth.clear()
            self.commands.clear()
            self.newest = None
        if self.newest is None or t > self.newest:
            self.newest = t
            self._forget((self.epoch, t - self.match_ns))   # frames no command came for (a silent node)
        key = (self.epoch, t)
        self.truth.setdefault(key, {"arrival": now})
        return key

    def power(self, t: int, power: np.ndarray, now: float) -> tuple[int, int]:
        key = self._measured(t, now)
        self.truth[key]["power"] = power
        return key

    def info(self, t: int, values: dict, now: float) -> tuple[int, int]:
        key = self._measured(t, now)
        seq = int(values.get("seq_index", -1))
        last = self.frames[-1] if self.frames else None
        pos = last[2] + 1 if last and last[1] == seq and last[0][0] == self.epoch else 0
        self.frames.append((key, seq, pos))
        self.truth[key]["info"] = values
        return key

    def command(self, t: int, payload, now: float, latency_ms: float) -> tuple[int, int]:
        key = (self.epoch, t)
        self.commands[key] = (payload, now, latency_ms)
        self.command_keys.add(key)
        return key

    def ready(self, key, need: str = "power") -> tuple[dict, tuple] | None:
        """(truth, command) of a frame that has both (truth: its ``need``) and is not scored yet."""
        truth, cmd = self.truth.get(key), self.commands.get(key)
        if cmd is None or truth is None or need not in truth or key in self.scored:
            return None
        return truth, cmd

    def mark_scored(self, key) -> None:
        self.scored.add(key)
        self._forget((key[0], key[1] - self.match_ns))

    def _forget(self, horizon: tuple[int, int]) -> None:
        """Drop truth and commands older than ``horizon`` (epoch, stamp)."""
        self.truth = {k: v for k, v in self.truth.items() if k >= horizon}
        self.commands = {k: v for k, v in self.commands.items() if k >= horizon}

    def coverage(self, final: bool = True) -> dict:
        """Commands against measured frames; live (not final), the last second is still in flight."""
        with_cmd = {k for k, _, _ in self.frames if k in self.scored}
        warmup = min((pos for k, _, pos in self.frames if k in with_cmd), default=0)
        last = self.frames[-1][0] if self.frames else (0, 0)
        settled = (last[0], last[1] - (0 if final else 1_000_000_000))
        after = [k for k, _, pos in self.frames if pos >= warmup and k <= settled]
        return {"frames_measured": len(self.frames), "warmup_frames_per_pass": warmup,
                "frames_after_warmup": len(after), "commands_scored": len(with_cmd),
                "frames_dropped": sum(k not in with_cmd for k in after),
                "commands_received": len(self.command_keys),
                "commands_unmatched": len(self.command_keys - {k for k, _, _ in self.frames}),
                "stamp_epochs": self.epoch + 1}


def refine_beam(power: np.ndarray, ranked, k: int) -> int:
    """The beam applied after measuring the first ``k`` ranked candidates of ``power`` (the strongest
    finite one); ``k`` = 0, or no finite measurement among them, applies ``ranked[0]``."""
    cand = [int(b) for b in ranked[:k]]
    measured = [b for b in cand if np.isfinite(power[b])]
    if k <= 0 or not measured:
        return int(ranked[0])
    return max(measured, key=lambda b: power[b])


def loss_db(power: np.ndarray, beam: int) -> float:
    """10 log10(P[optimal] / P[beam]) of a measured power vector (NaN when a value is not finite)."""
    if not np.isfinite(power).all():
        return float("nan")
    return float(10 * np.log10(power.max() / max(power[beam], 1e-30)))


def refine_curve(power: np.ndarray, ranked, ks) -> dict[int, float]:
    """Power loss of each K's refined beam; a K beyond the ranked candidates is left out."""
    return {int(k): loss_db(power, refine_beam(power, ranked, k)) for k in ks if k <= len(ranked)}


class ClosedLoopMetrics:
    def __init__(self, num_beams: int = contract.NUM_BEAMS):
        self.samples: list[LoopSample] = []
        self.curve: dict[int, list[float]] = {}
        self.num_beams = num_beams

    def record(self, sample: LoopSample, curve: dict[int, float] | None = None) -> None:
        self.samples.append(sample)
        for k, v in (curve or {}).items():
            self.curve.setdefault(k, []).append(v)

    def curve_summary(self) -> list[dict]:
        """Per K: frames scored, mean and p95 power loss, and the sweep overhead K / num_beams."""
        out = []
        for k in sorted(self.curve):
            v = np.asarray(self.curve[k], float)
            v = v[np.isfinite(v)]
            out.append({"k": k, "overhead": k / self.num_beams, "frames": int(len(v)),
                        "power_loss_mean_db": float(v.mean()) if len(v) else float("nan"),
                        "power_loss_p95_db": float(np.percentile(v, 95)) if len(v) else float("nan"),
                        "optimal_share": float(np.mean(v == 0)) if len(v) else float("nan")})
        return out

    def summary(self) -> dict:
        if not self.samples:
            return {"frames": 0}
        s = self.samples
        loss = np.array([x.power_loss_db for x in s])
        loss = loss[np.isfinite(loss)]
        e2e = np.array([x.e2e_ms for x in s])
        lat = np.array([x.stamp_latency_ms for x in s])
        pa = np.array([x.pa_loss_db for x in s])
        pa = pa[np.isfinite(pa)]
        return {"frames": len(s), "top1": float(np.mean([x.hit for x in s])),
                "top3": float(np.mean([x.top3_hit for x in s])),
                "power_loss_mean_db": float(loss.mean()) if len(loss) else float("nan"),
                "power_loss_p95_db": float(np.percentile(loss, 95)) if len(loss) else float("nan"),
                "array_loss_mean_db": float(np.mean([x.array_loss_db for x in s])),
                "pa_loss_mean_db": float(pa.mean()) if len(pa) else float("nan"),
                "e2e_p50_ms": float(np.percentile(e2e, 50)), "e2e_p99_ms": float(np.percentile(e2e, 99)),
                "stamp_latency_p50_ms": float(np.percentile(lat, 50)),
                "stamp_latency_p99_ms": float(np.percentile(lat, 99)),
                "refine_curve": self.curve_summary()}

    def write_report(self, out: str | Path, extra: dict | None = None, also=()) -> Path:
        """frames.csv, summary.json and closed_loop.png in ``out`` (and what each of ``also``, called with
        the folder, writes), written into a temporary sibling and moved into place: a reader never sees
        half a report."""
        plt = pyplot()
        final = Path(out)
        out = partial_dir(final)
        for write in also:
            write(out)
        with (out / "frames.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(LoopSample.__dataclass_fields__))
            w.writeheader()
            w.writerows(asdict(x) for x in self.samples)
        summary = {**self.summary(), **(extra or {})}
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        curve = self.curve_summary()
        if curve:
            with (out / "refine.csv").open("w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(curve[0]))
                w.writeheader()
                w.writerows(curve)
        if self.samples:
            t = np.array([x.stamp_ns for x in self.samples]) * 1e-9
            t -= t[0]
            fig, axes = plt.subplots(1, 4, figsize=(20, 4))
            axes[0].plot(t, [x.optimal + 1 for x in self.samples], ".", label="optimal (measured)")
            axes[0].plot(t, [x.applied + 1 for x in self.samples], "x", label="applied (predicted)")
            axes[0].set_xlabel("replay time (s)")
            axes[0].set_ylabel("beam (1-based)")
            axes[0].legend()
            axes[1].hist([x.power_loss_db for x in self.samples], bins=30)
            axes[1].set_xlabel("received-power loss vs optimal beam (dB)")
            axes[1].set_ylabel("frames")
            e2e = np.sort([x.e2e_ms for x in self.samples])
            axes[2].plot(e2e, np.linspace(0, 1, len(e2e)))
            axes[2].set_xlabel("end-to-end latency (ms)")
            axes[2].set_ylabel("CDF")
            if curve:
                axes[3].plot([c["k"] for c in curve], [c["power_loss_mean_db"] for c in curve], "o-")
                for c in curve:
                    axes[3].annotate(f"{100 * c['overhead']:.0f} %", (c["k"], c["power_loss_mean_db"]),
                                     fontsize=8)
            axes[3].set_xlabel("K beams measured (sweep refinement; labels: overhead of a full sweep)")
            axes[3].set_ylabel("mean power loss (dB)")
            fig.tight_layout()
            fig.savefig(out / "closed_loop.png", dpi=110)
            plt.close(fig)
        replace_dir(out, final)
        return final


_PROGRESS = re.compile(r"\[beamformer\]: frames=(\d+)")


def scored_so_far(log: str) -> int:
    """Commands scored so far, by the beamformer's last progress line in its log (0 before the first);
    a respawned beamformer counts from 0 again."""
    found = _PROGRESS.findall(log)
    return int(found[-1]) if found else 0


def compare_with_offline(model, windows, report: str | Path, refine_k: int | None = None) -> dict:
    """The live graph's applied beams (a closed-loop report) against offline prediction by ``model``
    (``beam-predictor evaluate``'s path) on the frames both have: frames, offline and online Top-1 of
    the applied beam (offset 0), and on how many the applied beam differs from the offline one (the
    offline top-1, or with ``refine_k`` the strongest measured of the offline top K; by default the
    report's own ``refine_k``).
    The last T frames of a pass have no offline window (their future is not in the data)."""
    from beam_predictor.model.train import predict
    frames = Path(report) / "frames.csv"
    if not frames.is_file():
        raise FileNotFoundError(f"{frames}: no closed-loop report (run `beam-predictor launch` first)")
    with frames.open() as fh:
        online = {int(r["stamp_ns"]): r for r in csv.DictReader(fh)}
    if refine_k is None:
        summary = Path(report) / "summary.json"
        refine_k = json.loads(summary.read_text()).get("refine_k", 0) if summary.is_file() else 0
    rows = np.array([s in online for s in windows.stamp])
    if not rows.any():
        raise ValueError(f"{frames}: none of its stamps is a window of this scenario")
    scores = predict(model, windows.subset(rows))["beam"][:, 0]
    power = windows.power[rows, 0]
    ranked = np.argsort(-scores, axis=-1, kind="stable")
    offline = np.array([refine_beam(p, r, refine_k) for p, r in zip(power, ranked)])
    applied = np.array([int(online[s]["applied"]) for s in windows.stamp[rows]])
    live = np.array([online[s]["hit"] == "True" for s in windows.stamp[rows]])
    return {"frames": int(rows.sum()), "commanded": len(online),
            "offline_top1": float(np.mean(offline == windows.beam[rows, 0])),
            "online_top1": float(live.mean()), "differ": int((offline != applied).sum()),
            "refine_k": refine_k}
