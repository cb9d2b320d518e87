"""Column roles: both DeepSense schemas resolve, unknown ones fail with the columns listed."""
import pytest

from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.deepsense.schema import resolve_schema
from beam_predictor.deepsense.writer import S9_COLUMNS, S31_COLUMNS


def test_s31_schema():
    s = resolve_schema(S31_COLUMNS)
    assert s.roles["beam"] == "unit1_beam" and s.roles["ue_loc"] == "unit2_loc"
    assert s.roles["time"] == "time_stamp" and s.roles["seq"] == "seq_index"
    assert "unit2_spd_over_grnd_kmph" in s.extra_columns
    assert "unit1_rgb" not in s.extra_columns


def test_s9_schema():
    s = resolve_schema(S9_COLUMNS)
    assert s.roles["beam"] == "unit1_beam_index" and s.roles["ue_loc"] == "unit2_loc_cal"
    assert s.roles["time"] == "time_stamp[UTC]" and s.roles["seq"] is None
    assert s.extra_columns == ()


def test_headers_match_case_and_spaces():
    s = resolve_schema([" Index", "UNIT1_PWR_60GHZ ", "Unit2_Loc"])
    assert s.roles["power"] == "UNIT1_PWR_60GHZ " and s.roles["index"] == " Index"


def test_unknown_schema_names_columns():
    with pytest.raises(DeepSenseError, match=r"unknown CSV schema.*columns are \['foo', 'bar'\]") as info:
        resolve_schema(["foo", "bar"], "scen.csv")
    assert info.value.file == "scen.csv"
