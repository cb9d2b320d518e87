"""Stamp-based synchronizer for the fusion node.

``message_filters`` (ApproximateTimeSynchronizer) is not installable here (see
../README.md), and its policy waits for every input anyway; fusion must instead fuse a
frame *without* a silent modality after a bounded wait.  So this small core groups items
by header stamp within a tolerance and emits a frame set when

* every expected key has arrived (complete), or
* it has waited ``max_wait_ns`` of wall time since its first item (partial), or
* a newer set has completed (older partial sets are emitted first, in stamp order), or
* every key it lacks is presumed silent: it was missing from the last ``silent_after`` sets
  emitted in a row and sent nothing since (a dead sensor then costs no latency: frames do not
  wait ``max_wait`` for it; its next item, even a late one, ends the presumption).

Items older than the last emitted stamp are dropped and counted as late (out-of-order
input never reorders the output); a jump back by more than ``restart_ns`` (a replay
restarted or looped) starts afresh.  Wall-clock waits keep the behaviour the same under
sim time and any replay rate.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FrameSet:
    stamp_ns: int
    items: dict[str, object]
    first_arrival_ns: int
    complete: bool = False

    def missing(self, keys) -> list[str]:
        return [k for k in keys if k not in self.items]


@dataclass
class SyncStats:
    complete: int = 0
    partial: int = 0
    late: int = 0
    duplicate: int = 0
    restarts: int = 0
    presumed_silent: int = 0        # partial sets emitted without waiting (their missing keys silent)
    missing_by_key: dict[str, int] = field(default_factory=dict)


class StampSynchronizer:
    def __init__(self, keys, tolerance_ns: int, max_wait_ns: int, restart_ns: int = 1_000_000_000,
                 silent_after: int = 3):
        self.keys = tuple(keys)
        self.tolerance_ns, self.max_wait_ns = int(tolerance_ns), int(max_wait_ns)
        self.restart_ns = int(restart_ns)
        self.silent_after = int(silent_after)      # 0: never presume a key silent
        self.misses = {k: 0 for k in self.keys}    # sets emitted in a row without the key
        self.pending: list[FrameSet] = []          # sorted by stamp
        self.last_emitted_ns: int | None = None
        self.stats = SyncStats(missing_by_key={k: 0 for k in self.keys})

    def reset(self) -> None:
        self.pending.clear()
        self.last_emitted_ns = None
        self.misses = {k: 0 for k in self.keys}

    def silent(self) -> set[str]:
        """The keys presumed silent now."""
        if self.silent_after <= 0:
            return set()
        return {k for k, n in self.misses.items() if n >= self.silent_after}

    def add(self, key: str, stamp_ns: int, value, now_ns: int) -> list[FrameSet]:
        """Add one item; returns the sets that are ready, oldest first."""
        if key not in self.keys:
            raise KeyError(f"unknown synchronizer key '{key}'; expected one of {self.keys}")
        self.misses[key] = 0                       # it is alive
        if self.last_emitted_ns is not None and stamp_ns < self.last_emitted_ns - self.restart_ns:
            self.reset()                           # stamps jumped back: the replay restarted
            self.stats.restarts += 1
        if self.last_emitted_ns is not None and stamp_ns <= self.last_emitted_ns + self.tolerance_ns:
            self.stats.late += 1
            return self.poll(now_ns)
        target = next((s for s in self.pending if abs(s.stamp_ns - stamp_ns) <= self.tolerance_ns), None)
        if target is None:
            target = FrameSet(stamp_ns, {}, now_ns)
            self.pending.append(target)
            self.pending.sort(key=lambda s: s.stamp_ns)
        if key in target.items:
            self.stats.duplicate += 1
        target.items[key] = value
        return self.poll(now_ns)

    def next_deadline_ns(self) -> int | None:
        """When the oldest pending set times out (None: nothing pending)."""
        if not self.pending:
            return None
        return min(s.first_arrival_ns for s in self.pending) + self.max_wait_ns

    def poll(self, now_ns: int) -> list[FrameSet]:
        """Sets that are complete, timed out, or older than a complete one."""
        ready_upto, silent, presumed = -1, self.silent(), set()
        for i, s in enumerate(self.pending):
            if len(s.items) == len(self.keys) or now_ns - s.first_arrival_ns >= self.max_wait_ns:
                ready_upto = i
            elif silent and set(s.missing(self.keys)) <= silent:
                ready_upto = i
                presumed.add(id(s))
        out, self.pending = self.pending[:ready_upto + 1], self.pending[ready_upto + 1:]
        for s in out:
            s.complete = len(s.items) == len(self.keys)
            if s.complete:
                self.stats.complete += 1
            else:
                self.stats.partial += 1
                self.stats.presumed_silent += id(s) in presumed
                for k in s.missing(self.keys):
                    self.stats.missing_by_key[k] += 1
            for k in self.keys:
                self.misses[k] = 0 if k in s.items else self.misses[k] + 1
            self.last_emitted_ns = s.stamp_ns
        return out
