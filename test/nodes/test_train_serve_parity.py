"""Train/serve parity: the sample bag through the live nodes and the scenario through the
offline path give the same model input, window for window.

Live: every message of the sample bag, deserialised as a subscriber receives it (the CDR
bytes the player publishes), is handed in bag order to the real node objects: the feature
encoder node (the four modalities, as the launch starts it), the YOLO tracker and the fusion
node.  Each node's publisher is wired straight into the next node's callback (``drop_stale``
off: each model runs in the callback), so the graph runs in lock-step and no DDS timing decides
anything.  The fusion node's window is recorded at every prediction.

Offline: the scenario folder the bag was converted from, through ``load_frame_table``
(batch-encoded features, the tracker run over the scenario) and ``make_windows``.

Every input is compared element for element: exactly, except the encoder features, which
are batch-encoded offline and encoded one frame at a time live (convolutions sum in a
different order: equal to float32 rounding).
"""
import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image, LaserScan, NavSatFix, PointCloud2

from beam_predictor import contract
from beam_predictor.model import checkpoint
from beam_predictor.model.predictor import BeamPredictor
from beam_predictor.nodes.encoder_node import EncoderNode
from beam_predictor.nodes.fusion_node import FusionNode
from beam_predictor.nodes.tracker_node import TrackerNode
from beam_predictor.runtime.replay import iter_messages
from model_helpers import REPO, SAMPLE
from ros_helpers import overrides

BAG = REPO / "rosbags" / "twin_sample"
TYPES = {"sensor_msgs/msg/CompressedImage": CompressedImage, "sensor_msgs/msg/Image": Image,
         "sensor_msgs/msg/PointCloud2": PointCloud2, "sensor_msgs/msg/NavSatFix": NavSatFix,
         "sensor_msgs/msg/LaserScan": LaserScan, "diagnostic_msgs/msg/DiagnosticArray": DiagnosticArray}


def live_windows(ros, cfg, site, tracker, tmp_path) -> dict[int, dict]:
    path = checkpoint.save(tmp_path / "model.pt", BeamPredictor(cfg).eval(),
                           checkpoint.CheckpointMeta(site=site))
    # the synchronizers' wall-clock waits are long: every item of a frame is fed, so a frame completes
    # as soon as its last item arrives, however slowly this machine encodes
    fusion = FusionNode(**overrides(checkpoint=str(path), max_wait=600.0, drop_stale=False))
    # the four encoders in one node, as the launch starts them (encoder_processes: one)
    encoder = EncoderNode(**overrides(modality=",".join(cfg.fusion.modalities), drop_stale=False,
                                      checkpoint=str(REPO / "models" / "encoders")))
    track = TrackerNode(**overrides(weights=tracker.weights, site=str(SAMPLE / "twin_meta.json"),
                                    conf=tracker.conf, imgsz=tracker.imgsz, gap_reset=tracker.gap_reset_s,
                                    max_wait=600.0, annotate=False, drop_stale=False))
    for node in [fusion, track, encoder]:
        ros.add_node(node)
    for m, stage in encoder.stages.items():            # publishers wired into the next callbacks
        stage.pub.publish = lambda msg, m=m: fusion.on_feature(m, msg)
    track.box_pub.publish = fusion.on_box
    track.tracks_pub.publish = lambda msg: None
    windows, predict = {}, fusion.predictor.predict

    def recording_predict(arrays):
        windows[fusion.predictor.window.last_stamp] = arrays
        return predict(arrays)

    fusion.predictor.predict = recording_predict

    def encode(modality):
        return lambda msg: encoder.on_msg(encoder.stages[modality], msg)

    route = {contract.CAMERA.name: [encode("image"), track.on_image],
             contract.RADAR.name: [encode("radar")], contract.LIDAR.name: [encode("lidar")],
             contract.UE_GPS.name: [encode("gps"), track.on_fix, fusion.on_fix]}
    for m in iter_messages(BAG):
        for callback in route.get(m.topic, []):
            callback(deserialize_message(m.raw, TYPES[m.msgtype]))
    return windows


def test_bag_through_the_nodes_gives_the_offline_windows(ros, sample_windows, tmp_path):
    table, cfg, offline, tracker = sample_windows
    live = live_windows(ros, cfg, table.site, tracker, tmp_path)
    assert len(live) >= len(offline) > 0
    for i, stamp in enumerate(offline.stamp):
        assert int(stamp) in live, f"no live window at the offline window's stamp {stamp}"
        arrays = live[int(stamp)]
        for key, value in offline.inputs.items():
            if key == "feats":
                np.testing.assert_allclose(arrays[key][0], value[i], rtol=1e-4, atol=1e-5, err_msg=key)
            else:
                np.testing.assert_array_equal(arrays[key][0], value[i], err_msg=f"{key} at {stamp}")
    # the comparison is not vacuous: boxes were seen and the kinematics are there
    assert offline.inputs["box"][..., 4].any() and not offline.inputs["kin_missing"].any()


def test_camera_reading_model_gets_the_offline_image_and_positions(ros, sample_windows, tmp_path):
    """Paper 002's MLM-BP reads the camera JPEG and the fix itself: the fusion node's image and
    position inputs, fed the bag's messages, equal the offline windows' (images preprocessed in
    batch by the training cache)."""
    from beam_predictor.config import config_path, load_config
    from beam_predictor.model.config import ModelConfig, with_overrides
    from beam_predictor.model.data import load_frame_table, make_windows, select_passes
    from beam_predictor.model.registry import build_model
    table, _, _, _ = sample_windows
    cfg = with_overrides(load_config(ModelConfig, config_path("model_mlm_bp.yaml")),
                         {"task": {"history": 2, "horizon": 1}})
    images = load_frame_table(SAMPLE, REPO / "models" / "encoders", (), None, cache_dir=tmp_path / "cache",
                              progress=False, images=True)
    offline = make_windows(images, cfg, select_passes(images, "all"))
    path = checkpoint.save(tmp_path / "mlm.pt", build_model(cfg).eval(),
                           checkpoint.CheckpointMeta(site=table.site, image_prep=images.image_prep))
    fusion = FusionNode(**overrides(checkpoint=str(path), max_wait=600.0, drop_stale=False))
    ros.add_node(fusion)
    assert fusion.keys == ("fix", "image")
    windows, predict = {}, fusion.predictor.predict

    def recording_predict(arrays):
        windows[fusion.predictor.window.last_stamp] = arrays
        return predict(arrays)

    fusion.predictor.predict = recording_predict
    route = {contract.CAMERA.name: fusion.on_image, contract.UE_GPS.name: fusion.on_fix}
    for m in iter_messages(BAG):
        if m.topic in route:
            route[m.topic](deserialize_message(m.raw, TYPES[m.msgtype]))
    assert len(windows) >= len(offline) > 0
    for i, stamp in enumerate(offline.stamp):
        for key in ("image", "image_missing", "pos", "pos_missing", "pad"):
            np.testing.assert_array_equal(windows[int(stamp)][key][0], offline.inputs[key][i],
                                          err_msg=f"{key} at {stamp}")
    assert not offline.inputs["image_missing"].all() and not offline.inputs["pos_missing"][:, -1].any()
