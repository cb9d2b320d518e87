"""Paper 003 (LLM-PASS): inputs from the tracker and GPS only, labels from the links, the whole run."""
import csv
import shutil
from dataclasses import replace

import numpy as np
import pytest

from beam_predictor.config import ConfigError
from beam_predictor.model.config import BackboneConfig
from beam_predictor.model.pass_config import PassConfig, PassNetConfig, PassTrainConfig
from beam_predictor.model.pass_data import labels, load_pass_set
from beam_predictor.model.pass_eval import fixed_codewords, serve, spread_codewords
from beam_predictor.model.pass_train import dwa_weights, run_pass
from beam_predictor.physics import pass_system as ps
from beam_predictor.runtime.config import tracker_settings
from beam_predictor.twin.config import PinchingConfig, TrafficConfig
from beam_predictor.twin.generate import generate
from beam_predictor.window import FrameInput, HistoryWindow, UsersWindow, WindowSpec
from twin_helpers import MULTIUSER

TWIN = MULTIUSER
CFG = PassConfig(users=3, net=PassNetConfig(history=4, patch_len=2, stride=2, token_dim=16,
                                            backbone=BackboneConfig(kind="minilm", unfreeze_last=0)),
                 train=PassTrainConfig(adapter_epochs=1, lora_epochs=1, batch_size=16))
GROUND_TRUTH = ("ue_x", "ue_y", "ue_bbox", "los", "pass_codeword", "unit3_x", "unit3_y", "unit3_bbox",
                "unit4_x",
                "unit4_y", "unit4_bbox")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("pass") / "scenario"
    generate(out, TWIN, progress=False)
    return out


@pytest.fixture(scope="module")
def data(scene, tmp_path_factory):
    return load_pass_set(scene, CFG, tracker_settings(), tmp_path_factory.mktemp("cache"), progress=False)


def test_inputs_come_from_the_tracker_and_gps_never_the_truth(scene, data, tmp_path):
    assert data.links.shape[:3] == (2, len(data.index), 3) and data.inputs["box"].shape[1:] == (3, 4, 5)
    assert data.inputs["tracked"].any()                                   # the tracker found users
    # scrambling every ground-truth column changes no input
    copy = tmp_path / "scrambled"
    shutil.copytree(scene, copy)
    rows = list(csv.DictReader((copy / "scenario.csv").open()))
    rng = np.random.default_rng(0)
    for r in rows:
        for c in GROUND_TRUTH:
            r[c] = f"{rng.uniform(-50, 50):.3f}" if not c.endswith("bbox") else "1 2 3 4"
    with (copy / "scenario.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    other = load_pass_set(copy, CFG, tracker_settings(), tmp_path / "cache2", progress=False)
    for k, v in data.inputs.items():
        np.testing.assert_array_equal(v, other.inputs[k], err_msg=k)
    np.testing.assert_array_equal(data.geometry, other.geometry)


def test_labels_are_the_top_k_search_and_the_single_user_best(data):
    y = labels(data, CFG)
    link = data.links[0]
    f = len(y) // 2
    power = float(ps.dbm_to_w(CFG.link.tx_power_dbm))
    combo, _ = ps.best_combination(link[f], CFG.link.top_k, power, data.noise_w)
    np.testing.assert_array_equal(y[f], combo)
    single = labels(data, replace(CFG, users=1))
    np.testing.assert_array_equal(single[:, 0], np.abs(link[:, 0, 0]).argmax(-1))
    with pytest.raises(ConfigError, match="num_pas 16"):
        data.grid(16)
    # each PA count has its own prior: the same focus points, sharper with more PAs
    four, eight = data.priors[4], data.priors[8]
    np.testing.assert_array_equal(data.for_pas(8).inputs["prior"], eight)
    seen = np.abs(four).sum(-1) > 0
    np.testing.assert_array_equal(four.argmax(-1)[seen], eight.argmax(-1)[seen])
    assert eight[seen].mean() < four[seen].mean()


def test_the_whole_run_scores_every_method_on_the_same_frames(data):
    result, model = run_pass(data, CFG, progress=False)
    assert model.lora == (result["kept"]["stage"] == "lora") and result["backbone"].startswith("MiniLM")
    assert [h["stage"] for h in result["history"]] == ["prior", "adapters", "lora"]
    assert 0 <= result["fallback"] <= 1 and result["top1"]["oracle"] == 1.0
    row = result["sum_rate_curve"][0]
    for name in ("llm", "llm_probe", "conventional", "conventional_all", "geometry", "fixed", "massive_mimo",
                 "oracle"):
        assert row[name] >= 0 and 0 <= row[f"{name}_served"] <= 1
    rates = [r["oracle"] for r in result["sum_rate_curve"]]
    assert rates == sorted(rates)                            # more power never lowers the label's rate
    assert set(result["min_power"]) == {"llm", "llm_probe", "conventional", "conventional_all", "geometry",
                                        "fixed", "massive_mimo", "oracle"}
    single, _ = run_pass(data, replace(CFG, users=1), progress=False)
    m = single["methods"]
    assert m["oracle"]["top1"] == 1.0 and m["conventional_all"]["probes"] == 32
    assert m["oracle"]["gain_db"] >= max(r["gain_db"] for r in m.values()) - 1e-9
    assert [c["snr_db"] for c in single["snr_curve"]] == list(CFG.link.snr_grid_db)


def test_the_untrained_network_is_the_geometric_prior(data):
    from beam_predictor.model.pass_net import PassNet
    from beam_predictor.model.pass_train import predict
    rows = slice(0, 12)
    inputs = {k: v[rows] for k, v in data.inputs.items()}
    probs = predict(PassNet(CFG, data.links.shape[-1]), inputs)
    np.testing.assert_array_equal(probs.argmax(-1), inputs["prior"].argmax(-1))


def test_bad_configurations_are_named(scene, tmp_path):
    with pytest.raises(ConfigError, match="5 users but 4 waveguides"):
        load_pass_set(scene, replace(CFG, users=5), tracker_settings(), tmp_path, progress=False)
    single = tmp_path / "single"
    generate(single, replace(TWIN, passes=1, traffic=TrafficConfig(pass_half_angle_deg=10.0)), progress=False)
    with pytest.raises(ConfigError, match="no unit3_loc column"):
        load_pass_set(single, CFG, tracker_settings(), tmp_path, progress=False)


def test_serving_rule_dwa_and_probing_sets():
    choice = np.array([[5, 6], [7, 8]])
    tracked = np.array([[True, False], [False, False]])
    geometry = np.array([[1, 2], [-1, 3]])
    applied, fallback = serve(choice, tracked, geometry, np.array([9, 10]))
    np.testing.assert_array_equal(applied, [[5, 2], [9, 3]])
    assert fallback.sum() == 3
    np.testing.assert_array_equal(dwa_weights([np.ones(3)], 2.0), np.ones(3))
    w = dwa_weights([np.array([1.0, 1.0, 1.0]), np.array([0.5, 1.0, 1.0])], 2.0)
    assert w.sum() == pytest.approx(3) and w[0] < w[1]             # the user whose loss fell weighs less
    np.testing.assert_array_equal(spread_codewords(32, 4), [4, 12, 20, 28])
    link = np.zeros((2, 2, 2, 3), complex)
    link[:, 0, 0, 2] = 1.0
    link[:, 1, 1, 0] = 1.0
    np.testing.assert_array_equal(fixed_codewords(link), [2, 0])


def test_users_window_is_one_history_window_per_user():
    from beam_predictor.physics.site import SiteGeometry
    site = SiteGeometry(bs_latlon=(33.0, -111.0), heading_deg=0.0, array_height_m=5.0,
                        ue_antenna_height_m=1.7)
    spec = WindowSpec(modalities=(), feature_dim=0, history=3, input_len=3, horizon=0)
    multi, single = UsersWindow(spec, site, (2, 3)), HistoryWindow(spec, site)
    rng = np.random.default_rng(1)
    for k in range(5):
        fix = np.array([33.0, -111.0]) + rng.normal(0, 1e-5, 2)
        box = None if k == 2 else tuple(rng.uniform(0, 1, 4))
        multi.push(k * 100_000_000, {3: box}, {2: None, 3: fix})
        single.push(FrameInput(k * 100_000_000, {}, box=box, fix=fix))
    a, b = multi.arrays(), single.arrays()
    for key in ("box", "pos", "pos_missing", "pad"):
        np.testing.assert_array_equal(a[key][0, 1], b[key][0])
    np.testing.assert_array_equal(a["kin"][0, 1], b["kin"][0, 0])
    assert a["tracked"].tolist() == [[False, True]] and a["pos_missing"][0, 0].all()
    with pytest.raises(ValueError, match="without modalities"):
        UsersWindow(replace(spec, modalities=("image",)), site, (2,))


def test_the_live_step_commands_what_the_offline_evaluation_chose(scene, data, tmp_path):
    """Train/serve parity: the scenario replayed frame by frame through OnlinePass gives every user the
    codeword the offline pipeline serves (same window, prior, network and fallback rule)."""
    import json

    from beam_predictor.config import from_mapping
    from beam_predictor.deepsense import ReaderConfig, ScenarioReader
    from beam_predictor.model.pass_net import PassNet
    from beam_predictor.model.pass_train import predict
    from beam_predictor.physics.site import load_site
    from beam_predictor.runtime.pass_online import OnlinePass
    from beam_predictor.sensing.boxes import track_users
    meta = json.loads((scene / "twin_meta.json").read_text())["config"]
    pin = from_mapping(PinchingConfig, meta["pinching"])
    model = PassNet(CFG, data.links.shape[-1])
    fixed = fixed_codewords(data.links[0])
    offline, fallback = serve(predict(model, data.inputs).argmax(-1), data.inputs["tracked"], data.geometry,
                              fixed)
    live = OnlinePass(model, CFG, load_site(scene), pin, meta["array"], fixed)
    boxes = track_users(scene, tracker_settings(), load_site(scene), tmp_path, progress=False)
    frames = list(ScenarioReader(scene, ReaderConfig(modalities=("gps",))))
    for k, f in enumerate(frames):
        seen = {u: boxes[u].box[k] for u in (2, 3, 4) if boxes[u].visible[k]}
        commands = live.step(f.stamp_ns, seen, {2: f.ue_latlon, **f.users_latlon})
        assert [c.codeword for c in commands] == offline[k].tolist(), f"frame {f.index}"
        assert [c.fallback for c in commands] == fallback[k].tolist()
        np.testing.assert_array_equal(commands[1].positions_m,
                                      ps.waveguide_books(pin, 60e9, CFG.num_pas)[1][commands[1].codeword])
    assert live.fallbacks == int(fallback.sum()) and sum(c.power_share for c in commands) == pytest.approx(1)


def test_the_generated_codebook_builds_a_twin_with_its_links(scene, data, tmp_path):
    """`beam-predictor pass-codebook`: fit on the training fixes, written as a twin config; the twin built
    with it stores the generated codebook's links (the same frames, other links), and the pipeline's prior,
    anchor and live step use the generated positions."""
    import json

    import yaml

    from beam_predictor.cli import main
    from beam_predictor.config import load_config, to_mapping
    from beam_predictor.twin.config import TwinConfig
    twin_yaml, pass_yaml, out = tmp_path / "twin.yaml", tmp_path / "pass.yaml", tmp_path / "generated.yaml"
    twin_yaml.write_text(yaml.safe_dump(to_mapping(TWIN)))
    pass_yaml.write_text(yaml.safe_dump({**to_mapping(CFG), "codebook": {"iterations": 5}}))
    cache = str(tmp_path / "cache")
    args = ["pass-codebook", "--data", str(scene), "--twin-config", str(twin_yaml), "--config",
            str(pass_yaml), "--out", str(out), "--cache", cache, "--report", str(tmp_path / "report")]
    assert main(args) == 0
    generated = load_config(TwinConfig, out)
    assert sorted(generated.pinching.codebook_positions) == ["4", "8"]
    assert np.asarray(generated.pinching.codebook_positions["8"]).shape == (4, 32, 8)
    fit = json.loads((tmp_path / "report" / "codebook.json").read_text())["records"]
    assert all(r["objective_refined"] >= r["objective_constructed"] - 1e-9 for r in fit)
    # a twin config whose waveguides differ from the data's is refused
    other = tmp_path / "other.yaml"
    three = PinchingConfig(pas_grid=(4, 8), num_waveguides=3)
    other.write_text(yaml.safe_dump(to_mapping(replace(TWIN, pinching=three))))
    assert main(args[:4] + [str(other)] + args[5:]) == 2
    # the twin built with it: the same pass, the generated codebook's links
    one = tmp_path / "one"
    generate(one, replace(generated, passes=1), progress=False)
    gen = load_pass_set(one, CFG, tracker_settings(), cache, progress=False)
    books = ps.waveguide_books(gen.pinching, 60e9, CFG.num_pas)
    np.testing.assert_array_equal(books, np.asarray(generated.pinching.codebook_positions["4"]))
    first = data.seq == data.seq[0]
    assert len(gen.index) == first.sum()
    np.testing.assert_array_equal(gen.inputs["box"], data.inputs["box"][first])
    assert not np.allclose(gen.links, data.links[:, first])
    # the geometry anchor takes the generated focus points (here the geometric ones: each user has fewer
    # training fixes than codewords, so only the gradient moved the PAs)
    np.testing.assert_allclose(ps.waveguide_targets(gen.pinching), generated.pinching.codebook_targets)
