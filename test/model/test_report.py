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
