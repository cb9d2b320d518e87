import csv

import numpy as np

from beam_predictor.model.report import RunResult, write_report


def test_report_writes_csvs_and_plots(tmp_path):
    metrics = {f"top{k}": 0.1 * k for k in (1, 3, 5)}
    metrics.update({f"dba_k{k}_d{d}": 0.2 * k / d for k in (1, 2, 3) for d in (1, 2)})
    runs = [RunResult("gru", "standard", metrics, np.full((6, 3), 0.4), [{"epoch": 1, "train_beam": 2.0,
                                                                          "val_top1": 0.3}]),
            RunResult("gru", "few-shot", metrics, np.full((11, 3), 0.3))]
    out = write_report(tmp_path, runs)
    for name in ("summary.csv", "per_step.csv", "dba.csv", "history.csv", "topk.png", "dba.png",
                 "per_step.png", "training.png"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader((out / "per_step.csv").open()))
    assert len(rows) == 6 + 11 and rows[0]["offset"] == "0"
    dba = list(csv.DictReader((out / "dba.csv").open()))
    assert len(dba) == 2 * 6 and float(dba[0]["dba"]) == metrics["dba_k1_d1"]


def test_few_shot_figure_has_mean_and_spread_per_ratio(tmp_path):
    from beam_predictor.model.report import aggregate, few_shot_figure
    runs = []
    for task, ratio in (("ratio-10", 0.1), ("ratio-100", 1.0)):
        for seed in (0, 1, 2):
            top1 = ratio / 2 + 0.01 * seed
            runs.append(RunResult("MLM-BP", task, {"top1": top1, "top3": 2 * top1, "train_seconds": 10.0},
                                  np.zeros((1, 3)), seed=seed))
    png = few_shot_figure(tmp_path, aggregate(runs), {"ratio-10": 0.1, "ratio-100": 1.0})
    assert png.stat().st_size > 0
    rows = {r["data_ratio"]: r for r in csv.DictReader((tmp_path / "few_shot.csv").open())}
    assert set(rows) == {"0.1", "1"} and rows["0.1"]["seeds"] == "3"
    assert abs(float(rows["1"]["top1"]) - 0.51) < 1e-6
    assert abs(float(rows["1"]["top1_std"]) - np.std([0.5, 0.51, 0.52])) < 1e-6
