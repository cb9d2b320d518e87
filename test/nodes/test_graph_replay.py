"""Integration: the whole graph as separate processes over DDS (loopback), replaying the sample bag.

Needs the sample bag (`make test` builds it: rosbags/twin_sample from the ray-traced twin).
The replay is lock-step (the player sends a frame once the fusion node has acknowledged the
previous one), so the test checks correctness however busy the machine is: every frame after
each pass's warm-up gets a command, and the applied beams are the offline predictions of
the same checkpoint on the same frames.  Speed is `make bench-ros`'s business.
Bounded: one replay of 113 frames, every process stopped within the runner's timeouts.
"""
import json
import os

import pytest

from beam_predictor.config import PACKAGE_ROOT
from beam_predictor.runtime.graph import build_graph, with_parameters
from beam_predictor.runtime.runner import GraphRunner, ros_env

BAG = PACKAGE_ROOT.parent / "rosbags" / "twin_sample"


def test_sample_bag_through_the_graph_matches_offline_evaluation(tmp_path, sample_windows):
    from beam_predictor.model import checkpoint
    from beam_predictor.model.data import make_windows, select_passes
    from beam_predictor.runtime.closed_loop import compare_with_offline
    if not (BAG / "metadata.yaml").is_file():
        pytest.fail(f"{BAG} is missing: `make test` builds it (or `make demo`)")
    specs = build_graph({"bag": str(BAG), "rate": "1.0", "lockstep": "true"})
    # the actuator refines over the command's top 3 (refine_k): it applies the strongest measured of them
    specs = with_parameters(specs, {"beamformer": {"report": str(tmp_path / "report"), "refine_k": 3}})
    # a domain of its own: nothing left by the in-process node tests can reach this graph
    domain = int(os.environ.get("ROS_DOMAIN_ID", "1")) % 100 + 101
    runner = GraphRunner(specs, tmp_path / "logs", env=ros_env(domain_id=domain))
    codes = runner.run(ready_timeout=240, duration=600)
    assert codes["bag_player"] == 0, runner.tail("bag_player")
    assert "0 acknowledgement timeouts" in runner.tail("bag_player"), runner.tail("bag_player")
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["frames_measured"] == 113, runner.tail("beamformer")
    # a command for every frame after each pass's warm-up (H - 1 frames) ...
    assert summary["warmup_frames_per_pass"] == 7, summary
    assert summary["commands_scored"] == summary["frames_after_warmup"] == 92, \
        (summary, runner.tail("llm_fusion"))
    # ... each stamped with the stamp of a replayed frame
    assert summary["commands_unmatched"] == 0, summary
    assert (tmp_path / "report" / "closed_loop.png").is_file()
    # the live graph applies exactly the beams offline evaluation predicts on the same frames
    table = sample_windows[0]
    model, _ = checkpoint.load(next(s.parameters["checkpoint"] for s in specs if s.name == "llm_fusion"))
    windows = make_windows(table, model.cfg, select_passes(table, "all"))
    c = compare_with_offline(model, windows, tmp_path / "report")
    assert c["frames"] >= 70 and c["refine_k"] == 3, c
    assert c["differ"] == 0 and c["online_top1"] == c["offline_top1"], c
    # every frame is also scored at each K of the curve: the loss never grows with K, and the applied
    # (K = 3) loss is the curve's K = 3 point
    curve = {r["k"]: r for r in summary["refine_curve"]}
    assert sorted(curve) == [0, 1, 3, 5, 16], curve
    losses = [curve[k]["power_loss_mean_db"] for k in (0, 1, 3, 5, 16)]
    assert losses[0] == losses[1] and all(a >= b for a, b in zip(losses, losses[1:])), curve
    assert summary["power_loss_mean_db"] == pytest.approx(curve[3]["power_loss_mean_db"]), summary
    assert (tmp_path / "report" / "refine.csv").is_file()
