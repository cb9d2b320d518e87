"""How far can beam prediction go on the twin benchmark?  Privileged references, not models.

A predictor sees GPS fixes and sensors; the twin also knows things no deployed system
does.  This script scores, on the same test windows as ``make bench-model``:

* ``twin array (privileged)``: the GPS constant-velocity extrapolation (the window's
  kinematic input) to the beam the twin's own impaired array peaks at.  It reads the
  array's hidden phase and gain errors from the twin's config: a perfect calibration of
  the real array, the best the direct-path geometry can do.
* ``oracle direction (privileged)``: the same array pattern toward the UE's true position
  at each target frame (the twin's ``ue_x``/``ue_y``), so the GPS extrapolation is exact.

and prints, per target category, Top-1 and the power loss, with how well defined the
labels are (the best beam's margin over the second).

    python scripts/twin_ceiling.py --data data/twin_benchmark
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from beam_predictor.config import config_path, from_mapping, load_config
from beam_predictor.model.config import MODALITIES, ModelConfig
from beam_predictor.model.data import load_frame_table
from beam_predictor.model.pipeline import split_windows
from beam_predictor.model.report import score_metrics
from beam_predictor.physics.array import pattern_gain
from beam_predictor.runtime.config import tracker_settings
from beam_predictor.twin.config import TwinConfig
from beam_predictor.twin.generate import array_weights
from beam_predictor.window import KIN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/twin_benchmark")
    ap.add_argument("--encoders", default="models/encoders")
    ap.add_argument("--cache", default="build/cache")
    args = ap.parse_args()
    data = Path(args.data)
    meta = json.loads((data / "twin_meta.json").read_text())
    twin = from_mapping(TwinConfig, meta["config"], "twin_meta.json:config")
    table = load_frame_table(data, args.encoders, MODALITIES, tracker_settings(), cache_dir=args.cache)
    test = split_windows(table, load_config(ModelConfig, config_path("model.yaml")))["test"]
    site = table.site
    weights = array_weights(twin.array)
    extrapolated = np.sin(test.inputs["kin"][..., KIN["psi"]].astype(float))
    with (data / "scenario.csv").open() as fh:
        truth = {int(r["index"]): (float(r["ue_x"]), float(r["ue_y"])) for r in csv.DictReader(fh)}
    bs = np.asarray(meta["base_station_array"][:2])
    horizon = test.beam.shape[1]
    true_ux = np.array([[site.direction(np.asarray(truth[int(f) + k]) - bs)["ux"] for k in range(horizon)]
                        for f in test.frame])
    rows = {"twin array (privileged)": pattern_gain(extrapolated, weights),
            "oracle direction (privileged)": pattern_gain(true_ux, weights)}
    print(f"{len(test)} test windows, future offsets 1..{horizon - 1}")
    print(f"{'':<32}{'Top-1':>7}{'Top-3':>7}{'loss dB':>9}{'LoS-in':>8}{'LoS-out':>8}{'NLoS':>7}"
          f"{'loss LoS-in / NLoS (dB)':>26}")
    for name, scores in rows.items():
        m, _ = score_metrics(scores, test)
        print(f"{name:<32}{100 * m['top1']:>6.1f}%{100 * m['top3']:>6.1f}%{m['power_loss_mean_db']:>9.2f}"
              f"{100 * m['los_in_top1']:>7.1f}%{100 * m['los_out_top1']:>7.1f}%{100 * m['nlos_top1']:>6.1f}%"
              f"{m['los_in_loss_db']:>13.3f} / {m['nlos_loss_db']:.2f}")
    print(f"targets per category: LoS in FOV {m['los_in_targets']}, LoS outside FOV {m['los_out_targets']}, "
          f"NLoS {m['nlos_targets']}; best beam within 0.5 dB of the second: {100 * m['tie_share']:.1f} %, "
          f"ahead by >= 1 dB: {100 * m['decisive_share']:.1f} %")


if __name__ == "__main__":
    main()
