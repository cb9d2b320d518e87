"""Paper 003's evaluation: the LLM-PASS choice against the baselines, on the same frames.

Serving rule (what the live beamformer would apply): a user whose box the tracker did not
report in any of the window's H frames is served by the fallback codeword, counted in
``fallback``: the codeword focused nearest its GPS fix when there is one (the geometry
anchor), else the fixed placement.

Methods (single user, waveguide 0, MRT; several users, waveguide u per user, MMSE):

* ``llm``: the network's Top-1 codeword (no probing);
* ``llm_probe``: the network's top M codewords probed, the strongest measured applied;
* ``conventional``: conventional PASS beam training, M codewords spread evenly over the
  codebook probed (equal overhead), or all K (``conventional_all``, K probes);
* ``geometry``: the codeword focused nearest the user's GPS fix (no learning, no probing);
* ``fixed``: the codeword best on average over the training frames (fixed PA placement);
* ``massive_mimo``: the site's 16-element array with its 64-beam codebook, each user's
  best beam (chosen on the true channel: an upper bound of that baseline) and MMSE over
  the users' RF chains;
* ``oracle``: the label (single user: the best codeword; several: the Top-K search).

Probing (channel probing of Sec. II-B1): each probed codeword's gain is measured as
|sqrt(P) h_k + n|^2 with n ~ CN(0, sigma^2).  For the Top-1-against-SNR figure the SNR is
that of the user's best codeword (sigma^2 = P max_k |h_k|^2 / SNR), as paper 004 defines it.
"""
from __future__ import annotations

import numpy as np

from beam_predictor.physics import pass_system as ps
from beam_predictor.physics.array import sparse_beams


def fixed_codewords(link: np.ndarray) -> np.ndarray:
    """(U,) per waveguide u, the codeword with the best mean gain for user u; ``link`` (F, U, N, K)."""
    u = link.shape[1]
    own = np.abs(link[:, np.arange(u), np.arange(u)]) ** 2                 # (F, U, K)
    return own.mean(0).argmax(-1)


def serve(choice: np.ndarray, tracked: np.ndarray, geometry: np.ndarray,
          fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, U) codewords applied and (F, U) fallback mask: untracked users get geometry, else fixed."""
    fallback = ~tracked
    backup = np.where(geometry >= 0, geometry, fixed[None, :])
    return np.where(fallback, backup, choice), fallback


def spread_codewords(num_codewords: int, probes: int) -> np.ndarray:
    """The M codewords conventional PASS probes: evenly spread, centred."""
    if num_codewords % probes:
        return np.unique(np.round(np.linspace(0, num_codewords - 1, probes)).astype(int))
    return sparse_beams(num_codewords, probes)


def probe(own: np.ndarray, candidates: np.ndarray, noise_w, power_w: float,
          rng: np.random.Generator) -> np.ndarray:
    """(F,) the candidate with the strongest measured gain; ``own`` (F, K) complex, candidates (F, M).

    ``noise_w`` is a scalar or (F,) noise power of each measurement."""
    h = np.take_along_axis(own, candidates, axis=-1)
    sigma = np.sqrt(np.broadcast_to(np.asarray(noise_w, float), (len(own),)) / 2)[:, None]
    y = np.sqrt(power_w) * h + sigma * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape))
    return np.take_along_axis(candidates, np.abs(y).argmax(-1)[:, None], axis=-1)[:, 0]


def snr_noise(own: np.ndarray, snr_db: float, power_w: float) -> np.ndarray:
    """(F,) noise power giving the best codeword of each frame the SNR ``snr_db``."""
    return power_w * (np.abs(own) ** 2).max(-1) / 10 ** (snr_db / 10)


def gain_db(own: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """(F,) |h|^2 in dB of the chosen codeword (floored at -300 dB where every PA is blocked)."""
    g = np.abs(np.take_along_axis(own, chosen[:, None], axis=-1)[:, 0]) ** 2
    return 10 * np.log10(np.maximum(g, 1e-30))


def mean_gain_db(g_db: np.ndarray) -> float:
    """The mean linear gain, in dB (what a beamforming-gain comparison averages)."""
    return float(10 * np.log10(np.mean(10 ** (g_db / 10))))


def sum_rates(link: np.ndarray, choice: np.ndarray, power_w, noise_w: float, min_sinr_db: float) -> dict:
    """Mean MMSE sum rate over frames, the served share (37b); ``link`` (F, U, N, K), choice (F, U)."""
    H = ps.select(link, choice)                                             # (F, U, U)
    p = np.full(len(H), power_w, dtype=float)
    s = ps.sinr(H, ps.mmse(H, p, noise_w), noise_w)
    return {"sum_rate": float(ps.rate(s).sum(-1).mean()), "served": float(ps.served(s, min_sinr_db).mean())}


def massive_mimo(channels: np.ndarray, ula: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, U, U) hybrid channels of the 16-element baseline and (F, U) the beams: each user's best."""
    beams = (np.abs(channels @ ula.conj().T) ** 2).argmax(-1)               # (F, U)
    H = np.stack([ps.analog_links(c, ula, b) for c, b in zip(channels, beams)])
    return H, beams


def hybrid_rates(H: np.ndarray, power_w, noise_w: float, min_sinr_db: float) -> dict:
    p = np.full(len(H), power_w, dtype=float)
    s = ps.sinr(H, ps.mmse(H, p, noise_w), noise_w)
    return {"sum_rate": float(ps.rate(s).sum(-1).mean()), "served": float(ps.served(s, min_sinr_db).mean())}


def min_powers_dbm(H: np.ndarray, target_sinr_db: float, noise_w: float) -> np.ndarray:
    """(F,) minimum total power (dBm) for every user to reach the target (inf: infeasible)."""
    return np.array([ps.w_to_dbm(p) if np.isfinite(p := ps.min_power(h, target_sinr_db, noise_w)) else np.inf
                     for h in H])


def power_summary(p_dbm: np.ndarray) -> dict:
    ok = np.isfinite(p_dbm)
    return {"median_dbm": float(np.median(p_dbm[ok])) if ok.any() else float("nan"),
            "infeasible": float(1 - ok.mean())}


def evaluate_single(own: np.ndarray, label: np.ndarray, probs: np.ndarray, tracked: np.ndarray,
                    geometry: np.ndarray, fixed: int, link_cfg, seed: int = 0) -> dict:
    """Single user (MRT on waveguide 0): Top-1/3, gains at the probing SNR and Top-1 against SNR.

    ``own`` (F, K) the UE's links through waveguide 0, ``label`` (F,), ``probs`` (F, K)."""
    power = float(ps.dbm_to_w(link_cfg.tx_power_dbm))
    k, m = own.shape[1], link_cfg.probes
    llm, fallback = serve(probs.argmax(-1)[:, None], tracked[:, None], geometry[:, None], np.array([fixed]))
    llm, fallback = llm[:, 0], fallback[:, 0]
    ranked = np.argsort(-probs, axis=-1)[:, :m]
    top_m = np.where(fallback[:, None], llm[:, None], ranked)               # fallback users: nothing to probe
    spread = np.broadcast_to(spread_codewords(k, m), (len(own), m))
    every = np.broadcast_to(np.arange(k), (len(own), k))
    geo = np.where(geometry >= 0, geometry, fixed)

    def choices(snr_db: float, rng) -> dict:
        noise = snr_noise(own, snr_db, power)
        return {"llm": llm, "llm_probe": probe(own, top_m, noise, power, rng),
                "conventional": probe(own, spread, noise, power, rng),
                "conventional_all": probe(own, every, noise, power, rng),
                "geometry": geo, "fixed": np.full(len(own), fixed), "oracle": label}

    rng = np.random.default_rng(seed)
    at = choices(link_cfg.probe_snr_db, rng)
    rows = {name: {"top1": float((c == label).mean()), "gain_db": mean_gain_db(gain_db(own, c)),
                   "probes": {"llm_probe": m, "conventional": m, "conventional_all": k}.get(name, 0)}
            for name, c in at.items()}
    rows["llm"]["top3"] = float((np.argsort(-probs, -1)[:, :3] == label[:, None]).any(-1).mean())
    lin = {n: 10 ** (r["gain_db"] / 10) for n, r in rows.items()}
    curve = []
    for snr in link_cfg.snr_grid_db:
        c = choices(float(snr), np.random.default_rng([seed, int(snr * 10) + 1000]))
        curve.append({"snr_db": float(snr), **{n: float((c[n] == label).mean())
                                               for n in ("llm", "llm_probe", "conventional",
                                                         "conventional_all")}})
    return {"frames": len(own), "fallback": float(fallback.mean()), "methods": rows,
            "gain_over_conventional_pct": 100 * (lin["llm_probe"] / lin["conventional"] - 1),
            "snr_curve": curve}


def evaluate_multi(link: np.ndarray, channels: np.ndarray, ula: np.ndarray, label: np.ndarray,
                   probs: np.ndarray,
                   tracked: np.ndarray, geometry: np.ndarray, fixed: np.ndarray, noise_w: float, link_cfg,
                   seed: int = 0) -> dict:
    """Several users (MMSE): per-user Top-1, sum rate against transmit power, minimum power.

    Probing methods measure each user's own waveguide at the transmit power of the point."""
    f, u = probs.shape[:2]
    k, m = link.shape[-1], link_cfg.probes
    llm, fallback = serve(probs.argmax(-1), tracked, geometry, fixed)
    ranked = np.where(fallback[..., None], llm[..., None], np.argsort(-probs, axis=-1)[..., :m])   # (F, U, M)
    own = link[:, np.arange(u), np.arange(u)]                               # (F, U, K)
    spread = np.broadcast_to(spread_codewords(k, m), (f, m))
    every = np.broadcast_to(np.arange(k), (f, k))
    H_mimo, _ = massive_mimo(channels, ula)
    rng = np.random.default_rng(seed)

    def probed(cands, power: float) -> np.ndarray:
        return np.stack([probe(own[:, i], cands[:, i] if cands.ndim == 3 else cands, noise_w, power, rng)
                         for i in range(u)], -1)

    def choices(power: float) -> dict:
        return {"llm": llm, "llm_probe": probed(ranked, power), "conventional": probed(spread, power),
                "conventional_all": probed(every, power),
                "geometry": np.where(geometry >= 0, geometry, fixed),
                "fixed": np.broadcast_to(fixed, llm.shape), "oracle": label}

    curve = []
    for p_dbm in link_cfg.power_grid_dbm:
        power = float(ps.dbm_to_w(p_dbm))
        row = {"power_dbm": float(p_dbm)}
        for name, c in choices(power).items():
            r = sum_rates(link, c, power, noise_w, link_cfg.min_sinr_db)
            row[name], row[f"{name}_served"] = r["sum_rate"], r["served"]
        r = hybrid_rates(H_mimo, power, noise_w, link_cfg.min_sinr_db)
        row["massive_mimo"], row["massive_mimo_served"] = r["sum_rate"], r["served"]
        curve.append(row)
    at = choices(float(ps.dbm_to_w(link_cfg.tx_power_dbm)))
    powers = {n: min_powers_dbm(ps.select(link, c), link_cfg.target_sinr_db, noise_w) for n, c in at.items()}
    powers["massive_mimo"] = min_powers_dbm(H_mimo, link_cfg.target_sinr_db, noise_w)
    return {"frames": f, "users": u, "fallback": float(fallback.mean()), "probes": m,
            "top1": {n: float((c == label).mean()) for n, c in at.items()},
            "top1_per_user": (llm == label).mean(0).round(4).tolist(),
            "sum_rate_curve": curve, "min_power": {n: power_summary(p) for n, p in powers.items()}}
