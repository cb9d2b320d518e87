"""The generated PASS codebook against the geometric one (``make bench-pass-codebook``; paper 003).

Reads the runs of ``make bench-pass`` on the multi-user twin (geometric codebook) and of the same
benchmark on the twin rebuilt with the generated codebook (``pinching.codebook_positions``: the same
passes, sensors and tracker boxes; only the PASS links differ), and the fit record of
``beam-predictor pass-codebook``.  Writes ``codebook.md``, ``codebook_single.csv``,
``codebook_sum_rate.csv`` and ``codebook_sum_rate.png`` into ``--out``: per codebook, the single-user
Top-1 and mean gain (LLM-PASS, the geometry anchor, exhaustive probing, the label) and the multi-user
sum rate against transmit power, on the same test frames.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from beam_predictor.runtime.closed_loop import pyplot

SINGLE = ("llm", "geometry", "conventional_all", "oracle")
MULTI = ("llm", "geometry", "conventional_all", "oracle", "massive_mimo")


def runs(folder: Path) -> dict[str, dict]:
    """``runs/<U>u_<P>pa.json`` by name, in order of users, then PAs."""
    def order(p: Path) -> tuple[int, int]:
        users, pas = p.stem.split("_")
        return int(users[:-1]), int(pas[:-2])
    return {p.stem: json.loads(p.read_text()) for p in sorted((folder / "runs").glob("*.json"), key=order)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--geometric", default="reports/pass", help="make bench-pass's report folder")
    ap.add_argument("--generated", default="reports/pass_generated",
                    help="the same on the generated twin")
    ap.add_argument("--fit", default="reports/pass_codebook/codebook.json",
                    help="beam-predictor pass-codebook's record")
    ap.add_argument("--out", default="reports/pass_codebook")
    args = ap.parse_args(argv)
    geo, gen = runs(Path(args.geometric)), runs(Path(args.generated))
    shared = [n for n in geo if n in gen]
    if not shared:
        raise SystemExit(f"no run in both {args.geometric}/runs and {args.generated}/runs")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fit = json.loads(Path(args.fit).read_text())["records"] if Path(args.fit).is_file() else []
    md = ["# The generated PASS codebook against the geometric one", ""]
    if fit:
        md += ["Fit on the training frames' GPS fixes (line of sight, identity precoding): mean sum rate "
               "log2(1 + SINR) in bit/s/Hz.", "",
               "| PAs | frames | geometric | targets from the fixes | refined on the SINR |",
               "|---|---|---|---|---|"]
        md += [f"| {r['num_pas']} | {r['frames']} | {r['objective_geometric']:.2f} | "
               f"{r['objective_constructed']:.2f} | {r['objective_refined']:.2f} |" for r in fit]
        md.append("")
    single = []
    for name in [n for n in shared if n.startswith("1u_")]:
        for book, r in (("geometric", geo[name]), ("generated", gen[name])):
            m = r["methods"]
            single.append({"run": name, "codebook": book, "frames": r["frames"], "kept": r["kept"]["stage"],
                           **{f"{k}_top1": round(100 * m[k]["top1"], 2) for k in SINGLE},
                           **{f"{k}_db": round(m[k]["gain_db"], 3) for k in SINGLE}})
    if single:
        with (out / "codebook_single.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(single[0]))
            w.writeheader()
            w.writerows(single)
        md += ["## One user (MRT): Top-1 / mean gain |h|^2 on the test frames", "",
               "| run | codebook | kept | " + " | ".join(SINGLE) + " |", "|---" * (len(SINGLE) + 3) + "|"]
        md += [f"| {r['run']} | {r['codebook']} | {r['kept']} | "
               + " | ".join(f"{r[k + '_top1']:.1f} % / {r[k + '_db']:.2f} dB" for k in SINGLE) + " |"
               for r in single]
        md.append("")
    multi, plt = [], pyplot()
    for name in [n for n in shared if not n.startswith("1u_")]:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for book, r, style in (("geometric", geo[name], "--"), ("generated", gen[name], "-")):
            for c in r["sum_rate_curve"]:
                multi.append({"run": name, "codebook": book, "power_dbm": c["power_dbm"],
                              **{k: round(c[k], 4) for k in MULTI}})
            for k in ("llm", "oracle"):
                ax.plot([c["power_dbm"] for c in r["sum_rate_curve"]], [c[k] for c in r["sum_rate_curve"]],
                        style, marker="o", label=f"{k}, {book}")
        ax.plot([c["power_dbm"] for c in geo[name]["sum_rate_curve"]],
                [c["massive_mimo"] for c in geo[name]["sum_rate_curve"]], ":", label="massive MIMO")
        ax.set_xlabel("transmit power (dBm)")
        ax.set_ylabel("MMSE sum rate (bit/s/Hz)")
        ax.set_title(f"{name}: generated against geometric codebook", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"codebook_sum_rate_{name}.png", dpi=120)
        plt.close(fig)
        md += [f"## {name}: MMSE sum rate (bit/s/Hz); geometric → generated", "",
               "| power | " + " | ".join(MULTI) + " |", "|---" * (len(MULTI) + 1) + "|"]
        for a, b in zip(geo[name]["sum_rate_curve"], gen[name]["sum_rate_curve"]):
            md.append(f"| {a['power_dbm']:g} dBm | " + " | ".join(f"{a[k]:.2f} → {b[k]:.2f}" for k in MULTI)
                      + " |")
        g, n = geo[name], gen[name]
        gp, np_ = g["min_power"]["llm"], n["min_power"]["llm"]
        md += ["", f"Kept: {g['kept']['stage']} (geometric), {n['kept']['stage']} (generated). LLM-PASS "
               f"Top-1: {100 * g['top1']['llm']:.1f} % → {100 * n['top1']['llm']:.1f} % of users; median "
               f"minimum power: {gp['median_dbm']:.1f} → {np_['median_dbm']:.1f} dBm "
               f"({100 * gp['infeasible']:.0f} → {100 * np_['infeasible']:.0f} % infeasible).", ""]
    if multi:
        with (out / "codebook_sum_rate.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(multi[0]))
            w.writeheader()
            w.writerows(multi)
    (out / "codebook.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
