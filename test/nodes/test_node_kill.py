"""A killed node comes back: the fusion node, the encoders, the tracker and the beamformer are
SIGKILLed one after the other mid-replay; the runner respawns each (as launch_ros's respawn does
for `ros2 launch`), the beamformer's watchdog warns at once on /diagnostics and clears when
commands flow again, and commands resume after each kill.

Bounded: one replay of the sample bag at rate 0.25 (85 s: its passes of 15, 31 and 67 frames
last long enough for a node to reload inside one), four kills, every process stopped within
the runner's timeouts.  No timing is asserted: each kill waits for the beamformer's progress
lines (6 more scored commands than at the previous kill: commands resumed), and the checks are
counts.  While the encoders or the tracker are down the fusion node keeps commanding from what
is left (partial frames), so only the fusion node's death silences the commands.  The
beamformer goes last: its respawned process scores (and reports) what comes after it.
"""
import json
import os
import signal
import threading
import time

import pytest

from beam_predictor.config import PACKAGE_ROOT
from beam_predictor.runtime.closed_loop import scored_so_far
from beam_predictor.runtime.graph import build_graph, with_parameters
from beam_predictor.runtime.runner import GraphRunner, ros_env

BAG = PACKAGE_ROOT.parent / "rosbags" / "twin_sample"
KILLS = (("llm_fusion", 10), ("encoders", 6), ("yolo_tracker", 6), ("beamformer", 6))


def scored(runner) -> int:
    return scored_so_far(runner.log_text("beamformer"))


def wait_for(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return False


def test_killed_nodes_are_respawned_and_commands_resume(tmp_path):
    if not (BAG / "metadata.yaml").is_file():
        pytest.fail(f"{BAG} is missing: `make test` builds it (or `make demo`)")
    specs = with_parameters(build_graph({"bag": str(BAG), "rate": "0.25"}),
                            {"beamformer": {"report": str(tmp_path / "report")}})
    domain = int(os.environ.get("ROS_DOMAIN_ID", "1")) % 100 + 131
    runner = GraphRunner(specs, tmp_path / "logs", env=ros_env(domain_id=domain))
    kills = []

    def killer():
        # the fusion node 2 commands into the second pass (8 are scored in the first), then each node
        # once 6 more commands came after the previous kill
        for name, after in KILLS:
            target = after if not kills else kills[-1][1] + after
            if not wait_for(lambda: scored(runner) >= target, 300):
                return
            kills.append((name, scored(runner)))
            runner.procs[name].send_signal(signal.SIGKILL)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    codes = runner.run(ready_timeout=240, duration=600)
    thread.join(timeout=5)
    names = [name for name, _ in KILLS]
    assert [k[0] for k in kills] == names, (kills, runner.tail("beamformer"))
    assert [(name, code) for name, code, _ in runner.respawns] == [(n, -9) for n in names]
    bad = {n: c for n, c in codes.items() if c != 0}          # respawns end cleanly; else show why not
    assert not bad, (codes, {n: runner.tail(n) for n in bad})
    log = runner.log_text("beamformer")
    assert "no /bp/beam_command for" in log and "commands flow again after" in log, log[-3000:]
    # the respawned beamformer scored commands after its own return
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["commands_scored"] >= 5 and summary["frames_measured"] < 113, summary
