"""Splits by pass for scenarios without a split column: drawn, written, reused, or given."""
import csv

import numpy as np
import pytest

from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.deepsense.reader import find_csv
from beam_predictor.deepsense.splits import (SPLITS_FILE, SplitConfig, draw_splits, pass_splits,
                                             read_split_file)


def test_draw_by_pass_gives_train_and_test():
    assert draw_splits(3, (0.7, 0.15, 0.15), np.random.default_rng(0)).count("test") == 1
    assert draw_splits(3, (0.7, 0.15, 0.15), np.random.default_rng(0), min_test=False) == ["train"] * 3
    labels = draw_splits(20, (0.5, 0.25, 0.25), np.random.default_rng(1))
    assert (labels.count("train"), labels.count("val"), labels.count("test")) == (10, 5, 5)


def test_drawn_split_is_written_and_reused(make_scenario):
    scenario = make_scenario("s31", passes=4)
    splits = pass_splits(scenario, SplitConfig(seed=3))
    assert sorted(splits) == [1, 2, 3, 4] and "test" in splits.values() and "train" in splits.values()
    written = read_split_file(scenario / SPLITS_FILE)
    assert written == splits
    # the next stage reads the file, whatever its own seed: every stage uses the same split
    assert pass_splits(scenario, SplitConfig(seed=99)) == splits
    # the split file is never taken for the scenario's CSV
    assert find_csv(scenario).name == "scenario.csv"
    # a different seed draws another split once the file is gone
    draws = set()
    for seed in range(6):
        (scenario / SPLITS_FILE).unlink()
        draws.add(tuple(pass_splits(scenario, SplitConfig(seed=seed)).values()))
    assert len(draws) > 1


def test_read_only_scenario_writes_into_the_cache(make_scenario, tmp_path, monkeypatch):
    from beam_predictor.deepsense import splits as mod
    scenario = make_scenario("s9", passes=2)
    write = mod.write_split_file

    def read_only(path, *args):
        if path.parent == scenario:
            raise PermissionError(13, "Permission denied", str(path))
        return write(path, *args)
    monkeypatch.setattr(mod, "write_split_file", read_only)
    splits = pass_splits(scenario, SplitConfig(), cache_dir=tmp_path)
    cached = list(tmp_path.glob("splits-*.csv"))
    assert len(cached) == 1 and read_split_file(cached[0]) == splits
    assert not (scenario / SPLITS_FILE).exists()
    assert pass_splits(scenario, SplitConfig(seed=5), cache_dir=tmp_path) == splits


def test_explicit_split_file_wins_and_must_cover_every_pass(make_scenario, tmp_path):
    scenario = make_scenario("s31", passes=3)
    given = tmp_path / "published.csv"
    given.write_text("seq_index,split\n1,test\n2,train\n3,val\n")
    assert pass_splits(scenario, SplitConfig(file=str(given))) == {1: "test", 2: "train", 3: "val"}
    assert not (scenario / SPLITS_FILE).exists()
    given.write_text("seq_index,split\n1,test\n2,train\n")
    with pytest.raises(DeepSenseError, match=r"passes \[3\]"):
        pass_splits(scenario, SplitConfig(file=str(given)))
    given.write_text("seq_index,split\n1,holdout\n")
    with pytest.raises(DeepSenseError, match="row 1.*'split'.*published.csv"):
        read_split_file(given)
    given.write_text("pass,split\n1,test\n")
    with pytest.raises(DeepSenseError, match="seq_index"):
        read_split_file(given)


def test_csv_split_column_is_used(make_scenario):
    scenario = make_scenario("s31", passes=2)
    path = find_csv(scenario)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["split"] = "val" if r["seq_index"] == "2" else "train"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert pass_splits(scenario) == {1: "train", 2: "val"}
    assert not (scenario / SPLITS_FILE).exists()


def test_bad_ratios_are_refused():
    with pytest.raises(DeepSenseError, match="ratios"):
        SplitConfig(ratios=(0.5, 0.2, 0.2))
