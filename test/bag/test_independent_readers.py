"""What the converter writes is read the same by readers that share no code with it."""
import sqlite3
from collections import Counter

import numpy as np

from beam_predictor import contract as C
from beam_predictor.bag.convert import ConvertConfig, convert
from beam_predictor.deepsense.reader import ScenarioReader


def test_mcap_package_reads_the_bag(make_scenario, tmp_path):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    scenario = make_scenario("s31")
    result = convert(scenario, tmp_path / "bag", progress=False)
    original = {f.stamp_ns: f for f in ScenarioReader(scenario)}
    (mcap_file,) = result.bag.glob("*.mcap")
    counts: Counter = Counter()
    with open(mcap_file, "rb") as fh:
        for schema, channel, message, msg in make_reader(
                fh, decoder_factories=[DecoderFactory()]).iter_decoded_messages():
            counts[(channel.topic, schema.name)] += 1
            if channel.topic == C.TF_STATIC.name:
                tf_static = msg
                continue
            stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            assert message.log_time == stamp
            if channel.topic == C.CAMERA.name:
                assert bytes(msg.data) == original[stamp].image_jpeg
            elif channel.topic == C.RADAR.name:
                cube = np.frombuffer(bytes(msg.data), np.complex64).reshape(4, 256, msg.width)
                np.testing.assert_array_equal(cube, original[stamp].radar)
            elif channel.topic == C.POWER.name:
                np.testing.assert_array_equal(np.asarray(msg.intensities, np.float32), original[stamp].power)
    expected = {(t.name, t.msgtype): 12 for t in C.FRAME_TOPICS}
    expected[(C.BS_GPS.name, C.BS_GPS.msgtype)] = 1
    expected[(C.TF_STATIC.name, C.TF_STATIC.msgtype)] = 1
    assert dict(counts) == expected
    # the sensor frames' transforms: the camera's optical axis (z) looks along the street (x), 18 deg down
    frames = {t.child_frame_id: t for t in tf_static.transforms}
    assert set(frames) == set(C.STATIC_TRANSFORMS)
    assert all(t.header.frame_id == C.FRAME_BASE_STATION for t in frames.values())
    q = frames[C.FRAME_CAMERA].transform.rotation
    w, v = q.w, np.array([q.x, q.y, q.z])
    axis = np.array([0.0, 0.0, 1.0])
    axis = axis + 2 * w * np.cross(v, axis) + 2 * np.cross(v, np.cross(v, axis))   # quaternion rotation
    np.testing.assert_allclose(axis, [np.cos(np.radians(18)), 0, -np.sin(np.radians(18))], atol=1e-3)


def test_sqlite_tables_match(make_scenario, tmp_path):
    result = convert(make_scenario("s9"), tmp_path / "bag", ConvertConfig(storage="sqlite3"), progress=False)
    (db,) = result.bag.glob("*.db3")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT t.name, t.type, COUNT(m.id) FROM topics t "
                       "JOIN messages m ON m.topic_id = t.id GROUP BY t.id").fetchall()
    con.close()
    assert sorted(rows) == sorted([(t.name, t.msgtype, 12) for t in C.FRAME_TOPICS]
                                  + [(C.TF_STATIC.name, C.TF_STATIC.msgtype, 1)])
