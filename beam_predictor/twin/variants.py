"""A twin dataset that differs from a built one only in its GPS receiver (``beam-predictor twin-gps``).

The twin draws the GPS errors of every pass from a stream of their own, from the true
antenna track it writes to ``ue_x``/``ue_y``.  So another receiver preset needs no new
ray tracing: :func:`regps` reads the track back, draws the fixes of the new preset, and
writes a new folder whose sensor files are hard links to the source's (copies across
file systems).  The result has exactly the bytes ``beam-predictor twin`` writes with that
preset and the same seed (a test checks it), in a minute instead of a rebuild.  A
multi-user twin's other users (units 3, ...) get new fixes from their own tracks
(``unitN_x``/``unitN_y``) and streams too.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np

from beam_predictor.atomic import partial_dir, replace_dir
from beam_predictor.config import from_mapping, to_mapping
from beam_predictor.deepsense import files
from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.physics.site import TWIN_META
from beam_predictor.twin.config import TwinConfig
from beam_predictor.twin.generate import gps_fixes

GPS_CELLS = ("unit2_loc", "unit2_mode_fix_type", "unit2_hdop")


def regps(src: str | Path, out: str | Path, preset: str, overwrite: bool = False) -> dict:
    """Write ``out``: the twin scenario ``src`` with the GPS of ``preset``; returns counts."""
    src, out = Path(src), Path(out)
    meta_path = src / TWIN_META
    if not meta_path.is_file():
        raise DeepSenseError(f"not a twin scenario (no {TWIN_META}): the true track is needed", file=src)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    meta = json.loads(meta_path.read_text())
    cfg = from_mapping(TwinConfig, meta["config"], f"{meta_path}:config")
    cfg = dataclasses.replace(cfg, gps=dataclasses.replace(cfg.gps, preset=preset))   # validates the preset
    csv_path = src / "scenario.csv"
    with csv_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        columns, rows = reader.fieldnames, list(reader)
    missing = [c for c in ("seq_index", "index", "ue_x", "ue_y") + GPS_CELLS if c not in columns]
    if missing:
        raise DeepSenseError(f"column(s) {missing} missing: not written by this twin", file=csv_path)
    # the UE (unit 2) and every other user of a multi-user twin (units 3, ...: unitN_x / unitN_y)
    units = [(2, "ue_x", "ue_y")] + [(n, f"unit{n}_x", f"unit{n}_y")
                                     for n in range(3, 3 + cfg.traffic.extra_ues)]
    dirs = tuple(f"unit{n}/GPS_data/" for n, _, _ in units)
    tmp = partial_dir(out)
    try:
        for path in src.rglob("*"):
            rel = path.relative_to(src)
            rewritten = rel.as_posix().startswith(dirs) or rel.name in ("scenario.csv", TWIN_META)
            if path.is_dir() or rewritten:
                if path.is_dir():
                    (tmp / rel).mkdir(parents=True, exist_ok=True)
                continue
            _link(path, tmp / rel)
        by_seq: dict[int, list[dict]] = {}
        for row in rows:
            by_seq.setdefault(int(row["seq_index"]), []).append(row)
        dropped = 0
        for seq, pass_rows in by_seq.items():
            for unit, cx, cy in units:
                truth = np.array([[float(r[cx]), float(r[cy])] for r in pass_rows])
                for row, (latlon, fix_type, hdop) in zip(pass_rows, gps_fixes(cfg, seq, truth, unit)):
                    row[f"unit{unit}_mode_fix_type"], row[f"unit{unit}_hdop"] = fix_type, hdop
                    row[f"unit{unit}_loc"] = ""
                    if latlon is None:
                        dropped += 1
                        continue
                    rel = f"unit{unit}/GPS_data/gps_location_{row['index']}.txt"
                    (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                    files.write_gps(tmp / rel, latlon)
                    row[f"unit{unit}_loc"] = "./" + rel
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        with (tmp / "scenario.csv").open("w", newline="") as fh:
            fh.write(text.getvalue())
        meta["config"] = to_mapping(cfg)
        (tmp / TWIN_META).write_text(json.dumps(meta, indent=1))
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"frames": len(rows), "passes": len(by_seq), "preset": preset, "no_fix_files": dropped}


def _link(path: Path, target: Path) -> None:
    try:
        os.link(path, target)
    except OSError:
        shutil.copy2(path, target)
