"""No ground-truth column of the twin reaches a model input.

The sample scenario is read twice: as generated, and with every ground-truth column
scrambled in its CSV (the UE's box, position and line of sight; the sensor files are the
same).  Every model input of every window must be identical; only the evaluation labels
may change.
"""
import csv

import numpy as np

from beam_predictor.model.data import load_frame_table, make_windows, select_passes
from model_helpers import REPO, SAMPLE

GROUND_TRUTH = ("ue_bbox", "ue_x", "ue_y", "ue_z", "ue_vx", "ue_vy", "los", "unit1_channel",
                "unit1_channel_ofdm", "motion")


def scrambled_copy(out):
    """The sample with its ground-truth columns shuffled across rows (sensor files linked, not copied)."""
    out.mkdir()
    for item in SAMPLE.iterdir():
        if item.name != "scenario.csv":
            (out / item.name).symlink_to(item)
    with (SAMPLE / "scenario.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    rng = np.random.default_rng(0)
    for column in GROUND_TRUTH:
        values = [r[column] for r in rows]
        for r, v in zip(rows, rng.permutation(values)):
            r[column] = v
    with (out / "scenario.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


def test_scrambled_ground_truth_changes_no_model_input(sample_windows, tmp_path):
    table, cfg, windows, tracker = sample_windows
    other = scrambled_copy(tmp_path / "scrambled")
    table2 = load_frame_table(other, REPO / "models" / "encoders", cfg.fusion.modalities, tracker,
                              cache_dir=tmp_path / "cache", progress=False)
    windows2 = make_windows(table2, cfg, select_passes(table2, "all"))
    assert set(windows.inputs) == set(windows2.inputs)
    for key, value in windows.inputs.items():
        np.testing.assert_array_equal(value, windows2.inputs[key], err_msg=key)
    # the columns were read (for the evaluation labels), and the scramble did change them
    assert (table.category != table2.category).any()
