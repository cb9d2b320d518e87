"""Bag player (in-process): original stamps, /clock, unknown message types skipped, the start
waits for the fusion node to be active, the recorded QoS offered as `ros2 bag play` does."""
import time

from rclpy.lifecycle import LifecycleNode
from rclpy.qos import ReliabilityPolicy

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import LaserScan

from beam_predictor import contract
from beam_predictor.bag.convert import ConvertConfig, convert
from beam_predictor.bag.messages import typestore
from beam_predictor.bag.reader import BagFrameReader
from beam_predictor.nodes.common import stamp_ns
from beam_predictor.nodes.player_node import PlayerNode, message_class
from beam_predictor.runtime.replay import bag_topics
from ros_helpers import overrides, spin_for, spinning


def add_unknown_topic(bag):
    """Append a topic whose type (tf2_msgs, not installable here) the player cannot publish."""
    from rosbags.rosbag2 import Writer
    out = bag.parent / "with_unknown"
    from rosbags.rosbag2 import Reader
    store = typestore()
    with Reader(bag) as reader, Writer(out, version=9) as writer:
        conns = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=store) for c in reader.connections}
        tf = writer.add_connection("/tf", "tf2_msgs/msg/TFMessage", typestore=store)
        raw_tf = store.serialize_cdr(store.types["tf2_msgs/msg/TFMessage"]
                                     (transforms=[]), "tf2_msgs/msg/TFMessage")
        for c, t, raw in reader.messages():
            writer.write(conns[c.id], t, raw)
            writer.write(tf, t, raw_tf)
    return out


def test_player_replays_stamps_and_clock_and_skips_unknown_types(ros, make_scenario, tmp_path):
    bag = tmp_path / "bag"
    convert(make_scenario(), bag, ConvertConfig(), progress=False)
    bag = add_unknown_topic(bag)
    expected = [f.stamp_ns for f in BagFrameReader(bag)]
    probe = Node("probe")
    power, clock = [], []
    probe.create_subscription(LaserScan, contract.POWER.name, power.append, 100)  # reliable: every frame
    probe.create_subscription(Clock, contract.CLOCK.name, clock.append,
                              qos_profile_sensor_data)  # as TimeSource
    player = PlayerNode(**overrides(bag=str(bag), rate=0.0, start_timeout=0.0, wait_for=""))
    # tf2_msgs has no Python package here: /tf_static (written by the converter) and /tf are skipped
    assert sorted(player.skipped) == ["/tf (tf2_msgs/msg/TFMessage)", "/tf_static (tf2_msgs/msg/TFMessage)"]
    ros.add_node(probe)
    spin_for(ros, 1.0)
    with spinning(ros):
        published = player.play()
        time.sleep(3.0)
    player.destroy_node()
    assert published > 0
    # every frame, original stamps, in order
    assert [stamp_ns(m.header) for m in power] == expected
    assert clock and stamp_ns_clock(clock[-1]) == expected[-1]


def stamp_ns_clock(msg: Clock) -> int:
    return msg.clock.sec * 1_000_000_000 + msg.clock.nanosec


def test_player_starts_only_once_the_fusion_node_is_active(ros, make_scenario, tmp_path):
    bag = tmp_path / "bag"
    convert(make_scenario(), bag, ConvertConfig(), progress=False)
    probe = Node("probe")           # subscribes every sensor topic, as the encoders and the tracker do
    for topic, msgtype in bag_topics(bag).items():
        if message_class(msgtype) is not None:
            probe.create_subscription(message_class(msgtype), topic, lambda m: None, qos_profile_sensor_data)
    fusion = LifecycleNode("llm_fusion")
    ros.add_node(probe)
    ros.add_node(fusion)
    with spinning(ros):
        early = PlayerNode(**overrides(bag=str(bag), start_timeout=1.0, offered_qos="recorded"))
        assert not early.wait_for_graph()        # llm_fusion unconfigured: gives up after start_timeout
        # as `ros2 bag play`: the sensor streams offered best effort, as the converter recorded them
        assert early.pubs[contract.CAMERA.name].qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
        early.destroy_node()
        fusion.trigger_configure()
        fusion.trigger_activate()
        player = PlayerNode(**overrides(bag=str(bag), start_timeout=60.0))
        assert player.wait_for_graph()
        assert player.pubs[contract.CAMERA.name].qos_profile.reliability == ReliabilityPolicy.RELIABLE
        player.destroy_node()
