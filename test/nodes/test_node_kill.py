"""A killed node comes back: the fusion node and then the encoders are SIGKILLed mid-replay; the
runner respawns each (as launch_ros's respawn does for `ros2 launch`), the beamformer's watchdog
warns at once on /diagnostics and clears when commands flow again, and commands resume.

Bounded: one replay of the sample bag at rate 0.25 (85 s: its passes of 15, 31 and 67 frames
last long enough for a node to reload inside one), two kills, every process stopped within
the runner's timeouts.  No timing is asserted: the kills wait for the beamformer's progress
lines (scored commands), and the checks are counts.  While the encoders are down the fusion
node keeps commanding from GPS and the box alone (partial frames), so only the fusion node's
death silences the commands.
"""
import dataclasses
import json
import os
import re
import signal
import threading
import time

import pytest

from beam_predictor.config import PACKAGE_ROOT
from beam_predictor.runtime.graph import build_graph
from beam_predictor.runtime.runner import GraphRunner, ros_env

BAG = PACKAGE_ROOT.parent / "rosbags" / "twin_sample"
SCORED = re.compile(r"\[beamformer\]: frames=(\d+)")


def scored(runner) -> int:
    log = runner._log("beamformer")
    found = SCORED.findall(log.read_text(errors="replace")) if log.is_file() else []
    return int(found[-1]) if found else 0


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
    specs = [dataclasses.replace(s, parameters={**s.parameters, "report": str(tmp_path / "report")})
             if s.name == "beamformer" else s for s in build_graph({"bag": str(BAG), "rate": "0.25"})]
    domain = int(os.environ.get("ROS_DOMAIN_ID", "1")) % 100 + 131
    runner = GraphRunner(specs, tmp_path / "logs", env=ros_env(domain_id=domain))
    kills = []

    def killer():
        # the fusion node 2 commands into the second pass (8 are scored in the first), the encoders once
        # 6 more commands came after the fusion node's return
        for name, after in (("llm_fusion", 10), ("encoders", 6)):
            target = after if not kills else kills[-1][1] + after
            if not wait_for(lambda: scored(runner) >= target, 300):
                return
            kills.append((name, scored(runner)))
            runner.procs[name].send_signal(signal.SIGKILL)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    codes = runner.run(ready_timeout=240, duration=600)
    thread.join(timeout=5)
    assert [k[0] for k in kills] == ["llm_fusion", "encoders"], runner.tail("beamformer")
    assert [(name, code) for name, code, _ in runner.respawns] == [("llm_fusion", -9), ("encoders", -9)]
    assert codes["bag_player"] == 0 and all(c == 0 for c in codes.values()), codes   # respawns end cleanly
    log = runner._log("beamformer").read_text(errors="replace")
    assert "no /bp/beam_command for" in log and "commands flow again after" in log, log[-3000:]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["commands_scored"] >= kills[-1][1] + 5, (summary, kills)   # commands after the last kill
    assert summary["frames_measured"] == 113
