"""Paper 003's figures on the multi-user twin (``make bench-pass``): LLM-PASS against the baselines.

Trains LLM-PASS (beam_predictor.model.pass_train.run_pass) for one user and for several, at
every PA count the twin stores, and writes beside each run's ``runs/*.json``:

* ``top1_snr.csv/png``       single user: Top-1 against the probing SNR (Fig. 4);
* ``gain_pas.csv/png``       single user: mean beamforming gain against the PAs per waveguide;
* ``sum_rate_power.csv/png`` several users: MMSE sum rate against the transmit power;
* ``min_power_pas.csv/png``  several users: median minimum power for the SINR target against the PAs;
* ``tables.md``              the same as tables, with the relative gains next to the paper's.

Runs already in ``runs/`` are reused (delete them to retrain).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import replace
from pathlib import Path

from beam_predictor.config import config_path, load_config
from beam_predictor.model.pass_config import PassConfig
from beam_predictor.model.pass_data import load_pass_set
from beam_predictor.model.pass_train import run_pass
from beam_predictor.physics import pass_system as ps
from beam_predictor.runtime.closed_loop import pyplot
from beam_predictor.runtime.config import tracker_settings

SINGLE = ("llm", "llm_probe", "conventional", "conventional_all", "geometry", "fixed", "oracle")
MULTI = SINGLE[:-1] + ("massive_mimo", "oracle")
PAPER = {"single_gain_pct": 51.92, "vs_massive_mimo_pct": 57.14, "vs_conventional_pct": 33.33}


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def plot(path: Path, x, series: dict, xlabel: str, ylabel: str, title: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, y in series.items():
        ax.plot(x, y, marker="o", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/twin_multiuser")
    ap.add_argument("--config", default=str(config_path("pass.yaml")))
    ap.add_argument("--out", default="reports/pass")
    ap.add_argument("--cache", default="build/cache")
    ap.add_argument("--users", type=int, nargs="+", default=[1, 2, 3], help="user counts to run")
    ap.add_argument("--every-pas", type=int, nargs="*", default=[1, 3],
                    help="user counts also run at every PA count (the others at config num_pas only; none: "
                         "every user count at num_pas only)")
    args = ap.parse_args(argv)
    base = load_config(PassConfig, args.config)
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    data = load_pass_set(args.data, replace(base, users=max(args.users)), tracker_settings(), args.cache)
    results = {}
    for users in args.users:
        for pas in (data.pas_grid if users in args.every_pas else (base.num_pas,)):
            path = out / "runs" / f"{users}u_{pas}pa.json"
            if not path.is_file():
                print(f"training: {users} user(s), {pas} PAs per waveguide", flush=True)
                result, _ = run_pass(data, replace(base, users=users, num_pas=pas))
                path.write_text(json.dumps(result, indent=1))
            results[users, pas] = json.loads(path.read_text())
    grid = data.pas_grid
    noise_dbm = float(ps.w_to_dbm(data.noise_w))
    md = [f"# Paper 003 (LLM-PASS) on `{data.name}`", "",
          f"Test frames: {results[args.users[0], base.num_pas]['frames']}; probes M = {base.link.probes}; "
          f"transmit power {base.link.tx_power_dbm:g} dBm; noise {noise_dbm:.1f} dBm.", ""]
    if 1 in args.users:
        one = results[1, base.num_pas]
        curve = one["snr_curve"]
        probing = ("llm", "llm_probe", "conventional", "conventional_all")
        write_csv(out / "top1_snr.csv", [{"snr_db": c["snr_db"], **{k: round(100 * c[k], 2) for k in probing}}
                                         for c in curve])
        plot(out / "top1_snr.png", [c["snr_db"] for c in curve],
             {k: [100 * c[k] for c in curve] for k in probing},
             "probing SNR of the best codeword (dB)", "Top-1 (%)", f"single user, {base.num_pas} PAs")
        rows = []
        for pas in [p for p in grid if (1, p) in results]:
            one = results[1, pas]
            m = one["methods"]
            rows.append({"num_pas": pas, **{f"{k}_db": round(m[k]["gain_db"], 3) for k in SINGLE},
                         **{f"{k}_top1": round(100 * m[k]["top1"], 2) for k in SINGLE},
                         "llm_probe_over_conventional_pct": round(one["gain_over_conventional_pct"], 2),
                         "fallback_pct": round(100 * one["fallback"], 2)})
        write_csv(out / "gain_pas.csv", rows)
        plot(out / "gain_pas.png", [r["num_pas"] for r in rows],
             {k: [r[f"{k}_db"] for r in rows] for k in SINGLE},
             "PAs per waveguide", "mean beamforming gain |h|^2 (dB)", "single user, MRT")
        md += ["## Single user (MRT, waveguide 0)", "",
               "| PAs | " + " | ".join(SINGLE) + " | llm_probe vs conventional (paper +51.92 %) |",
               "|---" * (len(SINGLE) + 2) + "|"]
        for r in rows:
            md.append(f"| {r['num_pas']} | " + " | ".join(f"{r[k + '_top1']:.1f} % / {r[k + '_db']:.1f} dB"
                                                          for k in SINGLE)
                      + f" | {r['llm_probe_over_conventional_pct']:+.1f} % |")
        md += ["", "Cells: Top-1 / mean gain. Top-1 against SNR: `top1_snr.csv`.", ""]
    for users in [u for u in args.users if u > 1]:
        r = results[users, base.num_pas]
        curve = r["sum_rate_curve"]
        write_csv(out / f"sum_rate_power_{users}u.csv",
                  [{k: round(v, 4) for k, v in row.items()} for row in curve])
        plot(out / f"sum_rate_power_{users}u.png", [c["power_dbm"] for c in curve],
             {k: [c[k] for c in curve] for k in MULTI}, "transmit power (dBm)", "sum rate (bit/s/Hz)",
             f"{users} users, {base.num_pas} PAs, MMSE")
        pas_run = [p for p in grid if (users, p) in results]
        rows = []
        for pas in pas_run:
            mp = results[users, pas]["min_power"]
            rows.append({"num_pas": pas, **{f"{k}_dbm": round(mp[k]["median_dbm"], 2) for k in MULTI},
                         **{f"{k}_infeasible": round(mp[k]["infeasible"], 4) for k in MULTI}})
        write_csv(out / f"min_power_pas_{users}u.csv", rows)
        plot(out / f"min_power_pas_{users}u.png", pas_run, {k: [x[f"{k}_dbm"] for x in rows] for k in MULTI},
             "PAs per waveguide", f"median minimum power for {base.link.target_sinr_db:g} dB SINR (dBm)",
             f"{users} users, MMSE")
        md += [f"## {users} users (MMSE, {base.num_pas} PAs), sum rate in bit/s/Hz", "",
               "| power | " + " | ".join(MULTI) + " |", "|---" * (len(MULTI) + 1) + "|"]
        for c in curve:
            md.append(f"| {c['power_dbm']:g} dBm | " + " | ".join(f"{c[k]:.2f}" for k in MULTI) + " |")
        at = next(c for c in curve if c["power_dbm"] == base.link.tx_power_dbm)

        def pct(a: str, b: str) -> str:
            return f"{100 * (at[a] / at[b] - 1):+.1f} %"
        top1 = ", ".join(f"{k} {100 * v:.1f} %" for k, v in r["top1"].items())
        md += ["", f"At {base.link.tx_power_dbm:g} dBm: llm over massive MIMO {pct('llm', 'massive_mimo')} "
               f"(paper +57.14 %); over conventional PASS at equal probes "
               f"{pct('llm_probe', 'conventional')}, "
               f"over exhaustive conventional PASS {pct('llm', 'conventional_all')} (paper +33.33 %); "
               f"over the geometry anchor {pct('llm', 'geometry')}. Top-1 of the label combination (users): "
               f"{top1}. Fallback: {100 * r['fallback']:.1f} % of users.", "",
               "| PAs | " + " | ".join(MULTI) + " |", "|---" * (len(MULTI) + 1) + "|"]
        for x in rows:
            md.append(f"| {x['num_pas']} | " + " | ".join(
                f"{x[k + '_dbm']:.1f} dBm ({100 * x[k + '_infeasible']:.0f} % inf.)" for k in MULTI) + " |")
        md += ["", f"Median minimum total power for every user at {base.link.target_sinr_db:g} dB SINR "
               "(share of frames where no power reaches it).", ""]
    (out / "tables.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
