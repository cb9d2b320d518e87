"""Stream a DeepSense 6G scenario folder (CSV plus unit1/unit2 files) as typed frames.

The CSV is read row by row and each row's files are loaded only when that frame is
produced, so a scenario of any size streams in constant memory.  Rows are numbered
from 1 (the first line after the header) in every error and report.

Several arrays (``Schema.power_arrays``, scenario 41's three arrays of 64 beams): the
arrays' power vectors are joined in array order (192 beams spanning the three arrays'
coverage) and down-sampled to the 64-beam codebook the models predict over
(``reader.array_downsample``): ``max`` keeps the strongest beam of each group of
adjacent beams (192 / 64 = 3), ``stride`` keeps the first of each group; either way
the 64 beams still span the whole coverage, at a third of the angular resolution
(paper 002, Sec. IV-B2).  The frame keeps each array's own vector (``array_power``; the
converter writes one topic per array).  The CSV's beam label then indexes the joined
beams (1..192) and becomes its group's index.  Arrays of different sizes, or a joined size that is
not a multiple of 64, are errors naming the field.
"""
from __future__ import annotations

import csv
import io
import datetime as dt
import hashlib
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from beam_predictor import contract
from beam_predictor.deepsense import files
from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.deepsense.frame import Frame, Modality, best_beam
from beam_predictor.deepsense.schema import Schema, resolve_schema

SPLITS_FILE = "splits.csv"       # the scenario's split by pass (deepsense.splits), never its CSV
log = logging.getLogger(__name__)
_WARNED_NO_SEQ: set[Path] = set()      # CSVs already warned about (once per process, not per reader)
ARRAY_DOWNSAMPLE = ("max", "stride")
_TIME_RE = re.compile(r"(\d{1,2})[-:](\d{1,2})[-:](\d{1,2})(?:[.\-:](\d+))?")


@dataclass(frozen=True)
class ReaderConfig:
    """How a scenario folder is read (config/convert.yaml, section ``reader``)."""

    modalities: tuple[str, ...] = tuple(m.value for m in Modality)
    skip_bad: bool = False          # skip and report bad rows instead of stopping
    frame_rate_hz: float = 10.0     # stamps from the row number when the CSV has no time
    date: str = "1970-01-01"        # CSV times are times of day; this is the day (UTC)
    pass_gap_s: float = 1.0         # no seq_index column: a new pass where the stamps jump by more
    array_downsample: str = "max"   # several arrays: "max" (strongest of each group) or "stride"

    def __post_init__(self):
        if self.array_downsample not in ARRAY_DOWNSAMPLE:
            raise ValueError(f"reader.array_downsample '{self.array_downsample}': choose from "
                             f"{ARRAY_DOWNSAMPLE}")


@dataclass
class ReadReport:
    """What the reader noticed while streaming (filled as frames are produced)."""

    rows_read: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    nan_power_rows: list[int] = field(default_factory=list)
    label_mismatch_rows: list[int] = field(default_factory=list)
    gps_missing_rows: list[int] = field(default_factory=list)     # no UE fix: empty cell or a NaN fix
    stamps_adjusted: int = 0


def parse_time_of_day(text: str) -> float:
    """Seconds since midnight from DeepSense time cells.

    Accepts ``['16-45-05-799']`` (scenario 9, milliseconds), ``11-46-24.617496``,
    ``11:46:24.6`` and the same inside brackets or quotes.
    """
    m = _TIME_RE.search(text)
    if not m:
        raise ValueError(f"unrecognised time stamp {text!r}")
    h, mi, s, frac = m.groups()
    seconds = int(h) * 3600 + int(mi) * 60 + int(s)
    if frac:
        seconds += int(frac) / 10 ** len(frac)
    return float(seconds)


def find_csv(root: Path) -> Path:
    """The scenario's CSV: the only one in the folder, or the only ``scenario*.csv``."""
    root = Path(root)
    if root.is_file() and root.suffix.lower() == ".csv":
        return root
    if not root.is_dir():
        raise DeepSenseError("scenario folder not found", file=root)
    found = sorted(p for p in root.glob("*.csv") if p.name != SPLITS_FILE)
    named = [p for p in found if p.name.lower().startswith("scenario")]
    if len(found) == 1:
        return found[0]
    if len(named) == 1:
        return named[0]
    if not found:
        raise DeepSenseError("no CSV file in the scenario folder", file=root)
    raise DeepSenseError(f"several CSV files, cannot tell which is the scenario: {[p.name for p in found]}",
                         file=root)


def _blank(rec: dict, col: str) -> bool:
    """Whether a cell names no file (empty, or "nan" as pandas writes a missing value)."""
    return (rec.get(col) or "").strip().lower() in ("", "nan")


def scenario_key(scenario: str | Path) -> str:
    """A digest of the scenario's CSV: what caches of per-frame data are keyed by."""
    return hashlib.sha256(find_csv(Path(scenario)).read_bytes()).hexdigest()[:16]


class ScenarioReader:
    """Iterate over a scenario folder's frames; see the module docstring."""

    def __init__(self, root: str | Path, config: ReaderConfig | None = None):
        self.config = config or ReaderConfig()
        self.modalities = Modality.parse(self.config.modalities)
        self.csv_path = find_csv(Path(root))
        self.root = self.csv_path.parent
        try:
            header = next(csv.reader(self._lines()), None)
        except csv.Error as exc:
            raise DeepSenseError(f"not a readable CSV header ({exc})", file=self.csv_path) from None
        if not header:
            raise DeepSenseError("empty CSV (no header)", file=self.csv_path)
        self.schema: Schema = resolve_schema(header, str(self.csv_path))
        self.report = ReadReport()
        self._epoch = dt.datetime.fromisoformat(self.config.date).replace(
            tzinfo=dt.timezone.utc).timestamp()
        self._len: int | None = None
        if self.schema.column("seq") is None and self.csv_path not in _WARNED_NO_SEQ:
            _WARNED_NO_SEQ.add(self.csv_path)
            log.warning("%s: no seq_index column; passes are split where the time stamps jump by more than "
                        "%.1f s (reader.pass_gap_s)", self.csv_path, self.config.pass_gap_s)

    def _lines(self) -> io.StringIO:
        """The CSV as text; bytes that are not UTF-8 are an error naming the file and the byte."""
        data = self.csv_path.read_bytes()
        try:
            return io.StringIO(data.decode("utf-8-sig"), newline="")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise DeepSenseError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} "
                                 f"(line {line})", file=self.csv_path) from None

    def __len__(self) -> int:
        """Number of data rows in the CSV (bad rows included)."""
        if self._len is None:
            try:
                self._len = max(0, sum(1 for _ in csv.reader(self._lines())) - 1)
            except csv.Error as exc:
                raise DeepSenseError(f"not a readable CSV ({exc})", file=self.csv_path) from None
        return self._len

    def __iter__(self) -> Iterator[Frame]:
        self.report = ReadReport()
        bs_cache: dict[str, np.ndarray] = {}
        state = {"prev_stamp": None, "day_offset": 0.0, "prev_tod": None, "seq": 1}
        rows = csv.DictReader(self._lines())
        row = 0
        while True:
            row += 1
            try:
                rec = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DeepSenseError(f"not a readable CSV line ({exc})", row=row,
                                     file=self.csv_path) from None
            self.report.rows_read += 1
            try:
                frame = self._frame(row, rec, bs_cache, state)
            except DeepSenseError as exc:
                exc = exc.located(row=row, file=self.csv_path)   # a bad cell: the CSV is the file
                if not self.config.skip_bad:
                    raise exc from None
                self.report.bad_rows.append((row, str(exc)))
                continue
            yield frame

    # ---------------------------------------------------------------------------------
    def _path(self, rec: dict, role: str, col: str | None = None) -> Path:
        """The file a cell names (``col``: a column of its own, e.g. one of several arrays)."""
        col = col or self.schema.column(role)
        if _blank(rec, col):
            raise DeepSenseError("empty file path", field=col)
        return self.root / rec[col].strip()

    def _load(self, rec: dict, role: str, loader, col: str | None = None):
        col = col or self.schema.column(role)
        path = self._path(rec, role, col)
        try:
            return loader(path)
        except DeepSenseError as exc:
            raise exc.located(field=col) from None

    def _array_power(self, rec: dict) -> tuple[np.ndarray, tuple[np.ndarray, ...], int]:
        """(the joined arrays down-sampled to 64 beams, each array's vector, the group size)."""
        arrays = []
        for col in self.schema.power_arrays:
            arrays.append(self._load(rec, "power", lambda p: files.read_power(p, num_beams=None), col))
            if arrays[-1].size != arrays[0].size:
                raise DeepSenseError(f"{arrays[-1].size} beams, but {self.schema.power_arrays[0]} has "
                                     f"{arrays[0].size}: every array needs the same codebook size", field=col)
        joined = np.concatenate(arrays)
        if joined.size % contract.NUM_BEAMS:
            raise DeepSenseError(f"{len(arrays)} arrays of {arrays[0].size} beams ({joined.size}) cannot be "
                                 f"down-sampled to {contract.NUM_BEAMS}", field=self.schema.power_arrays[0])
        factor = joined.size // contract.NUM_BEAMS
        groups = joined.reshape(contract.NUM_BEAMS, factor)
        if self.config.array_downsample == "stride":
            down = groups[:, 0]
        else:       # the strongest of each group, NaN beams left out (a group of NaNs stays NaN)
            down = np.fmax.reduce(groups, axis=1)
        return down.astype(np.float32), tuple(arrays), factor

    def _stamp_ns(self, row: int, rec: dict, state: dict) -> int:
        col = self.schema.column("time")
        if col is None:
            seconds = (row - 1) / self.config.frame_rate_hz
        else:
            try:
                tod = parse_time_of_day(rec.get(col) or "")
            except ValueError as exc:
                raise DeepSenseError(str(exc), field=col) from None
            prev = state["prev_tod"]
            if prev is not None and tod + state["day_offset"] < prev - 12 * 3600:
                state["day_offset"] += 86400.0      # the recording crossed midnight
            seconds = tod + state["day_offset"]
            state["prev_tod"] = seconds
        stamp = int(round((self._epoch + seconds) * 1e9))
        if state["prev_stamp"] is not None and stamp <= state["prev_stamp"]:
            stamp = state["prev_stamp"] + 1         # keep stamps strictly increasing
            self.report.stamps_adjusted += 1
        state["prev_stamp"] = stamp
        return stamp

    def _int_cell(self, rec: dict, role: str, default: int) -> int:
        col = self.schema.column(role)
        if col is None:
            return default
        cell = (rec.get(col) or "").strip()
        try:
            value = float(cell)
        except ValueError:
            raise DeepSenseError(f"expected an integer, got {cell!r}", field=col) from None
        if not math.isfinite(value) or value != int(value):
            raise DeepSenseError(f"expected an integer, got {cell!r}", field=col)
        return int(value)

    def _frame(self, row: int, rec: dict, bs_cache: dict, state: dict) -> Frame:
        mods = self.modalities
        prev_stamp = state["prev_stamp"]
        stamp = self._stamp_ns(row, rec, state)
        if self.schema.column("seq") is None:          # passes from the stamps (scenario 9 has no seq_index)
            if prev_stamp is not None and stamp - prev_stamp > self.config.pass_gap_s * 1e9:
                state["seq"] += 1
            seq = state["seq"]
        else:
            seq = self._int_cell(rec, "seq", 0)
        frame = Frame(index=self._int_cell(rec, "index", row - 1), seq_index=seq, stamp_ns=stamp)
        label = self._int_cell(rec, "beam", -1) if self.schema.column("beam") else None

        power_col = self.schema.column("power") or (self.schema.power_arrays[0] if self.schema.power_arrays
                                                    else None)
        if power_col is not None and (Modality.POWER in mods or label is None):
            if self.schema.power_arrays:
                power, arrays, factor = self._array_power(rec)
                if label is not None:          # the label indexes the joined beams: its group
                    label = (label - 1) // factor + 1
                frame.array_power = arrays
            else:
                power = self._load(rec, "power", files.read_power)
            try:
                argmax_beam, frame.power_nan = best_beam(power)
            except ValueError as exc:
                raise DeepSenseError(str(exc), field=power_col) from None
            if frame.power_nan:
                self.report.nan_power_rows.append(row)
                label = argmax_beam
            elif label is None:
                label = argmax_beam
            elif label != argmax_beam:
                self.report.label_mismatch_rows.append(row)
            if Modality.POWER in mods:
                frame.power = power
        frame.beam = label

        if Modality.CAMERA in mods and self.schema.column("camera"):
            frame.image_jpeg = self._load(rec, "camera", files.read_jpeg)
        if Modality.LIDAR in mods and self.schema.column("lidar"):
            frame.lidar = self._load(rec, "lidar", files.read_lidar)
        if Modality.RADAR in mods and self.schema.column("radar"):
            frame.radar = self._load(rec, "radar", files.read_radar)
        if Modality.GPS in mods:
            if _blank(rec, self.schema.column("ue_loc")):
                frame.ue_latlon = None               # a GPS outage: no file this frame
            else:
                frame.ue_latlon = self._load(rec, "ue_loc", files.read_gps)
            if frame.ue_latlon is None or not np.isfinite(frame.ue_latlon).all():
                self.report.gps_missing_rows.append(row)
            if self.schema.column("bs_loc"):
                key = str(self._path(rec, "bs_loc"))
                if key not in bs_cache:
                    bs_cache[key] = self._load(rec, "bs_loc", files.read_gps)
                frame.bs_latlon = bs_cache[key]
            for unit, col in self.schema.user_locs:
                frame.users_latlon[unit] = (None if _blank(rec, col)
                                            else self._load(rec, "ue_loc", files.read_gps, col))
        alt_col = self.schema.column("ue_altitude")
        if alt_col is not None:
            try:
                frame.ue_altitude = float(rec.get(alt_col) or "nan")
            except ValueError:
                raise DeepSenseError(f"non-numeric altitude {rec.get(alt_col)!r}", field=alt_col) from None
        frame.extras = {c: rec.get(c) or "" for c in self.schema.extra_columns}
        return frame
