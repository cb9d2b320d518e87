"""Live LLM-PASS pieces without ROS: the command layout, the links in the frame info, the beamformer's
sum-rate scoring, the checkpoint the llm_pass node loads, and the graph that starts it."""
import numpy as np
import pytest

from beam_predictor.bag.messages import PASS_LINKS_KEY, PASS_PAS_KEY, decode_array, encode_array
from beam_predictor.config import ConfigError
from beam_predictor.model.pass_config import PassLinkConfig
from beam_predictor.physics import pass_system as ps
from beam_predictor.runtime.pass_loop import PassLoop, UserOrder, command_names, parse_command

NOISE_W = ps.noise_power_w(100e6, 7.0)


def _links(seed=0, grid=(4, 8), users=3, guides=4, k=6) -> np.ndarray:
    """(G, U, N, K) links of LoS-like strength: each user strong on its own waveguide's codewords."""
    rng = np.random.default_rng(seed)
    h = (rng.normal(size=(len(grid), users, guides, k)) + 1j * rng.normal(size=(len(grid), users, guides, k)))
    h *= 1e-5
    for u in range(users):
        h[:, u, u] *= 10.0
    return h.astype(np.complex64)


def _orders(codewords, pas=4):
    share = 1 / len(codewords)
    return [UserOrder(unit=2 + u, track_id=10 + u, waveguide=u, codeword=int(c), power_share=share,
                      fallback=u == 1, positions_m=tuple(0.5 * np.arange(pas) + u))
            for u, c in enumerate(codewords)]


def test_links_travel_as_text_and_bad_text_is_an_error():
    a = _links()
    back = decode_array(encode_array(a))
    np.testing.assert_array_equal(back, a)
    assert back.shape == (2, 3, 4, 6)
    with pytest.raises(ValueError, match="shape"):
        decode_array("2x3:" + encode_array(a).split(":")[1])
    with pytest.raises(ValueError, match="not an encoded array"):
        decode_array("2x3:%%%")


def test_the_command_layout_round_trips_and_names_a_missing_joint():
    orders = _orders([1, 2, 3])
    names, values = command_names(orders)
    assert names[:6] == ["user1_unit", "user1_track_id", "user1_waveguide", "user1_codeword",
                         "user1_power_share", "user1_fallback"] and "user3_pa_4" in names
    assert parse_command(names, values) == orders
    with pytest.raises(ValueError, match="user2_codeword"):
        parse_command([n for n in names if n != "user2_codeword"],
                      [v for n, v in zip(names, values) if n != "user2_codeword"])


def test_the_beamformer_scores_the_command_against_the_label_with_the_same_physics():
    link_cfg = PassLinkConfig(top_k=3)
    loop = PassLoop(link_cfg, NOISE_W, match_window_s=5.0)
    links = _links()
    info = {PASS_LINKS_KEY: encode_array(links), PASS_PAS_KEY: "4 8", "seq_index": "1"}
    power = float(ps.dbm_to_w(link_cfg.tx_power_dbm))
    label, label_rate = ps.best_combination(links[0], 3, power, NOISE_W)
    # the label itself: the command's sum rate is the label's, and every user is scored
    assert loop.frame(100, info, 0.0) == []                       # no command yet
    got = loop.command(100, _orders(label), 0.1)
    assert [s.codeword for s in got] == [s.label for s in got] == label.tolist()
    assert got[0].sum_rate == pytest.approx(label_rate, rel=1e-5)
    assert sum(s.power_share for s in got) == pytest.approx(1.0)
    assert sum(s.rate for s in got) == pytest.approx(got[0].sum_rate)
    # another command on a second frame (arriving before its frame): lower or equal, and scored at 8 PAs
    worse = (label + 1) % links.shape[-1]
    assert loop.command(200, _orders(worse, pas=8), 0.2) == []
    got = loop.frame(200, info, 0.3)
    H = ps.select(links[1], worse)
    assert got[0].sum_rate == pytest.approx(float(ps.sum_rate(H, power, NOISE_W)), rel=1e-5)
    s = loop.summary()
    assert s["frames"] == 2 and s["users"] == 3 and s["fallback"] == pytest.approx(1 / 3)
    # a frame without links is counted, never scored; a PA count the links do not hold is an error
    loop.command(300, _orders(label), 0.4)
    assert loop.frame(300, {"seq_index": "1"}, 0.5) == [] and loop.summary()["frames_without_links"] == 1
    loop.command(400, _orders(label, pas=16), 0.6)
    with pytest.raises(ValueError, match="16 PAs"):
        loop.frame(400, info, 0.7)


@pytest.mark.parametrize("experts", [1, 3])
def test_a_pass_checkpoint_serves_what_was_saved(tmp_path, experts):
    """Save, load, same probabilities (with LoRA, or a mixture of LoRA experts); the predictor's checkpoint
    is refused by format."""
    import torch

    from beam_predictor.model.checkpoint import _read
    from beam_predictor.model.errors import CheckpointError
    from beam_predictor.model.pass_checkpoint import PassBundle, load_pass, read_pass_config, save_pass
    from beam_predictor.model.pass_config import PassConfig, PassNetConfig
    from beam_predictor.model.pass_net import PassNet
    from beam_predictor.model.pass_train import predict
    from beam_predictor.twin.config import PinchingConfig
    from beam_predictor.window import BOX_CHANNELS, KIN_CHANNELS, POSITION_CHANNELS
    cfg = PassConfig(users=2, net=PassNetConfig(history=4, patch_len=2, stride=2, token_dim=16,
                                                lora_experts=experts))
    torch.manual_seed(0)
    model = PassNet(cfg, 6)
    model.add_lora()
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
    rng = np.random.default_rng(0)
    n, u, h = 5, 2, 4
    x = {"box": rng.random((n, u, h, BOX_CHANNELS)).astype(np.float32), "pad": np.zeros((n, u, h), bool),
         "pos": rng.normal(size=(n, u, h, POSITION_CHANNELS)).astype(np.float32),
         "pos_missing": np.zeros((n, u, h), bool),
         "kin": rng.normal(size=(n, u, KIN_CHANNELS)).astype(np.float32),
         "kin_missing": np.zeros((n, u), bool), "prior": rng.normal(size=(n, u, 6)).astype(np.float32),
         "tracked": np.ones((n, u), bool)}
    x["box"][..., 4] = 1.0
    array = {"frequency_hz": 60e9, "position": [0.0, 0.0, 5.0]}
    path = save_pass(tmp_path / "pass.pt", PassBundle(model, cfg, PinchingConfig(), array, np.array([1, 2])))
    back = load_pass(path)
    assert back.model.lora and back.cfg == cfg and back.fixed.tolist() == [1, 2] and back.array == array
    np.testing.assert_allclose(predict(back.model, x), predict(model.eval(), x), rtol=1e-5, atol=1e-6)
    assert read_pass_config(path).users == 2 and "2 user(s)" in back.description
    assert path.stat().st_size < 2_000_000                   # the frozen LLM is not stored
    blob = _read(path, "llm_pass/1")
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {k for k in blob["state"] if k.startswith("backbone.llm.")} <= trained     # no frozen LLM weight
    from beam_predictor.config import PACKAGE_ROOT
    with pytest.raises(CheckpointError, match="format 2"):
        load_pass(PACKAGE_ROOT.parent / "models" / "m2beamllm.pt")


def test_the_graph_starts_llm_pass_for_system_pass_and_both(tmp_path):
    from beam_predictor.runtime.graph import build_graph
    from beam_predictor.config import PACKAGE_ROOT
    shipped = PACKAGE_ROOT.parent / "models" / "llm_pass.pt"
    if not shipped.is_file():
        pytest.fail(f"{shipped} is missing: `make pass-model` trains it")
    specs = {s.name: s for s in build_graph({"bag": "rosbags/x", "system": "pass", "lockstep": "true"})}
    assert "llm_pass" in specs and "llm_fusion" not in specs
    assert not any(n.startswith("encoder") for n in specs)
    users = specs["yolo_tracker"].parameters["users"]
    assert users == 3 and specs["llm_pass"].lifecycle
    player = specs["bag_player"].parameters
    assert player["acks_per_frame"] == 1 and player["wait_for"] == "llm_pass"
    waits = dict(item.split(":") for item in player["wait_topics"].split(","))
    assert waits["/ue3/gps/fix"] == waits["/ue4/gps/fix"] == "2" and waits["/ue/gps/fix"] == "2"
    both = {s.name: s for s in build_graph({"bag": "rosbags/x", "system": "both"})}
    assert {"llm_pass", "llm_fusion", "encoders"} <= set(both)
    assert both["bag_player"].parameters["acks_per_frame"] == 2
    beam = {s.name: s for s in build_graph({"bag": "rosbags/x"})}
    assert "llm_pass" not in beam and beam["yolo_tracker"].parameters["users"] == 1
    with pytest.raises(ConfigError, match="system"):
        build_graph({"system": "mimo"})
