"""Live scoring of LLM-PASS commands (paper 003) in the beamformer: sum rate with blockage, per user.

The ``llm_pass`` node commands a codeword per waveguide (one user per waveguide, its RF chain).
Once the PAs are placed, the base station measures the effective U x U channel and computes the
MMSE weights; during replay the twin's links of the frame (``pass_mu_links`` in the frame info:
every user's channel through every codeword of every waveguide, per-PA blockage included) stand
in for that measurement.  Per frame :class:`PassLoop` computes, with the same
:mod:`beam_predictor.physics.pass_system` the labels and offline figures use:

* the MMSE precoder of the commanded codewords (eq. 14), each user's SINR, rate and power share,
  and whether it reaches ``min_sinr_db`` (37b);
* the label's sum rate (the Top-K combination search of the training labels) on the same frame,
  so the live report shows what the command leaves on the table;
* whether each user's codeword is the label's (Top-1) and whether it was the fallback.

Commands and frames are matched by stamp with the beamformer's
:class:`~beam_predictor.runtime.closed_loop.FrameLedger`.  The report is ``pass.csv`` (one row per
user and frame), ``pass.png`` and a ``pass`` section in the closed-loop ``summary.json``.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from beam_predictor.bag.messages import PASS_LINKS_KEY, PASS_PAS_KEY, decode_array
from beam_predictor.physics import pass_system as ps
from beam_predictor.runtime.closed_loop import FrameLedger, pyplot


@dataclass(frozen=True)
class UserOrder:
    """One user's part of a PASS command (contract.PASS_COMMAND)."""

    unit: int
    track_id: int
    waveguide: int
    codeword: int
    power_share: float
    fallback: bool
    positions_m: tuple[float, ...]


def parse_command(names, values) -> list[UserOrder]:
    """The users of a /bp/pass_command point; ValueError naming the joint that is missing."""
    v = dict(zip(names, values))
    users = sorted({int(n.split("_", 1)[0][4:]) for n in v if n.startswith("user")})
    out = []
    for k in users:
        p = f"user{k}_"
        try:
            pas = sorted((int(n.rsplit("_", 1)[1]), x) for n, x in v.items() if n.startswith(p + "pa_"))
            out.append(UserOrder(int(v[p + "unit"]), int(v[p + "track_id"]), int(v[p + "waveguide"]),
                                 int(v[p + "codeword"]), float(v[p + "power_share"]), bool(v[p + "fallback"]),
                                 tuple(float(x) for _, x in pas)))
        except KeyError as exc:
            raise ValueError(f"joint '{exc.args[0]}' missing") from None
    return out


def command_names(orders: list[UserOrder]) -> tuple[list[str], list[float]]:
    """joint_names and positions of a /bp/pass_command point for ``orders`` (the inverse of parse_command)."""
    names, values = [], []
    for k, o in enumerate(orders, start=1):
        p = f"user{k}_"
        fields = {"unit": o.unit, "track_id": o.track_id, "waveguide": o.waveguide, "codeword": o.codeword,
                  "power_share": o.power_share, "fallback": float(o.fallback)}
        fields.update({f"pa_{n + 1}": x for n, x in enumerate(o.positions_m)})
        names += [p + f for f in fields]
        values += [float(x) for x in fields.values()]
    return names, values


@dataclass
class PassSample:
    stamp_ns: int
    seq_index: int
    user: int                  # 0-based user (its waveguide)
    unit: int
    track_id: int
    codeword: int
    label: int
    fallback: bool
    sinr_db: float
    rate: float
    power_share: float
    served: bool
    sum_rate: float
    label_sum_rate: float


class PassLoop:
    """Match PASS commands to frames and score them; ``link_cfg`` a PassLinkConfig, ``noise_w`` in W."""

    def __init__(self, link_cfg, noise_w: float, match_window_s: float):
        self.cfg, self.noise_w = link_cfg, noise_w
        self.power_w = float(ps.dbm_to_w(link_cfg.tx_power_dbm))
        self.ledger = FrameLedger(match_window_s)
        self.samples: list[PassSample] = []
        self.no_links = 0
        self.last_orders: list[UserOrder] = []          # the newest scored command (the markers draw it)

    def frame(self, t: int, values: dict, now: float) -> list[PassSample]:
        return self._try(self.ledger.info(t, values, now))

    def command(self, t: int, orders: list[UserOrder], now: float) -> list[PassSample]:
        return self._try(self.ledger.command(t, orders, now, 0.0))

    def _try(self, key) -> list[PassSample]:
        found = self.ledger.ready(key, need="info")
        if found is None:
            return []
        self.ledger.mark_scored(key)
        self.last_orders = found[1][0]
        return self.score(key[1], found[0]["info"], self.last_orders)

    def score(self, stamp_ns: int, info: dict, orders: list[UserOrder]) -> list[PassSample]:
        """Score one frame's command against its links (none: counted in ``no_links``, nothing scored)."""
        text = info.get(PASS_LINKS_KEY, "")
        if not text or not orders:
            self.no_links += 1
            return []
        links = decode_array(text)                                       # (G, U_all, N, K)
        grid = [int(p) for p in info.get(PASS_PAS_KEY, "").split()]
        pas = len(orders[0].positions_m)
        if pas not in grid:
            raise ValueError(f"frame {stamp_ns}: the command places {pas} PAs, the frame's links hold "
                             f"{grid} ({PASS_PAS_KEY})")
        u = len(orders)
        link = links[grid.index(pas), :u]                                 # (U, N, K)
        if [o.waveguide for o in orders] != list(range(u)):
            raise ValueError(f"frame {stamp_ns}: user k must be served by waveguide k "
                             f"(got {[o.waveguide for o in orders]})")
        combo = np.array([o.codeword for o in orders])
        H = ps.select(link, combo)
        W = ps.mmse(H, self.power_w, self.noise_w)
        s = ps.sinr(H, W, self.noise_w)
        share = (np.abs(W) ** 2).sum(0) / self.power_w
        rates = ps.rate(s)
        if u > 1:
            label, label_rate = ps.best_combination(link, self.cfg.top_k, self.power_w, self.noise_w)
        else:
            label = np.array([int(np.abs(link[0, 0]).argmax())])
            label_rate = float(ps.sum_rate(ps.select(link, label), self.power_w, self.noise_w))
        served = ps.served(s, self.cfg.min_sinr_db)
        seq = int(info.get("seq_index", -1))
        out = [PassSample(stamp_ns, seq, k, o.unit, o.track_id, o.codeword, int(label[k]), o.fallback,
                          float(10 * np.log10(max(s[k], 1e-30))), float(rates[k]), float(share[k]),
                          bool(served[k]), float(rates.sum()), float(label_rate))
               for k, o in enumerate(orders)]
        self.samples += out
        return out

    def summary(self) -> dict:
        if not self.samples:
            return {"frames": 0, "frames_without_links": self.no_links}
        s = self.samples
        frames = {x.stamp_ns: (x.sum_rate, x.label_sum_rate) for x in s}
        rate = np.array(list(frames.values()))
        return {"frames": len(frames), "users": len({x.user for x in s}),
                "sum_rate_mean": float(rate[:, 0].mean()), "label_sum_rate_mean": float(rate[:, 1].mean()),
                "sum_rate_share_of_label": float(rate[:, 0].sum() / max(rate[:, 1].sum(), 1e-12)),
                "top1": float(np.mean([x.codeword == x.label for x in s])),
                "served": float(np.mean([x.served for x in s])),
                "fallback": float(np.mean([x.fallback for x in s])),
                "tx_power_dbm": self.cfg.tx_power_dbm, "frames_without_links": self.no_links}

    def write(self, out: Path) -> None:
        """pass.csv and pass.png into the report folder ``out`` (being written)."""
        if not self.samples:
            return
        with (out / "pass.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(PassSample.__dataclass_fields__))
            w.writeheader()
            w.writerows(asdict(x) for x in self.samples)
        plt = pyplot()
        frames = sorted({x.stamp_ns: x for x in self.samples}.values(), key=lambda x: x.stamp_ns)
        t = (np.array([x.stamp_ns for x in frames]) - frames[0].stamp_ns) * 1e-9
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        axes[0].plot(t, [x.label_sum_rate for x in frames], ".", label="label (Top-K search)")
        axes[0].plot(t, [x.sum_rate for x in frames], "x", label="commanded (LLM-PASS)")
        axes[0].set_xlabel("replay time (s)")
        axes[0].set_ylabel(f"MMSE sum rate at {self.cfg.tx_power_dbm:g} dBm (bit/s/Hz)")
        axes[0].legend()
        for user in sorted({x.user for x in self.samples}):
            v = np.sort([x.sinr_db for x in self.samples if x.user == user])
            axes[1].plot(v, np.linspace(0, 1, len(v)), label=f"user {user + 1}")
        axes[1].set_xlabel("SINR (dB)")
        axes[1].set_ylabel("CDF")
        axes[1].legend()
        fig.tight_layout()
        fig.savefig(out / "pass.png", dpi=110)
        plt.close(fig)
