"""The fault suite's table (``make faults``): what was injected, what the package did, what was lost.

Bag cases work on copies of the sample bag (damage, then the reader, then ``bag-repair``);
the data case runs the DeepSense fuzz tests; the live cases replay the sample bag at rate
0.25 through the graph (loopback, one domain) and SIGKILL the fusion node and then the
encoders inside a pass, as ``test/nodes/test_node_kill.py`` does.  Every case is also a pytest
(named in the table); this script adds the figures.  Prints a markdown table and writes
faults.csv to --out.

    python scripts/faults.py --bag rosbags/twin_sample
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from beam_predictor.bag import integrity
from beam_predictor.bag.reader import BagError, BagFrameReader

REPO = Path(__file__).resolve().parents[1]
ROWS: list[dict] = []


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


def live_cases(bag: Path, work: Path) -> None:
    from beam_predictor.runtime.graph import build_graph
    from beam_predictor.runtime.runner import GraphRunner, ros_env
    scored = re.compile(r"\[beamformer\]: frames=(\d+)")
    specs = [dataclasses.replace(s, parameters={**s.parameters, "report": str(work / "report")})
             if s.name == "beamformer" else s for s in build_graph({"bag": str(bag), "rate": "0.25"})]
    runner = GraphRunner(specs, work / "logs", env=ros_env())
    kills: list[tuple[str, int, float]] = []

    def count() -> int:
        log = runner._log("beamformer")
        found = scored.findall(log.read_text(errors="replace")) if log.is_file() else []
        return int(found[-1]) if found else 0

    def killer() -> None:
        for name, after in (("llm_fusion", 10), ("encoders", 6)):
            target = after if not kills else kills[-1][1] + after
            deadline = time.monotonic() + 300
            while count() < target and time.monotonic() < deadline:
                time.sleep(0.2)
            kills.append((name, count(), time.monotonic()))
            runner.procs[name].send_signal(signal.SIGKILL)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    codes = runner.run(ready_timeout=240, duration=600)
    thread.join(timeout=5)
    summary = json.loads((work / "report" / "summary.json").read_text())
    log = runner._log("beamformer").read_text(errors="replace")
    flows = [float(x) for x in re.findall(r"commands flow again after ([\d.]+) s", log)]
    warned = [float(x) for x in re.findall(r"no /bp/beam_command for ([\d.]+) s", log)]
    back = {name: t for name, _, t in runner.respawns}
    crashed = {n: c for n, c in codes.items() if c != 0}
    lost = summary["frames_after_warmup"] - summary["commands_scored"]
    for name, _, t_kill in kills:
        row(f"kill_{name}", f"SIGKILL {name} mid-pass (replay at 0.25x)",
            f"respawned after {back.get(name, float('nan')) - t_kill:.1f} s"
            + ((f"; watchdog WARN on /diagnostics after {warned[0]:.1f} s without commands, cleared "
                "when they returned" if warned else "; no watchdog WARN") if name == "llm_fusion"
               else "; the fusion node kept commanding from GPS and the box"),
            f"{summary['commands_scored']}/{summary['frames_after_warmup']} frames commanded in the run",
            (f"commands again {flows[0]:.1f} s after the last one" if name == "llm_fusion" and flows else ""),
            f"{lost} frames without a command in the run (both kills)",
            "test/nodes/test_node_kill.py")
    if crashed:
        row("other_nodes", "the kills above", f"exit codes {crashed}")


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
        live_cases(Path(args.bag).resolve(), Path(tmp) / "live")
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
