"""A conversion either writes a complete bag or leaves nothing; bad bags fail with their name."""
import pytest

from beam_predictor.bag.convert import ConvertConfig, convert
from beam_predictor.bag.reader import BagError, BagFrameReader
from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.deepsense.reader import ReaderConfig


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_failure_leaves_no_bag(make_scenario, tmp_path):
    scenario = make_scenario("s31")
    (scenario / "unit1" / "lidar_data" / "lidar_8.ply").write_text("ply\nnonsense")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DeepSenseError) as info:
        convert(scenario, out / "bag", progress=False)
    assert info.value.row == 8 and info.value.field == "unit1_lidar"
    assert _leftovers(out) == []


def test_skip_bad_writes_good_rows(make_scenario, tmp_path):
    scenario = make_scenario("s31")
    (scenario / "unit1" / "mmWave_data" / "mmWave_power_2.txt").write_text("0.1\n" * 5)
    cfg = ConvertConfig(reader=ReaderConfig(skip_bad=True))
    result = convert(scenario, tmp_path / "bag", cfg, progress=False)
    assert result.frames == 11 and [r for r, _ in result.report.bad_rows] == [2]
    assert [f.index for f in BagFrameReader(result.bag)][:3] == [1, 3, 4]


def test_existing_bag_is_kept_unless_overwrite(make_scenario, tmp_path):
    scenario = make_scenario("s9")
    first = convert(scenario, tmp_path / "bag", progress=False)
    with pytest.raises(FileExistsError):
        convert(scenario, tmp_path / "bag", progress=False)
    (scenario / "unit1" / "camera_data" / "image_1.jpg").unlink()
    with pytest.raises(DeepSenseError):
        convert(scenario, tmp_path / "bag", overwrite=True, progress=False)
    assert len(list(BagFrameReader(first.bag))) == 12        # the good bag survived the failed rewrite


def test_not_a_bag_and_corrupt_bag(make_scenario, tmp_path):
    with pytest.raises(BagError, match="no metadata.yaml"):
        BagFrameReader(tmp_path)
    result = convert(make_scenario("s31"), tmp_path / "bag", progress=False)
    (mcap,) = result.bag.glob("*.mcap")
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) // 2])
    with pytest.raises(BagError, match=str(result.bag)):
        list(BagFrameReader(result.bag))


def test_unknown_storage():
    with pytest.raises(ValueError, match="unknown storage"):
        convert("x", "y", ConvertConfig(storage="rosbag1"))


def _bag_with_extra_topic(tmp_path, topic, msgtype, msg=None, msgdef=None):
    from rosbags.rosbag2 import Writer

    from beam_predictor.bag.messages import typestore
    store = typestore()
    path = tmp_path / "foreign"
    with Writer(path, version=9) as writer:
        if msgdef is None:
            conn = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(conn, 1, store.serialize_cdr(msg, msgtype))
        else:
            conn = writer.add_connection(topic, msgtype, msgdef=msgdef, rihs01="RIHS01_" + "0" * 64)
            writer.write(conn, 1, b"\x00\x01\x00\x00\x07\x00\x00\x00")
    return path


def test_unknown_topics_are_skipped_and_listed(tmp_path):
    from beam_predictor.bag.messages import typestore
    string = typestore().types["std_msgs/msg/String"](data="hello")
    path = _bag_with_extra_topic(tmp_path, "/chatter", "std_msgs/msg/String", string)
    reader = BagFrameReader(path)
    assert list(reader) == [] and reader.skipped_topics == {"/chatter": "std_msgs/msg/String"}


def test_unknown_message_type_is_skipped(tmp_path):
    path = _bag_with_extra_topic(tmp_path, "/vendor/status", "vendor_msgs/msg/Status",
                                 msgdef="uint32 code\n")
    reader = BagFrameReader(path)
    assert list(reader) == [] and reader.skipped_topics == {"/vendor/status": "vendor_msgs/msg/Status"}


def test_contract_topic_with_wrong_type(tmp_path):
    from beam_predictor import contract as C
    from beam_predictor.bag.messages import typestore
    string = typestore().types["std_msgs/msg/String"](data="not an image")
    path = _bag_with_extra_topic(tmp_path, C.CAMERA.name, "std_msgs/msg/String", string)
    with pytest.raises(BagError, match=f"topic {C.CAMERA.name} has type std_msgs/msg/String"):
        BagFrameReader(path)
