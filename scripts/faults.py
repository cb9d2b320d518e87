"""The fault suite's table (``make faults``): what was injected, what the package did, what was lost.

Bag cases work on copies of the sample bag (damage, then the reader, then ``bag-repair``);
the data case runs the DeepSense fuzz tests.  The live cases replay the sample bag through the
graph (loopback, a domain of their own):

* the suite's fault plan (a sensor silent for 5 s, NaN and zero-size inputs, a /clock that
  stops) in the first of two lock-step passes, the second repeating the first's stamps, as
  ``test/nodes/test_live_faults.py`` does;
* SIGKILL of the fusion node, the encoders, the tracker and the beamformer inside a pass at
  rate 0.25, as ``test/nodes/test_node_kill.py`` does; "ready" is the respawned node's ready
  line (model loaded, subscribed);
* a 10x replay (overload) and a 1x replay with one core kept busy.

Every case is also a pytest (named in the table) with timing-free checks; this script adds the
figures.  Prints a markdown table and writes faults.csv to --out.

    python scripts/faults.py --bag rosbags/twin_sample
"""
from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from beam_predictor import contract
from beam_predictor.bag import integrity
from beam_predictor.bag.reader import BagError, BagFrameReader
from beam_predictor.model.checkpoint import read_config
from beam_predictor.runtime.closed_loop import scored_so_far
from beam_predictor.runtime.graph import build_graph, with_parameters
from beam_predictor.runtime.inject import fault_replay, suite_plan
from beam_predictor.runtime.runner import GraphRunner, busy_core, ros_env

REPO = Path(__file__).resolve().parents[1]
ROWS: list[dict] = []
KILL_RATE = 0.25
KILLS = (("llm_fusion", 10), ("encoders", 6), ("yolo_tracker", 6), ("beamformer", 6))   # node, scored after


def row(case, injected, happened, kept="", recovery="", lost="", test=""):
    ROWS.append({"case": case, "injected": injected, "what the package did": happened, "kept": kept,
                 "recovery": recovery, "lost": lost, "pytest": test})
    print(f"{case}: {happened} | kept {kept} | lost {lost}", flush=True)


def first_line(exc: Exception, n: int = 150) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= n else text[:n] + " ..."


def bag_cases(bag: Path, work: Path) -> None:
    total = integrity.scan(next(bag.glob("*.mcap"))).messages
    frames = sum(1 for _ in BagFrameReader(bag))

    def damaged(name: str, damage) -> None:
        copy = work / name
        shutil.copytree(bag, copy)
        damage(copy)
        try:
            n = sum(1 for _ in BagFrameReader(copy))
            happened = f"read {n} frames without an error"
        except BagError as exc:
            happened = f"BagError: {first_line(exc)}"
        fixed = work / f"{name}_repaired"
        result = integrity.repair(copy, fixed)
        kept = sum(1 for _ in BagFrameReader(fixed))
        row(name, injected[name], happened, f"{kept}/{frames} frames, {result.messages}/{total} messages "
            "(bag-repair)", "", f"{total - result.messages} messages", "test/bag/test_integrity.py")

    def flip(copy: Path) -> None:
        f = next(copy.glob("*.mcap"))
        data = bytearray(f.read_bytes())
        mid = len(data) // 2
        data[mid:mid + 64] = bytes(b ^ 0xFF for b in data[mid:mid + 64])
        f.write_bytes(bytes(data))

    def cut(share: float):
        def damage(copy: Path) -> None:
            f = next(copy.glob("*.mcap"))
            data = f.read_bytes()
            f.write_bytes(data[:int(len(data) * share)])
        return damage

    injected = {"mcap_64_bytes_flipped": "64 bytes flipped in the middle of the .mcap",
                "mcap_cut_to_90": ".mcap truncated to 90 %", "mcap_cut_to_50": ".mcap truncated to 50 %",
                "metadata_deleted": "metadata.yaml deleted"}
    damaged("mcap_64_bytes_flipped", flip)
    damaged("mcap_cut_to_90", cut(0.9))
    damaged("mcap_cut_to_50", cut(0.5))
    damaged("metadata_deleted", lambda c: (c / "metadata.yaml").unlink())


def other_bags(work: Path) -> None:
    """An sqlite3 bag without its database, a bag whose only topic has no messages, a wrong type."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from beam_predictor.bag.convert import ConvertConfig, convert
    from beam_predictor.bag.messages import typestore
    from beam_predictor.deepsense.fixture import FixtureConfig, write_fixture
    write_fixture(work / "scenario", FixtureConfig(passes=1, frames_per_pass=3), progress=False)
    sq = convert(work / "scenario", work / "sqlite", ConvertConfig(storage="sqlite3"), progress=False).bag
    for f in sq.glob("*.db3"):
        f.unlink()
    for name, msgtype in (("empty", "sensor_msgs/msg/LaserScan"), ("wrong_type", "std_msgs/msg/String")):
        with Writer(work / name, version=9, storage_plugin=StoragePlugin.MCAP) as w:
            w.add_connection("/bs/mmwave/power", msgtype, typestore=typestore())
    for case, path, injected in (("sqlite_db_missing", sq, "an sqlite3 bag's .db3 file deleted"),
                                 ("empty_bag", work / "empty", "metadata lists /bs/mmwave/power, 0 messages"),
                                 ("wrong_type", work / "wrong_type", "/bs/mmwave/power as std_msgs/String")):
        try:
            happened = f"read {len(list(BagFrameReader(path)))} frames, no error"
        except BagError as exc:
            happened = f"BagError: {first_line(exc)}"
        row(case, injected, happened, test="test/bag/test_integrity.py")


def fuzz_case() -> None:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:warnings",
                           str(REPO / "test" / "deepsense" / "test_fuzz.py")], capture_output=True, text=True)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
    row("deepsense_fuzz", "11,000 hypothesis inputs: parsers' files and the scenario CSV truncated, "
        "byte-flipped, NaN / inf / huge / non-UTF-8, columns dropped",
        f"every input a frame or a DeepSenseError naming the file ({last}, {time.monotonic() - start:.0f} s)"
        if proc.returncode == 0 else f"FAILED: {last}", "", "", "", "test/deepsense/test_fuzz.py")


def _domain(offset: int) -> int:
    return (os.getpid() + offset) % 100 + 1


def _summary(report: Path) -> dict:
    path = report / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def kill_cases(bag: Path, work: Path) -> None:
    """SIGKILL the fusion node, the encoders, the tracker and the beamformer, one after the other,
    each once 6 more commands were scored after the previous kill (commands resumed)."""
    specs = with_parameters(build_graph({"bag": str(bag), "rate": str(KILL_RATE)}),
                            {"beamformer": {"report": str(work / "report")}})
    runner = GraphRunner(specs, work / "logs", env=ros_env(domain_id=_domain(1)))
    kills: list[dict] = []

    def killer() -> None:
        for name, after in KILLS:
            target = after if not kills else kills[-1]["scored"] + after
            deadline = time.monotonic() + 300
            while scored_so_far(runner.log_text("beamformer")) < target and time.monotonic() < deadline:
                time.sleep(0.1)
            ready = runner.ready_count(name)
            kill = {"name": name, "scored": scored_so_far(runner.log_text("beamformer")),
                    "t": time.monotonic()}
            runner.procs[name].send_signal(signal.SIGKILL)
            while runner.ready_count(name) <= ready and time.monotonic() < deadline + 60:
                time.sleep(0.05)
            kill["ready_s"] = time.monotonic() - kill["t"]
            kills.append(kill)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    codes = runner.run(ready_timeout=240, duration=600)
    thread.join(timeout=5)
    log = runner.log_text("beamformer")
    flows = [float(x) for x in re.findall(r"commands flow again after ([\d.]+) s", log)]
    warned = [float(x) for x in re.findall(r"no /bp/beam_command for ([\d.]+) s", log)]
    respawned = {name: t for name, _, t in runner.respawns}
    cfg = read_config(next(s.parameters["checkpoint"] for s in specs if s.name == "llm_fusion"))
    goal = 2.0 + cfg.task.history * cfg.inputs.frame_period_s / KILL_RATE
    after = _summary(work / "report")
    for k in kills:
        name = k["name"]
        back = f"process again after {respawned.get(name, float('nan')) - k['t']:.1f} s, ready after " \
               f"{k['ready_s']:.1f} s"
        took = k["ready_s"]
        if name == "llm_fusion":
            happened = (f"{back}; watchdog WARN on /diagnostics after {warned[0]:.1f} s without commands, "
                        "cleared when they returned" if warned else f"{back}; no watchdog WARN")
            took = flows[0] if flows else float("inf")
            recovery = (f"commands again {took:.1f} s after the last one" if flows
                        else "commands never resumed")
        elif name == "beamformer":
            happened = f"{back}; the respawned actuator scored {after.get('commands_scored', 0)} commands"
            recovery = f"actuator back after {took:.1f} s"
        else:
            happened = f"{back}; the fusion node kept commanding from the other inputs (partial frames)"
            recovery = f"commands never stopped; the node back after {took:.1f} s"
        met = "met" if took <= goal else "NOT met"
        row(f"kill_{name}", f"SIGKILL {name} mid-pass (replay at {KILL_RATE:g}x)", happened,
            "the next kill came after 6 more commands" if name != KILLS[-1][0] else "",
            f"{recovery}; goal 2 s + H frames = {goal:.1f} s {met}", "", "test/nodes/test_node_kill.py")
    crashed = {n: c for n, c in codes.items() if c != 0}
    if crashed or len(kills) < len(KILLS):
        row("kills", "the kills above", f"FAILED: exit codes {crashed}, {len(kills)}/{len(KILLS)} kills done")


def live_fault_cases(bag: Path, work: Path) -> None:
    """The suite's plan (runtime/inject.suite_plan) in the first of two lock-step passes of the bag."""
    plan = suite_plan(bag)
    runner = GraphRunner(fault_replay(bag, work / "report", plan), work / "logs",
                         env=ros_env(domain_id=_domain(2)))
    codes = runner.run(ready_timeout=240, duration=900)
    m = _summary(work / "report")
    player, fusion = runner.log_text("bag_player"), runner.log_text("llm_fusion")
    enc = {mod: int(n) for mod, n in re.findall(r"encoders/(\w+): \d+ frames, (\d+) missing",
                                                runner.log_text("encoders"))}
    touched = dict(re.findall(r"(\S+@[\d.]+\+[\d.]+): (\d+) ", player))
    missing = re.findall(r"partial frames \(missing (\{.*?\})\)", fusion)
    missing = ast.literal_eval(missing[-1]) if missing else {}
    crashed = {n: c for n, c in codes.items() if c != 0}
    ok = "no crash, no respawn" if not crashed and not runner.respawns else f"FAILED: exit codes {crashed}"
    kept = f"{m.get('commands_scored', 0)}/{m.get('frames_after_warmup', 0)} frames commanded (both passes)"
    by_kind = {}
    for fault in plan.split(","):
        key = next((k for k in touched if fault.split("@")[0] == k.split("@")[0]), None)
        by_kind[fault.split("@")[0]] = (fault, int(touched[key]) if key else 0)
    radar = f"silent:{contract.RADAR.name}"
    fault, n = by_kind[radar]
    late = missing.get("radar", n) - n
    row("sensor_silent_5s", f"{fault}: {n} radar cubes not published",
        f"{ok}; fused without radar in {missing.get('radar', '?')} frames (frames stopped waiting for it "
        f"after 3); radar fused again {late} frame(s) after it returned", kept,
        f"{late} frame(s) after it returned", f"{missing.get('radar', '?')} radar features",
        "test/nodes/test_live_faults.py")
    for kind, mod in (("nan:" + contract.UE_GPS.name, "gps"), ("empty:" + contract.CAMERA.name, "image"),
                      ("empty:" + contract.LIDAR.name, "lidar"), ("nan:" + contract.RADAR.name, "radar")):
        fault, n = by_kind[kind]
        extra = "; the tracker published an empty UE box" if mod == "image" else ""
        row(f"{kind.split(':')[0]}_{mod}", f"{fault}: {n} messages", f"{ok}; the {mod} encoder published "
            f"'missing' ({enc.get(mod, '?')} in the run){extra}", kept, "the next frame", f"{n} {mod} inputs",
            "test/nodes/test_live_faults.py")
    fault, n = by_kind["clock_stop"]
    row("clock_stops", f"{fault}: {n} /clock publications held", f"{ok}; every frame of the pass commanded "
        "(the nodes run on stamps and the steady clock)", kept, "", "0", "test/nodes/test_live_faults.py")
    row("stamps_jump_back", "the bag looped: the second pass repeats the first's stamps",
        f"{ok}; the fusion window and synchronizer restarted; the beamformer scored the pass as stamp epoch "
        f"{m.get('stamp_epochs', '?')}", kept, "", "0",
        "test/nodes/test_live_faults.py, test/runtime/test_closed_loop.py")


def load_cases(bag: Path, work: Path) -> None:
    """10x replay overload, and 1x with one core kept busy (not lock-step: drops are the measure)."""
    for case, rate, busy in (("overload_10x", 10.0, False), ("one_core_busy", 1.0, True)):
        report = work / case / "report"
        runner = GraphRunner(with_parameters(build_graph({"bag": str(bag), "rate": str(rate)}),
                                             {"beamformer": {"report": str(report)}}),
                             work / case / "logs", env=ros_env(domain_id=_domain(3)))
        load = busy_core() if busy else None
        try:
            codes = runner.run(ready_timeout=240, duration=600)
        finally:
            if load is not None:
                load.kill()
                load.wait()
        m = _summary(report)
        crashed = {n: c for n, c in codes.items() if c != 0}
        rss = sum(u["peak_rss_mb"] or 0.0 for u in runner.usage.values())
        row(case, f"replay at {rate:g}x" + (", a spin loop on one of the 2 cores" if busy else ""),
            ("no crash" if not crashed else f"FAILED: exit codes {crashed}")
            + f"; e2e p99 {m.get('e2e_p99_ms', float('nan')):.0f} ms; peak RSS of the graph {rss:.0f} MB",
            f"{m.get('commands_scored', 0)}/{m.get('frames_after_warmup', 0)} frames commanded",
            "", f"{m.get('frames_dropped', 0)} frames without a command (newest-frame policy)",
            "test/nodes/test_graph_replay.py (lock-step, busy core)" if busy else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bag", default=str(REPO / "rosbags" / "twin_sample"))
    ap.add_argument("--out", default="reports/faults")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        sealed = Path(tmp) / "sealed"
        shutil.copytree(args.bag, sealed)
        for f in sealed.glob("*.mcap"):
            integrity.seal(f)                      # as the converter writes bags now
        bag_cases(sealed, Path(tmp))
        other_bags(Path(tmp) / "other")
        fuzz_case()
        bag = Path(args.bag).resolve()
        live_fault_cases(bag, Path(tmp) / "live_faults")
        kill_cases(bag, Path(tmp) / "kills")
        load_cases(bag, Path(tmp) / "load")
    with (out / "faults.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(ROWS[0]))
        w.writeheader()
        w.writerows(ROWS)
    cols = list(ROWS[0])
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in ROWS:
        print("| " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |")
    print(f"\ncsv: {out / 'faults.csv'}")


if __name__ == "__main__":
    main()
