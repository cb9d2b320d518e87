"""Several arrays (scenario 41): one power column per array, joined and down-sampled to 64 beams,
one power topic per array in the bag."""
import csv

import numpy as np
import pytest

from beam_predictor import contract as C
from beam_predictor.bag.convert import convert
from beam_predictor.bag.reader import BagFrameReader, inventory
from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.deepsense.files import write_power
from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader
from beam_predictor.deepsense.schema import resolve_schema


def test_schema_finds_the_arrays_in_order():
    s = resolve_schema(["index", "unit1_pwr_60ghz_3", "unit1_pwr_60ghz_1", "unit1_pwr_60ghz_2", "unit2_loc"])
    assert s.power_arrays == ("unit1_pwr_60ghz_1", "unit1_pwr_60ghz_2", "unit1_pwr_60ghz_3")
    assert s.column("power") is None and not set(s.power_arrays) & set(s.extra_columns)
    one = resolve_schema(["index", "unit1_pwr_60ghz_1", "unit2_loc"])      # one array: the usual power
    assert one.column("power") == "unit1_pwr_60ghz_1" and one.power_arrays == ()


@pytest.mark.parametrize("mode", ["max", "stride"])
def test_arrays_are_joined_and_down_sampled(make_scenario, mode):
    scenario = make_scenario("s41")
    frames = list(ScenarioReader(scenario, ReaderConfig(array_downsample=mode)))
    assert len(frames) == 12
    for f in frames:
        joined = np.concatenate(f.array_power)
        assert [a.shape for a in f.array_power] == [(64,)] * 3 and f.power.shape == (64,)
        groups = joined.reshape(64, 3)
        # (a NaN beam is left out of its group's maximum: the fixture has some)
        np.testing.assert_array_equal(f.power, np.nanmax(groups, 1) if mode == "max" else groups[:, 0])
        # the CSV's label indexes the 192 joined beams; the frame's is its group among the 64
        assert f.beam == int(np.nanargmax(joined)) // 3 + 1
        if mode == "max":
            assert f.beam == int(np.nanargmax(f.power)) + 1


def test_arrays_of_different_sizes_name_the_field(make_scenario):
    scenario = make_scenario("s41")
    with open(scenario / "scenario.csv") as fh:
        first = next(csv.DictReader(fh))
    write_power(scenario / first["unit1_pwr_60ghz_2"], np.ones(32, np.float32))
    with pytest.raises(DeepSenseError, match=r"unit1_pwr_60ghz_2.*32 beams, but unit1_pwr_60ghz_1 has 64"):
        list(ScenarioReader(scenario))
    with pytest.raises(ValueError, match="array_downsample"):
        ReaderConfig(array_downsample="mean")


def test_one_power_topic_per_array_in_the_bag(make_scenario, tmp_path):
    scenario = make_scenario("s41")
    result = convert(scenario, tmp_path / "bag", progress=False)
    topics = inventory(result.bag).topics
    for k in (1, 2, 3):
        assert topics[C.array_power_topic(k).name] == ("sensor_msgs/msg/LaserScan", 12)
    assert topics[C.POWER.name] == ("sensor_msgs/msg/LaserScan", 12)
    assert C.LIDAR.name not in topics and C.RADAR.name not in topics
    back = list(BagFrameReader(result.bag))
    for a, b in zip(ScenarioReader(scenario), back):
        np.testing.assert_array_equal(a.power, b.power)
        for x, y in zip(a.array_power, b.array_power, strict=True):
            np.testing.assert_array_equal(x, y)
        assert a.beam == b.beam
