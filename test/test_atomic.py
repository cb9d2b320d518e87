"""Atomic folder writes: leftovers of dead runs are removed, live ones are kept."""
import os
import subprocess
import sys

from beam_predictor.atomic import partial_dir, replace_dir


def test_stale_partials_removed_live_kept(tmp_path):
    target = tmp_path / "bag"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / f".bag.partial-{dead}").mkdir()                     # a killed run's leftover
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / f".bag.partial-{live.pid}").mkdir()             # a run still going
        tmp = partial_dir(target)
        assert tmp.name == f".bag.partial-{os.getpid()}" and tmp.is_dir()
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == sorted([tmp.name, f".bag.partial-{live.pid}"])
    finally:
        live.kill()
        live.wait()
    (tmp / "x").write_text("new")
    target.mkdir()
    (target / "old").write_text("old")
    replace_dir(tmp, target)
    assert [p.name for p in target.iterdir()] == ["x"] and not tmp.exists()
