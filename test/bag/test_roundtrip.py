"""Scenario folder -> bag -> frames is the identity, for both schemas and both storages."""
import numpy as np
import pytest

from beam_predictor import contract as C
from beam_predictor.bag.convert import ConvertConfig, convert
from beam_predictor.bag.reader import BagFrameReader, inventory
from beam_predictor.deepsense.reader import ScenarioReader


def assert_frames_equal(a, b):
    assert (a.index, a.seq_index, a.stamp_ns, a.beam, a.power_nan) == \
        (b.index, b.seq_index, b.stamp_ns, b.beam, b.power_nan)
    assert a.image_jpeg == b.image_jpeg                     # bytes identical
    for name in ("power", "lidar", "radar", "ue_latlon", "bs_latlon"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and x.shape == y.shape, name
            np.testing.assert_array_equal(x, y, err_msg=name)   # float32 survives exactly
    assert a.ue_altitude == b.ue_altitude or (np.isnan(a.ue_altitude) and np.isnan(b.ue_altitude))
    assert a.extras == b.extras


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("layout", ["s31", "s9"])
def test_round_trip(make_scenario, tmp_path, layout, storage):
    scenario = make_scenario(layout)
    result = convert(scenario, tmp_path / "bag", ConvertConfig(storage=storage), progress=False)
    original = list(ScenarioReader(scenario))
    reader = BagFrameReader(result.bag)
    back = list(reader)
    assert result.frames == len(original) == len(back) == len(reader) == 12
    for a, b in zip(original, back):
        assert_frames_equal(a, b)
    assert reader.skipped_topics == {}
    inv = inventory(result.bag)
    assert inv.storage == storage
    expected = {t.name: (t.msgtype, 12) for t in C.FRAME_TOPICS}
    expected[C.TF_STATIC.name] = (C.TF_STATIC.msgtype, 1)
    if layout == "s31":
        expected[C.BS_GPS.name] = (C.BS_GPS.msgtype, 1)
    assert inv.topics == expected
    assert inv.start_ns == original[0].stamp_ns and inv.last_ns == original[-1].stamp_ns


def test_sequence_boundaries_and_extras_survive(make_scenario, tmp_path):
    result = convert(make_scenario("s31"), tmp_path / "bag", progress=False)
    frames = list(BagFrameReader(result.bag))
    assert [f.seq_index for f in frames] == [1] * 6 + [2] * 6
    assert frames[3].extras["unit2_spd_over_grnd_kmph"] == "36.00"
    assert frames[6].power_nan


def test_bag_reader_modality_subset(make_scenario, tmp_path):
    result = convert(make_scenario("s31"), tmp_path / "bag", progress=False)
    frames = list(BagFrameReader(result.bag, modalities=["power"]))
    assert len(frames) == 12
    assert frames[0].power is not None and frames[0].radar is None and frames[0].image_jpeg is None
    assert frames[0].index == 1 and frames[0].beam is not None


def test_latched_base_station_qos(make_scenario, tmp_path):
    import yaml
    result = convert(make_scenario("s31"), tmp_path / "bag", progress=False)
    meta = yaml.safe_load((result.bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    qos = {t["topic_metadata"]["name"]: t["topic_metadata"]["offered_qos_profiles"]
           for t in meta["topics_with_message_count"]}
    assert "transient_local" in str(qos[C.BS_GPS.name]).lower()
    assert "transient_local" in str(qos[C.TF_STATIC.name]).lower()       # RViz gets it at any time
    assert "best_effort" in str(qos[C.CAMERA.name]).lower()
