"""Streaming scenario reader: both schemas, labels, stamps, and errors located by row/field/file."""
import csv

import numpy as np
import pytest

from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.deepsense.fixture import fixture_frames
from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader, parse_time_of_day


def _rewrite_cell(scenario, row, column, value):
    path = scenario / "scenario.csv"
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
        fields = list(rows[0].keys())
    rows[row - 1][column] = value
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


@pytest.mark.parametrize("layout", ["s31", "s9"])
def test_reads_what_was_written(make_scenario, tiny_fixture, layout):
    scenario = make_scenario(layout)
    expected = list(fixture_frames(tiny_fixture(layout)))
    reader = ScenarioReader(scenario)
    frames = list(reader)
    assert len(reader) == len(frames) == len(expected) == 12
    for got, exp in zip(frames, expected):
        assert got.index == exp.index and got.beam == exp.beam
        assert got.image_jpeg == exp.image_jpeg
        np.testing.assert_array_equal(got.power, exp.power)
        np.testing.assert_array_equal(got.radar, exp.radar)
        np.testing.assert_allclose(got.lidar[:, :3], exp.lidar[:, :3])
        np.testing.assert_array_equal(got.ue_latlon, exp.ue_latlon)
        # s9 stores milliseconds; s31 microseconds.
        assert abs(got.stamp_ns - exp.stamp_ns) < 1e6
    if layout == "s31":
        assert [f.seq_index for f in frames] == [1] * 6 + [2] * 6
        assert frames[0].extras["unit2_num_sats"] == "12"
        np.testing.assert_array_equal(frames[0].bs_latlon, expected[0].bs_latlon)
    else:
        # no seq_index column: passes come from the stamp gaps (the fixture's passes are 20 s apart)
        assert [f.seq_index for f in frames] == [1] * 6 + [2] * 6
        assert all(f.bs_latlon is None for f in frames)
    # rows 7 had a NaN injected: relabelled with nanargmax and reported.
    assert reader.report.nan_power_rows == [7]
    assert frames[6].power_nan and np.isnan(frames[6].power).any()
    assert frames[6].beam == int(np.nanargmax(frames[6].power)) + 1


def test_modality_subset_loads_nothing_else(make_scenario):
    scenario = make_scenario("s31")
    for p in (scenario / "unit1" / "radar_data").iterdir():
        p.unlink()                                   # radar not requested: never opened
    frames = list(ScenarioReader(scenario, ReaderConfig(modalities=("power", "gps"))))
    assert frames[0].radar is None and frames[0].image_jpeg is None and frames[0].power is not None


def test_streams_row_by_row(make_scenario):
    scenario = make_scenario("s31")
    (scenario / "unit1" / "camera_data" / "image_3.jpg").unlink()
    it = iter(ScenarioReader(scenario))
    assert next(it).index == 1 and next(it).index == 2      # row 3 is only read when reached
    with pytest.raises(DeepSenseError):
        next(it)


def test_label_kept_and_mismatch_reported(make_scenario):
    scenario = make_scenario("s31")
    _rewrite_cell(scenario, 2, "unit1_beam", "40")
    reader = ScenarioReader(scenario)
    frames = list(reader)
    assert frames[1].beam == 40 and reader.report.label_mismatch_rows == [2]


def _error(scenario, **cfg):
    with pytest.raises(DeepSenseError) as info:
        list(ScenarioReader(scenario, ReaderConfig(**cfg)))
    return info.value


def test_missing_file_names_row_field_file(make_scenario):
    scenario = make_scenario("s31")
    (scenario / "unit1" / "radar_data" / "radar_4.npy").unlink()
    err = _error(scenario)
    assert (err.row, err.field) == (4, "unit1_radar") and err.file.endswith("radar_4.npy")
    assert "file not found" in str(err) and "row 4" in str(err)


@pytest.mark.parametrize("layout, rel, mutate, field, reason", [
    ("s31", "unit1/camera_data/image_5.jpg", lambda p: p.write_bytes(p.read_bytes()[:200]),
     "unit1_rgb", "truncated JPEG"),
    ("s31", "unit1/radar_data/radar_5.npy",
     lambda p: np.save(open(p, "wb"), np.zeros((4, 256, 7), np.complex64)), "unit1_radar", "shape"),
    ("s31", "unit2/GPS_data/gps_location_5.txt", lambda p: p.write_text("33.4\n"), "unit2_loc", "latitude"),
    ("s31", "unit1/mmWave_data/mmWave_power_5.txt", lambda p: p.write_text("x\n" * 64), "unit1_pwr_60ghz",
     "non-numeric"),
    ("s31", "unit1/mmWave_data/mmWave_power_5.txt", lambda p: p.write_text("1\n" * 10), "unit1_pwr_60ghz",
     "expected 64"),
    ("s9", "unit1/radar_data/radar_5.mat", lambda p: p.write_bytes(b"garbage"), "unit1_radar",
     "not a readable"),
    ("s9", "unit2/GPS_data/gps_location_5.txt", lambda p: p.write_text("a\nb\n"), "unit2_loc_cal",
     "non-numeric"),
])
def test_bad_files(make_scenario, layout, rel, mutate, field, reason):
    scenario = make_scenario(layout)
    mutate(scenario / rel)
    err = _error(scenario)
    assert err.row == 5 and err.field == field and err.file.endswith(rel.split("/")[-1])
    assert reason in str(err)


def test_bad_cells(make_scenario):
    scenario = make_scenario("s31")
    _rewrite_cell(scenario, 3, "seq_index", "two")
    err = _error(scenario)
    assert (err.row, err.field) == (3, "seq_index")
    scenario = make_scenario("s31")
    _rewrite_cell(scenario, 2, "time_stamp", "yesterday")
    assert _error(scenario).field == "time_stamp"
    scenario = make_scenario("s31")
    _rewrite_cell(scenario, 2, "unit1_lidar", "")
    assert "empty file path" in str(_error(scenario))


def test_skip_bad_keeps_good_rows(make_scenario):
    scenario = make_scenario("s31")
    (scenario / "unit1" / "radar_data" / "radar_4.npy").unlink()
    (scenario / "unit1" / "camera_data" / "image_9.jpg").write_bytes(b"\xff\xd8 cut")
    reader = ScenarioReader(scenario, ReaderConfig(skip_bad=True))
    frames = list(reader)
    assert [f.index for f in frames] == [1, 2, 3, 5, 6, 7, 8, 10, 11, 12]
    assert [row for row, _ in reader.report.bad_rows] == [4, 9]
    assert "radar_4.npy" in reader.report.bad_rows[0][1]


def test_unknown_schema_and_csv_lookup(tmp_path):
    (tmp_path / "scenario.csv").write_text("foo,bar\n1,2\n")
    with pytest.raises(DeepSenseError, match="unknown CSV schema"):
        ScenarioReader(tmp_path)
    (tmp_path / "other.csv").write_text("x\n")
    (tmp_path / "scenario.csv").unlink()
    (tmp_path / "b.csv").write_text("x\n")
    with pytest.raises(DeepSenseError, match="several CSV files"):
        ScenarioReader(tmp_path)
    with pytest.raises(DeepSenseError, match="scenario folder not found"):
        ScenarioReader(tmp_path / "nope")


def test_time_parsing_and_stamps(make_scenario):
    assert parse_time_of_day("['16-45-05-799']") == pytest.approx(16 * 3600 + 45 * 60 + 5.799)
    assert parse_time_of_day("11-46-24.617496") == pytest.approx(42384.617496)
    assert parse_time_of_day("'23:59:59.5'") == pytest.approx(86399.5)
    scenario = make_scenario("s31")
    _rewrite_cell(scenario, 2, "time_stamp", "['23-59-59.900000']")
    _rewrite_cell(scenario, 3, "time_stamp", "['00-00-00.000000']")    # crosses midnight
    _rewrite_cell(scenario, 4, "time_stamp", "['00-00-00.000000']")    # duplicate stamp
    reader = ScenarioReader(scenario)
    stamps = [f.stamp_ns for f in reader]
    assert stamps[2] - stamps[1] == 100_000_000
    assert stamps[3] == stamps[2] + 1 and reader.report.stamps_adjusted >= 1
    assert all(b > a for a, b in zip(stamps, stamps[1:]))


def test_no_time_column_uses_frame_rate(tmp_path, make_scenario):
    scenario = make_scenario("s9")
    path = scenario / "scenario.csv"
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    fields = [f for f in rows[0] if f != "time_stamp[UTC]"]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    stamps = [f.stamp_ns for f in ScenarioReader(scenario, ReaderConfig(frame_rate_hz=10.0))]
    assert stamps[:3] == [0, 100_000_000, 200_000_000]
