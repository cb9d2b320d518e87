"""Live faults through the whole graph: a sensor silent for 5 s that comes back, NaN GPS and radar, a
zero-size image, a 0-point cloud, a /clock that stops for 3 s, and stamps that jump back (the bag
looped twice).  Nothing crashes, nothing is respawned, every frame after each pass's warm-up
gets a command, and the silenced sensor is fused again from the first frame after its silence.

The player injects the faults (``faults`` parameter, runtime/inject.py) into the first pass
of the sample bag; the second pass is intact, with the first pass's stamps.  The replay is
lock-step, so the checks are counts, not timings.  Bounded: two passes of 113 frames, every
process stopped within the runner's timeouts.
"""
import ast
import dataclasses
import json
import os
import re

import pytest

from beam_predictor import contract
from beam_predictor.config import PACKAGE_ROOT
from beam_predictor.runtime.graph import build_graph
from beam_predictor.runtime.runner import GraphRunner, ros_env

BAG = PACKAGE_ROOT.parent / "rosbags" / "twin_sample"
# the sample bag's passes span 0-1.4 s, 6.5-9.5 s and 14.6-21.2 s of bag time (15, 31 and 67 frames)
SILENT_FRAMES = 50
FAULTS = ",".join(("clock_stop@6.5+3",
                   f"nan:{contract.UE_GPS.name}@7.0+0.5", f"empty:{contract.CAMERA.name}@7.5+0.5",
                   f"empty:{contract.LIDAR.name}@8.0+0.5", f"nan:{contract.RADAR.name}@8.5+0.5",
                   f"silent:{contract.RADAR.name}@15.5+5"))


def live_fault_specs(bag, report, faults: str, passes: int = 2, wait: float = 3.0):
    """The graph's specs replaying ``bag`` lock-step with ``faults`` injected, looped ``passes`` times;
    the synchronizers wait ``wait`` s for a frame's inputs (until they presume a silent one dead)."""
    set_params = {"beamformer": {"report": str(report)}, "llm_fusion": {"max_wait": wait},
                  "yolo_tracker": {"max_wait": wait},
                  "bag_player": {"faults": faults, "loop": passes > 1, "loop_passes": passes,
                                 "lockstep_timeout": 2 * wait}}
    return [dataclasses.replace(s, parameters={**s.parameters, **set_params.get(s.name, {})})
            for s in build_graph({"bag": str(bag), "rate": "1.0", "lockstep": "true"})]


def close_line(log: str, pattern: str) -> re.Match:
    found = re.findall(pattern, log)
    assert found, log[-3000:]
    return found[-1]


def test_faults_degrade_the_prediction_and_crash_nothing(tmp_path):
    if not (BAG / "metadata.yaml").is_file():
        pytest.fail(f"{BAG} is missing: `make test` builds it (or `make demo`)")
    domain = int(os.environ.get("ROS_DOMAIN_ID", "1")) % 70 + 161
    runner = GraphRunner(live_fault_specs(BAG, tmp_path / "report", FAULTS), tmp_path / "logs",
                         env=ros_env(domain_id=domain))
    codes = runner.run(ready_timeout=240, duration=600)
    assert all(c == 0 for c in codes.values()) and not runner.respawns, (codes, runner.respawns)
    player = runner._log("bag_player").read_text(errors="replace")
    assert f"silent:{contract.RADAR.name}@15.5+5: {SILENT_FRAMES} messages" in player, player[-2000:]
    assert "0 acknowledgement timeouts" in player, player[-2000:]
    # every frame after each pass's warm-up has a command: during the faults, through the /clock
    # stop, and in the looped pass whose stamps jumped back (a new epoch of the beamformer's ledger)
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["frames_measured"] == 2 * 113 and summary["stamp_epochs"] == 2, summary
    assert summary["commands_scored"] == summary["frames_after_warmup"] == 2 * 92, summary
    # the radar is missing from exactly its silent frames: fused again from the first frame after
    fusion = runner._log("llm_fusion").read_text(errors="replace")
    missing = ast.literal_eval(close_line(fusion, r"partial frames \(missing (\{.*?\})\)"))
    assert missing["radar"] == SILENT_FRAMES and missing["image"] == missing["lidar"] == 0, missing
    # NaN or zero-size inputs are 'missing' features, each counted by its encoder (5 frames each)
    encoders = runner._log("encoders").read_text(errors="replace")
    for modality in ("image", "radar", "lidar", "gps"):
        n = int(close_line(encoders, rf"encoders/{modality}: \d+ frames, (\d+) missing"))
        assert n >= 5, (modality, encoders[-2000:])
