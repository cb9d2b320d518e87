"""Write a folder or a cache file atomically: build it beside the target, rename it into place.

A run that fails cleans its temporary folder up; one that is killed cannot, so every
new run first removes the leftovers of earlier runs for the same target whose process
is gone.  The target itself is never partial.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def partial_dir(target: str | Path) -> Path:
    """A fresh temporary sibling of ``target`` (created), after removing dead runs' leftovers."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.partial-"
    for old in target.parent.glob(prefix + "*"):
        pid = old.name[len(prefix):]
        if not pid.isdigit() or not _alive(int(pid)) or int(pid) == os.getpid():
            shutil.rmtree(old, ignore_errors=True)
    tmp = target.parent / f"{prefix}{os.getpid()}"
    tmp.mkdir()
    return tmp


def replace_dir(src: Path, target: str | Path) -> None:
    """Move the finished ``src`` folder to ``target``, replacing an existing one."""
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    os.replace(src, target)


def write_npz(path: str | Path, **arrays) -> None:
    """``np.savez`` to ``path`` through a temporary sibling, so a reader never sees half a cache file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
