"""Integration (paper 003): a multi-user twin's bag through tracker -> llm_pass -> beamformer, lock-step.

The graph runs as separate processes over DDS (loopback), started by the same graph description as
`ros2 launch beam_predictor v2i.launch.py system:=pass`.  The replay is lock-step (the player waits for
the llm_pass node's acknowledgement of each frame), so the test checks correctness however busy the
machine is:

* every replayed frame gets one PASS command, matched by stamp;
* every user's codeword and fallback flag is what the offline pipeline serves on the same frames (the
  tracker's per-user boxes, the window, the codebook prior, the network, the serving rule): the live
  tracker's /bp/user_boxes equal the offline box series;
* the beamformer's live sum rate and its label are the offline physics on the bag's links.

The checkpoint is an untrained network with a random head (so the boxes change its choices), saved
and loaded as `beam-predictor pass --save` writes one.  Bounded: one replay of the three passes.
"""
import csv
import json
import os

import numpy as np
import torch

from beam_predictor.bag.convert import convert
from beam_predictor.config import from_mapping
from beam_predictor.model.config import BackboneConfig
from beam_predictor.model.pass_checkpoint import PassBundle, save_pass
from beam_predictor.model.pass_config import PassConfig, PassNetConfig
from beam_predictor.model.pass_data import labels, load_pass_set
from beam_predictor.model.pass_eval import fixed_codewords, serve
from beam_predictor.model.pass_net import PassNet
from beam_predictor.model.pass_train import predict
from beam_predictor.physics import pass_system as ps
from beam_predictor.runtime.config import tracker_settings
from beam_predictor.runtime.graph import build_graph, with_parameters
from beam_predictor.runtime.runner import GraphRunner, ros_env
from beam_predictor.twin.config import PinchingConfig
from beam_predictor.twin.generate import generate
from twin_helpers import MULTIUSER

CFG = PassConfig(users=3, net=PassNetConfig(history=4, patch_len=2, stride=2, token_dim=16,
                                            backbone=BackboneConfig(kind="minilm", unfreeze_last=0)))


def test_multi_user_bag_through_the_graph_serves_what_offline_serves(tmp_path):
    scene, bag = tmp_path / "scene", tmp_path / "bag"
    generate(scene, MULTIUSER, progress=False)
    convert(scene, bag, progress=False)
    data = load_pass_set(scene, CFG, tracker_settings(), tmp_path / "cache", progress=False)
    torch.manual_seed(0)
    model = PassNet(CFG, data.links.shape[-1])
    with torch.no_grad():
        model.head[-1].weight.normal_(0.0, 0.5)          # the boxes and the LLM now sway the choice
    link = data.links[data.grid(CFG.num_pas)]
    fixed = fixed_codewords(link)
    meta = json.loads((scene / "twin_meta.json").read_text())["config"]
    pin = from_mapping(PinchingConfig, meta["pinching"])
    bundle = PassBundle(model, CFG, pin, meta["array"], fixed, data.site)
    checkpoint = save_pass(tmp_path / "llm_pass.pt", bundle)
    probs = predict(model.eval(), data.inputs)
    offline, fallback = serve(probs.argmax(-1), data.inputs["tracked"], data.geometry, fixed)
    assert 0 < fallback.mean() < 1 and len(np.unique(offline)) > 3

    specs = build_graph({"bag": str(bag), "rate": "1.0", "lockstep": "true", "system": "pass",
                         "pass_checkpoint": str(checkpoint), "site": str(scene / "twin_meta.json")})
    assert {s.name for s in specs} >= {"bag_player", "yolo_tracker", "llm_pass", "beamformer"}
    specs = with_parameters(specs, {"beamformer": {"report": str(tmp_path / "report")}})
    domain = int(os.environ.get("ROS_DOMAIN_ID", "1")) % 100 + 131
    runner = GraphRunner(specs, tmp_path / "logs", env=ros_env(domain_id=domain))
    codes = runner.run(ready_timeout=240, duration=600)
    assert codes["bag_player"] == 0, runner.tail("bag_player")
    assert "0 acknowledgement timeouts" in runner.tail("bag_player"), runner.tail("bag_player")
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())["pass"]
    frames = len(data.index)
    assert summary["frames"] == summary["commands_scored"] == summary["frames_measured"] == frames, \
        (summary, runner.tail("llm_pass"))
    assert summary["commands_unmatched"] == 0 and summary["users"] == 3, summary
    rows = list(csv.DictReader((tmp_path / "report" / "pass.csv").open()))
    assert len(rows) == 3 * frames
    live = np.array([int(r["codeword"]) for r in rows]).reshape(frames, 3)
    live_fallback = np.array([r["fallback"] == "True" for r in rows]).reshape(frames, 3)
    np.testing.assert_array_equal(live, offline)
    np.testing.assert_array_equal(live_fallback, fallback)
    # the beamformer's scoring is the offline physics: the label search and the MMSE sum rate
    label = np.array([int(r["label"]) for r in rows]).reshape(frames, 3)
    np.testing.assert_array_equal(label, labels(data, CFG))
    power = float(ps.dbm_to_w(CFG.link.tx_power_dbm))
    rates = ps.sum_rate(ps.select(link, offline), np.full(frames, power), data.noise_w)
    np.testing.assert_allclose([float(r["sum_rate"]) for r in rows[::3]], rates, rtol=1e-4)
    # keyed by track id: a user with a box in this frame names its track, one without names none
    tracks = np.array([int(r["track_id"]) for r in rows]).reshape(frames, 3)
    visible_now = data.inputs["box"][:, :, -1, 4] > 0
    assert (tracks[~visible_now] == -1).all() and (tracks[visible_now] >= 0).mean() > 0.9
    # equal MMSE power split (eq. 14); a user whose commanded PAs are all blocked gets none (not served)
    shares = np.array([float(r["power_share"]) for r in rows])
    assert np.allclose(shares[shares > 0], 1 / 3) and (shares > 0).mean() > 0.8
    assert (tmp_path / "report" / "pass.png").is_file()


def test_user_boxes_round_trip_and_a_foreign_layout_is_named():
    """/bp/user_boxes: every user's normalised box (float32) and track id; an untracked user has none."""
    from std_msgs.msg import Header

    from beam_predictor.nodes.common import float_cloud, user_boxes_from_msg, user_boxes_msg
    from beam_predictor.sensing.tracker import LOST, UEBox
    found = {2: UEBox(160.0, 90.0, 32.0, 18.0, 0.9, 7, False), 3: LOST, 4: None}
    back = user_boxes_from_msg(user_boxes_msg(Header(), found, 320, 180))
    assert back[2][0] == 7 and back[2][1].dtype == np.float32
    np.testing.assert_allclose(back[2][1], [0.45, 0.45, 0.55, 0.55], rtol=1e-6)
    assert back[3] == (-1, None) and back[4] == (-1, None)
    assert user_boxes_from_msg(user_boxes_msg(Header(), found, 0, 0))[2] == (-1, None)   # undecodable frame
    import pytest
    with pytest.raises(ValueError, match="expected"):
        user_boxes_from_msg(float_cloud(Header(), ("u_min", "v_min"), np.zeros((1, 2))))
