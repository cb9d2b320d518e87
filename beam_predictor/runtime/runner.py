"""``beam-predictor launch``: start the graph of :mod:`beam_predictor.runtime.graph` as processes.

``launch``/``ros2 launch`` cannot be installed here, so this runner starts the same
beam_predictor nodes, with the same parameters and remappings, as separate Python
processes (``python -m <node module> --ros-args ...``).  Every process gets
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` (discovery stays on loopback), the Fast DDS
profile config/fastdds_loopback.xml (shared memory sized for radar cubes, UDP bound to
127.0.0.1) and one ``ROS_DOMAIN_ID``.  The player is started once every other node has printed its ready
line, so no frame is replayed into a graph that is still loading models; when the player
is done, the others are stopped with SIGINT (the beamformer then writes its report).
External nodes (tf2_ros, RViz) are listed and skipped.

A node of the graph that exits unexpectedly (``NodeSpec.respawn``: every node but the player)
is started again ``graph.RESPAWN_DELAY`` s later, as launch_ros's ``respawn`` does for
``ros2 launch``; ``respawns`` lists them.

The runner also accounts for each process (Linux /proc): CPU seconds spent during the replay
(from the player's start to its end, so model loading is not counted) and peak resident
memory (VmHWM, read just before the stop), in ``usage`` (the player is not counted).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml


READY_MARK = "[beam_predictor] node ready:"


def memory_mb(pid: int, field: str = "VmRSS") -> float | None:
    """A memory figure of a live process from /proc/<pid>/status (VmRSS: resident now, VmHWM: its peak),
    in MB; None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def busy_core(limit_s: float = 900.0) -> subprocess.Popen:
    """A background spin loop on one core (``make bench-ros``'s and ``make faults``' 'one core busy'):
    the caller kills it; it stops itself after ``limit_s`` whatever happens to the caller."""
    return subprocess.Popen([sys.executable, "-c", f"import time\nend = time.time() + {limit_s}\n"
                             "while time.time() < end:\n    pass\n"])


def ros_env(base: dict | None = None, domain_id: int | None = None) -> dict:
    """The environment of every node process: ``base`` (default os.environ) with
    :func:`beam_predictor.runtime.graph.graph_env` and one ROS_DOMAIN_ID."""
    from beam_predictor.runtime.graph import graph_env
    env = dict(os.environ if base is None else base)
    env.update(graph_env(env))
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    env.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))
    return env


def node_command(spec, params_file: Path, namespace: str = "") -> list[str]:
    cmd = [sys.executable, "-m", spec.module, "--ros-args", "-r", f"__node:={spec.name}"]
    if namespace:
        cmd += ["-r", f"__ns:={namespace if namespace.startswith('/') else '/' + namespace}"]
    cmd += ["--params-file", str(params_file)]
    for src, dst in spec.remappings:
        cmd += ["-r", f"{src}:={dst}"]
    return cmd


class GraphRunner:
    def __init__(self, specs, log_dir: str | Path, namespace: str = "", env: dict | None = None,
                 echo=()):
        self.specs = [s for s in specs if not s.external]
        self.skipped = [s for s in specs if s.external]
        self.log_dir, self.namespace = Path(log_dir), namespace
        self.env = env or ros_env()
        self.procs: dict[str, subprocess.Popen] = {}
        self.echo = set(echo)                  # nodes whose output is also shown on the console
        self.threads: list[threading.Thread] = []
        self.usage: dict[str, dict] = {}       # name -> replay_cpu_s, peak_rss_mb (after run)
        self.respawns: list[tuple[str, int, float]] = []   # (node, exit code, monotonic time of the restart)
        self._exited: dict[str, float] = {}

    def _log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, spec, append: bool = False) -> subprocess.Popen:
        """Start a node's process (``append``: a respawn, its log continues)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        params = self.log_dir / f"{spec.name}.params.yaml"
        params.write_text(yaml.safe_dump({"/**": {"ros__parameters": spec.parameters}}, sort_keys=False))
        log = self._log(spec.name).open("a" if append else "w")
        echo = spec.name in self.echo
        proc = subprocess.Popen(node_command(spec, params, self.namespace),
                                stdout=subprocess.PIPE if echo else log, stderr=subprocess.STDOUT,
                                env=self.env, text=echo)
        if echo:
            t = threading.Thread(target=self._tee, args=(proc, log, spec.name), daemon=True)
            t.start()
            self.threads.append(t)
        self.procs[spec.name] = proc
        return proc

    @staticmethod
    def _tee(proc: subprocess.Popen, log, name: str) -> None:
        for line in proc.stdout:
            log.write(line)
            log.flush()
            print(f"[{name}] {line}", end="", flush=True)

    def wait_ready(self, names, timeout: float) -> None:
        """Block until every named node printed its ready line; raise naming the ones that did not."""
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                if self.ready_count(name):
                    pending.discard(name)
                elif self.procs[name].poll() is not None:
                    code = self.procs[name].returncode
                    raise RuntimeError(f"node {name} exited with code {code} during start; "
                                       f"see {self._log(name)}:\n{self.tail(name)}")
            time.sleep(0.2)
        if pending:
            raise RuntimeError(
                f"nodes not ready after {timeout:.0f} s: {sorted(pending)} (logs in {self.log_dir})")

    def log_text(self, name: str) -> str:
        """Everything the node printed so far (every run of it: a respawn appends)."""
        log = self._log(name)
        return log.read_text(errors="replace") if log.is_file() else ""

    def ready_count(self, name: str) -> int:
        """How many times the node printed its ready line (a respawned node prints it again)."""
        return self.log_text(name).count(READY_MARK)

    def tail(self, name: str, lines: int = 15) -> str:
        return "\n".join(self.log_text(name).splitlines()[-lines:])

    @staticmethod
    def _cpu_s(pid: int) -> float | None:
        """User + system CPU seconds of a live process (None when it is gone)."""
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def cpu_times(self) -> dict[str, float | None]:
        return {n: self._cpu_s(p.pid) for n, p in self.procs.items()}

    def _account(self, start: dict, end: dict) -> None:
        """``usage`` of every node but the player (gone by now: its own figures are not read)."""
        respawned = {r[0] for r in self.respawns}
        for n, p in self.procs.items():
            if p.poll() is not None:
                continue
            cpu = None if start.get(n) is None or end.get(n) is None or n in respawned else end[n] - start[n]
            self.usage[n] = {"replay_cpu_s": cpu, "peak_rss_mb": memory_mb(p.pid, "VmHWM")}

    def supervise(self) -> None:
        """Restart every respawn node that exited (``RESPAWN_DELAY`` s after it did), as launch does."""
        from beam_predictor.runtime.graph import RESPAWN_DELAY
        now = time.monotonic()
        for spec in self.specs:
            proc = self.procs.get(spec.name)
            if not spec.respawn or proc is None or proc.poll() is None:
                continue
            died = self._exited.setdefault(spec.name, now)
            if now - died >= RESPAWN_DELAY:
                print(f"[runner] {spec.name} exited with code {proc.returncode}; respawning it", flush=True)
                self.respawns.append((spec.name, proc.returncode, now))
                del self._exited[spec.name]
                self.start(spec, append=True)

    def stop(self, names=None, timeout: float | None = None) -> None:
        """SIGINT (clean shutdown: reports are written), then SIGKILL after ``timeout``
        (``graph.SHUTDOWN_TIMEOUT`` by default, as the launch file gives)."""
        from beam_predictor.runtime.graph import SHUTDOWN_TIMEOUT
        timeout = SHUTDOWN_TIMEOUT if timeout is None else timeout
        names = list(names or self.procs)[::-1]
        for n in names:
            if self.procs[n].poll() is None:
                self.procs[n].send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        for n in names:
            try:
                self.procs[n].wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.procs[n].kill()
                self.procs[n].wait()

    def run(self, player: str = "bag_player", ready_timeout: float = 180.0, settle: float = 3.0,
            duration: float | None = None) -> dict[str, int]:
        """Start everything, replay, stop; returns each node's exit code."""
        others = [s for s in self.specs if s.name != player]
        try:
            for s in others:
                self.start(s)
            self.wait_ready([s.name for s in others], ready_timeout)
            play = next((s for s in self.specs if s.name == player), None)
            if play is not None:
                before = self.cpu_times()
                proc, t0 = self.start(play), time.monotonic()
                while proc.poll() is None:
                    if duration is not None and time.monotonic() - t0 > duration:
                        raise subprocess.TimeoutExpired(proc.args, duration)
                    self.supervise()
                    time.sleep(0.1)
                time.sleep(settle)
                self._account(before, self.cpu_times())
            else:
                deadline = None if duration is None else time.monotonic() + duration
                while deadline is None or time.monotonic() < deadline:
                    self.supervise()
                    time.sleep(0.1)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            for t in self.threads:
                t.join(timeout=5.0)
        return {n: p.returncode for n, p in self.procs.items()}
