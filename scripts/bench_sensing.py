#!/usr/bin/env python3
"""Per-frame latency of preprocessing + encoder, batch 1, for each modality (``make bench-sensing``).

Runs the CPU default (config/sensing.yaml) and the paper-sized setting
(config/sensing_paper.yaml) on real frames of a scenario (default: the twin sample) and
prints p50/p99 in milliseconds over ``--frames`` frames after warm-up.  Encoders run in
eval mode under torch.inference_mode() with the process's default torch thread count.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from beam_predictor.config import config_path, load_config
from beam_predictor.deepsense.reader import ScenarioReader
from beam_predictor.sensing.config import SensingConfig
from beam_predictor.sensing.encoders import build_encoder, parameter_count
from beam_predictor.sensing.preprocess import GpsScaler, prep_image, prep_lidar, prep_radar

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default=str(REPO / "data" / "twin_sample"))
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()
    frames = []
    for f in ScenarioReader(args.scenario):
        frames.append(f)
        if len(frames) == args.frames + 5:
            break
    scaler = GpsScaler.fit(np.stack([f.ue_latlon for f in frames]))
    print(f"{len(frames) - 5} frames of {args.scenario}, batch 1, torch threads {torch.get_num_threads()}")
    print(f"{'setting':<8}{'modality':<8}{'params':>11}{'prep p50':>10}{'prep p99':>10}"
          f"{'enc p50':>9}{'enc p99':>9}{'total p50':>11}{'total p99':>11}  [ms]")
    for name, file in (("cpu", "sensing.yaml"), ("paper", "sensing_paper.yaml")):
        cfg = load_config(SensingConfig, config_path(file))
        preps = {"image": lambda f: prep_image(f.image_jpeg, cfg.image),
                 "radar": lambda f: prep_radar(f.radar, cfg.radar),
                 "lidar": lambda f: prep_lidar(f.lidar, cfg.lidar),
                 "gps": lambda f: scaler(f.ue_latlon)}
        for modality, prep in preps.items():
            enc = build_encoder(modality, cfg.encoder).eval()
            t_prep, t_enc = [], []
            with torch.inference_mode():
                for i, f in enumerate(frames):
                    t0 = time.perf_counter()
                    x = torch.from_numpy(prep(f).value).unsqueeze(0)
                    t1 = time.perf_counter()
                    enc(x)
                    t2 = time.perf_counter()
                    if i >= 5:
                        t_prep.append(1e3 * (t1 - t0))
                        t_enc.append(1e3 * (t2 - t1))
            tot = np.add(t_prep, t_enc)
            print(f"{name:<8}{modality:<8}{parameter_count(enc):>11,}"
                  f"{np.percentile(t_prep, 50):>10.2f}{np.percentile(t_prep, 99):>10.2f}"
                  f"{np.percentile(t_enc, 50):>9.2f}{np.percentile(t_enc, 99):>9.2f}"
                  f"{np.percentile(tot, 50):>11.2f}{np.percentile(tot, 99):>11.2f}")


if __name__ == "__main__":
    main()
