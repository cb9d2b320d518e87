"""Damaged bags: a flipped chunk or a cut-short file is refused by the reader, never read as data,
and `bag-repair` recovers every complete message of every intact chunk; a lost metadata.yaml is
rebuilt from the .mcap."""
import shutil

import numpy as np
import pytest

from beam_predictor.bag import integrity
from beam_predictor.bag.convert import convert
from beam_predictor.bag.reader import BagError, BagFrameReader, inventory
from beam_predictor.cli import main


@pytest.fixture
def bag(make_scenario, tmp_path):
    """A converted tiny bag, resealed with small chunks so damage hits one frame, not all."""
    result = convert(make_scenario("s31"), tmp_path / "bag", progress=False)
    mcap = next(result.bag.glob("*.mcap"))
    integrity.seal(mcap, chunk_size=4096)
    return result.bag


def frames(path):
    return {f.stamp_ns: f for f in BagFrameReader(path)}


def test_the_converter_seals_every_chunk(make_scenario, tmp_path):
    result = convert(make_scenario("s31"), tmp_path / "bag", progress=False)
    scan = integrity.scan(next(result.bag.glob("*.mcap")))
    assert not scan.damaged and scan.chunks > 0 and scan.unsealed_chunks == 0
    assert scan.messages == result.messages


def test_a_flipped_chunk_is_refused_and_repair_leaves_it_out(bag, tmp_path):
    good = frames(bag)
    mcap = next(bag.glob("*.mcap"))
    full = integrity.scan(mcap)
    data = bytearray(mcap.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    mcap.write_bytes(bytes(data))
    with pytest.raises(BagError, match="fail their CRC.*bag-repair"):
        BagFrameReader(bag)
    assert main(["bag-repair", str(bag), str(tmp_path / "fixed")]) == 0
    fixed = frames(tmp_path / "fixed")
    scan = integrity.scan(mcap)
    assert len(scan.corrupt) == 1 and 0 < scan.messages < full.messages
    assert 0 < len(fixed) <= len(good)
    for stamp, f in fixed.items():                  # what comes back is the original data, bit for bit
        g = good[stamp]
        for name in ("radar", "lidar", "power"):
            a, b = getattr(f, name), getattr(g, name)
            assert (a is None) or np.array_equal(a, b, equal_nan=True), (stamp, name)
        assert f.image_jpeg is None or f.image_jpeg == g.image_jpeg


@pytest.mark.parametrize("keep", [0.9, 0.5])
def test_a_cut_short_bag_is_refused_and_repair_recovers_the_complete_messages(bag, tmp_path, keep, capsys):
    good = frames(bag)
    full = integrity.scan(next(bag.glob("*.mcap")))
    mcap = next(bag.glob("*.mcap"))
    data = mcap.read_bytes()
    mcap.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(BagError, match="cut short"):
        BagFrameReader(bag)
    assert main(["bag-repair", str(bag), str(tmp_path / "fixed")]) == 0
    out = capsys.readouterr().out
    scan = integrity.scan(mcap)
    assert scan.truncated and 0 < scan.messages < full.messages
    lost = full.messages - scan.messages
    assert f"{lost} of the {full.messages} messages metadata.yaml lists are lost" in out
    fixed = frames(tmp_path / "fixed")
    assert sum(n for _, (_, n) in inventory(tmp_path / "fixed").topics.items()) == scan.messages
    stamps = sorted(good)
    assert sorted(fixed) == stamps[:len(fixed)]      # a prefix of the recording, nothing invented
    for stamp, f in fixed.items():
        assert f.radar is None or np.array_equal(f.radar, good[stamp].radar)


def test_a_lost_metadata_file_is_rebuilt_from_the_mcap(bag, tmp_path):
    before = inventory(bag)
    good = frames(bag)
    (bag / "metadata.yaml").unlink()
    with pytest.raises(BagError, match="no metadata.yaml.*bag-repair"):
        inventory(bag)
    assert main(["bag-repair", str(bag), str(tmp_path / "fixed")]) == 0
    after = inventory(tmp_path / "fixed")
    assert after.topics == before.topics and after.start_ns == before.start_ns
    assert sorted(frames(tmp_path / "fixed")) == sorted(good)


def test_a_folder_without_a_bag_and_a_repair_target_that_exists(tmp_path, bag):
    with pytest.raises(BagError, match="not a rosbag2 folder"):
        inventory(tmp_path)
    with pytest.raises(integrity.IntegrityError, match="exists"):
        integrity.repair(bag, bag)
    shutil.rmtree(bag)
    bag.mkdir()
    with pytest.raises(integrity.IntegrityError, match="one .mcap file"):
        integrity.repair(bag, tmp_path / "x")


def test_sqlite_without_its_database_an_empty_bag_and_a_wrong_type(make_scenario, tmp_path):
    from rosbags.rosbag2 import StoragePlugin, Writer

    from beam_predictor.bag.convert import ConvertConfig
    from beam_predictor.bag.messages import typestore
    result = convert(make_scenario("s31"), tmp_path / "sq", ConvertConfig(storage="sqlite3"), progress=False)
    for f in result.bag.glob("*.db3"):
        f.unlink()
    with pytest.raises(BagError, match=r"database files are missing.*sq\.db3"):
        BagFrameReader(result.bag)
    for name, msgtype in (("empty", "sensor_msgs/msg/LaserScan"), ("wrong", "std_msgs/msg/String")):
        with Writer(tmp_path / name, version=9, storage_plugin=StoragePlugin.MCAP) as w:
            w.add_connection("/bs/mmwave/power", msgtype, typestore=typestore())
    # a topic listed without messages: no frame, no error; its count says why
    assert inventory(tmp_path / "empty").topics == {"/bs/mmwave/power": ("sensor_msgs/msg/LaserScan", 0)}
    assert list(BagFrameReader(tmp_path / "empty")) == []
    with pytest.raises(BagError, match="/bs/mmwave/power has type std_msgs/msg/String, the contract says"):
        BagFrameReader(tmp_path / "wrong")
