"""Train/val/test splits of a scenario, by pass, shared by every stage.

Real DeepSense CSVs have no ``split`` column; the twin writes one.  Every stage that
learns or evaluates (``pretrain``, ``train``, ``evaluate``, ``detector``) asks
:func:`pass_splits` for the split of each pass (``seq_index``), so they all use the
same one.  Where it comes from, first match wins:

1. an explicit split file (``SplitConfig.file``, ``--splits FILE``), e.g. a published
   benchmark split;
2. the CSV's own ``split`` column (twin scenarios);
3. ``splits.csv`` beside the CSV (written by an earlier stage, or by the twin);
4. ``splits-<CSV hash>.csv`` in the cache folder (an earlier draw for a read-only scenario);
5. otherwise a seeded random draw by pass with ``SplitConfig.ratios``, written to
   ``splits.csv`` beside the CSV (into the cache folder when the scenario is read-only),
   so the next stage finds it.  Delete that file to draw again.

A split file is a CSV with at least the columns ``seq_index`` and ``split``
(train/val/test); it must name every pass of the scenario.  Windows never cross a pass,
so splitting by pass keeps frames of one drive out of two splits.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.deepsense.reader import SPLITS_FILE, ReaderConfig, ScenarioReader, find_csv, scenario_key

log = logging.getLogger(__name__)
SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class SplitConfig:
    """config/splits.yaml"""

    ratios: tuple[float, float, float] = (0.7, 0.15, 0.15)    # train, val, test shares of the passes
    seed: int = 0
    file: str = ""          # an explicit split file (seq_index, split); "" = as described above

    def __post_init__(self):
        if len(self.ratios) != 3 or min(self.ratios) < 0 or not 0.99 < sum(self.ratios) < 1.01:
            raise DeepSenseError(f"split ratios {list(self.ratios)}: expected three shares "
                                 "(train, val, test) >= 0 that sum to 1", field="ratios")


def draw_splits(num_passes: int, ratios, rng: np.random.Generator, min_test: bool = True) -> list[str]:
    """Split passes (not frames) into train/val/test with the given shares (rounded).  With
    ``min_test`` and at least two passes, train and test each get one or more."""
    order = rng.permutation(num_passes)
    n_val = int(round(ratios[1] * num_passes))
    n_test = int(round(ratios[2] * num_passes))
    if min_test and num_passes >= 2 and ratios[2] > 0:
        n_test = max(1, n_test)
        n_val = min(n_val, num_passes - n_test - 1)
    labels = ["train"] * num_passes
    for i in order[:n_val]:
        labels[i] = "val"
    for i in order[n_val:n_val + n_test]:
        labels[i] = "test"
    return labels


def read_split_file(path: str | Path) -> dict[int, str]:
    """{pass: split} of a split file; an error names the file, the row and the field."""
    path = Path(path)
    if not path.is_file():
        raise DeepSenseError("split file not found", file=path)
    out: dict[int, str] = {}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("seq_index", "split") if c not in (reader.fieldnames or ())]
        if missing:
            raise DeepSenseError(f"no column(s) {missing}; a split file has seq_index and split",
                                 file=path)
        for row, rec in enumerate(reader, start=1):
            name = (rec["split"] or "").strip()
            if name not in SPLIT_NAMES:
                raise DeepSenseError(f"split {name!r}: expected one of {SPLIT_NAMES}", row=row,
                                     field="split", file=path)
            try:
                out[int(float(rec["seq_index"]))] = name
            except ValueError:
                raise DeepSenseError(f"pass {rec['seq_index']!r} is not an integer", row=row,
                                     field="seq_index", file=path) from None
    return out


def write_split_file(path: Path, splits: dict[int, str], frames: dict[int, int]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["seq_index", "split", "frames"])
        w.writerows([seq, splits[seq], frames.get(seq, 0)] for seq in sorted(splits))
    tmp.replace(path)


def scenario_passes(scenario: str | Path) -> tuple[dict[int, int], dict[int, str]]:
    """Frames per pass, and the split of each pass named by the CSV's own ``split`` column
    (empty when it has none)."""
    reader = ScenarioReader(scenario, ReaderConfig(modalities=()))
    frames: dict[int, int] = {}
    named: dict[int, str] = {}
    for f in reader:
        frames[f.seq_index] = frames.get(f.seq_index, 0) + 1
        name = f.extras.get("split", "")
        if name:
            if named.setdefault(f.seq_index, name) != name:
                raise DeepSenseError(f"pass {f.seq_index} has rows in two splits ({named[f.seq_index]}, "
                                     f"{name})", row=f.index, field="split", file=reader.csv_path)
    return frames, named


def pass_splits(scenario: str | Path, cfg: SplitConfig | None = None,
                cache_dir: str | Path | None = None) -> dict[int, str]:
    """{pass: "train" | "val" | "test"} for every pass of ``scenario`` (see the module docstring)."""
    cfg = cfg or SplitConfig()
    csv_path = find_csv(Path(scenario))
    frames, named = scenario_passes(scenario)
    candidates = [Path(cfg.file)] if cfg.file else []
    if not cfg.file and named:
        if set(named) != set(frames):
            raise DeepSenseError(f"the split column leaves passes {sorted(set(frames) - set(named))} without "
                                 "a split", field="split", file=csv_path)
        return named
    cached = None if cache_dir is None else Path(cache_dir) / f"splits-{scenario_key(Path(scenario))}.csv"
    if not cfg.file:
        candidates = [csv_path.parent / SPLITS_FILE] + ([cached] if cached is not None else [])
    for path in candidates:
        if cfg.file or path.is_file():
            splits = read_split_file(path)
            lacking = sorted(set(frames) - set(splits))
            if lacking:
                raise DeepSenseError(f"names no split for passes {lacking} of {csv_path}", file=path)
            return {seq: splits[seq] for seq in frames}
    passes = sorted(frames)
    drawn = dict(zip(passes, draw_splits(len(passes), cfg.ratios, np.random.default_rng(cfg.seed))))
    for path in [csv_path.parent / SPLITS_FILE] + ([cached] if cached is not None else []):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_split_file(path, drawn, frames)
        except OSError:
            continue
        counts = {n: sum(v == n for v in drawn.values()) for n in SPLIT_NAMES}
        log.warning("%s: no split given; drew one by pass (seed %d, ratios %s: %s) and wrote it to %s",
                    csv_path, cfg.seed, list(cfg.ratios), counts, path)
        return drawn
    raise DeepSenseError(f"could not write the drawn split beside the CSV or into {cache_dir}", file=csv_path)


def split_column(seq: np.ndarray, splits: dict[int, str]) -> np.ndarray:
    """The split of every frame of ``seq`` (its pass's)."""
    return np.array([splits[int(s)] for s in seq], dtype="<U8")
