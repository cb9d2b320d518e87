"""The code is flake8-clean (the ament_flake8 check of a ROS 2 package, run with plain flake8)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_flake8():
    targets = [p for p in ("beam_predictor", "test", "scripts", "launch", "setup.py")
               if (REPO / p).exists()]
    proc = subprocess.run([sys.executable, "-m", "flake8", *targets], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
