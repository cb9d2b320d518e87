"""Encoder node over DDS (in-process): good frames give features, bad ones the 'missing' flag."""
import io

import numpy as np
import pytest
from PIL import Image as PILImage
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image

from beam_predictor import contract
from beam_predictor.config import PACKAGE_ROOT
from beam_predictor.nodes.common import feature_from_msg, stamp_ns
from beam_predictor.nodes.encoder_node import EncoderNode, parse_modalities
from ros_helpers import overrides, spin_for, spin_until


def jpeg(w=96, h=64) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def test_image_encoder_publishes_features_and_missing_flag(ros):
    ckpt = PACKAGE_ROOT.parent / "models" / "encoders" / "encoder_image.pt"
    node = EncoderNode(**overrides(modality="image", checkpoint=str(ckpt)))
    probe = Node("probe")
    got = []
    probe.create_subscription(Image, contract.feature_topic(
        "image").name, got.append, qos_profile_sensor_data)
    # a reliable publisher feeds the node's best-effort subscription (the usual bag-player case)
    pub = probe.create_publisher(CompressedImage, contract.CAMERA.name,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    ros.add_node(node)
    ros.add_node(probe)
    spin_for(ros, 1.0)
    for i, data in enumerate([jpeg(), b"\xff\xd8 not a jpeg", jpeg()]):
        msg = CompressedImage(format="jpeg", data=data)
        msg.header.stamp.sec = 100 + i
        pub.publish(msg)
        spin_until(ros, lambda: len(got) > i, 5.0)
    assert [stamp_ns(m.header) // 1_000_000_000 for m in got] == [100, 101, 102]
    feats = [feature_from_msg(m) for m in got]
    assert feats[0].shape == (64,) and feats[1] is None and feats[2].shape == (64,)
    counts = node.stages["image"].counts
    assert counts == {"frames": 3, "missing": 1, "ms_total": counts["ms_total"]}


def test_a_namespace_moves_the_node_and_its_sensor_qos_is_a_parameter(ros):
    """Topic names are relative: in namespace car1 the encoder reads /car1/bs/camera/... and writes
    /car1/bp/features/...; the sensor subscription's QoS is overridable (read-only parameters)."""
    ckpt = PACKAGE_ROOT.parent / "models" / "encoders" / "encoder_image.pt"
    qos_key = "qos_overrides./car1/bs/camera/image/compressed.subscription.reliability"
    node = EncoderNode(namespace="car1",
                       **overrides(modality="image", checkpoint=str(ckpt), **{qos_key: "reliable"}))
    assert node.get_parameter(qos_key).value == "reliable"
    probe = Node("probe")
    got = []
    probe.create_subscription(Image, "/car1" + contract.feature_topic("image").name, got.append,
                              qos_profile_sensor_data)
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub = probe.create_publisher(CompressedImage, "/car1" + contract.CAMERA.name, reliable)
    elsewhere = probe.create_publisher(CompressedImage, contract.CAMERA.name, reliable)
    ros.add_node(node)
    ros.add_node(probe)
    spin_for(ros, 1.0)
    assert pub.get_subscription_count() == 1 and elsewhere.get_subscription_count() == 0
    msg = CompressedImage(format="jpeg", data=jpeg())
    msg.header.stamp.sec = 7
    pub.publish(msg)
    assert spin_until(ros, lambda: len(got) == 1, 5.0)
    assert stamp_ns(got[0].header) == 7_000_000_000


def test_one_node_encodes_several_modalities_and_refuses_a_bad_list(ros):
    folder = PACKAGE_ROOT.parent / "models" / "encoders"
    node = EncoderNode(**overrides(modality="gps,lidar", checkpoint=str(folder)))
    try:
        assert set(node.stages) == {"gps", "lidar"}
        assert node.count_publishers("/bp/features/gps") == node.count_publishers("/bp/features/lidar") == 1
        assert all(s.pending is not None for s in node.stages.values())    # a worker thread each
    finally:
        node.stop_workers()
        node.destroy_node()
    assert parse_modalities(" image, radar ") == ("image", "radar")
    for bad in ("", "image,image", "image,sonar"):
        with pytest.raises(ValueError, match="parameter modality"):
            parse_modalities(bad)
    with pytest.raises(ValueError, match="one file, for one modality"):
        EncoderNode(**overrides(modality="image,gps", checkpoint=str(folder / "encoder_image.pt")))
