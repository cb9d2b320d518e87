"""Newest-first work: a stage that falls behind skips stale frames instead of queueing them.

A model stage's subscription callback only hands its frame to :class:`LatestWorker` and
returns; the worker thread runs the stage on the newest frame it holds.  A frame replaced
by a newer one before its turn came is skipped and counted (``stale``): the command for
the newest frame is worth more than the late command for an old one.  Written by hand
because what it needs (a one-slot mailbox with a drop count, drained by one thread) is
a few lines around ``threading.Condition``; ``queue.Queue(maxsize=1)`` blocks or refuses
the *new* item, the opposite of what a real-time stage wants.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


class LatestWorker:
    def __init__(self, handle: Callable[[object], None], name: str):
        self.handle, self.name = handle, name
        self.stale = 0                 # frames replaced before their turn
        self.done = 0                  # frames handled
        self.errors = 0
        self._item, self._has_item, self._stop = None, False, False
        self._cv = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def put(self, item) -> None:
        with self._cv:
            if self._has_item:
                self.stale += 1
            self._item, self._has_item = item, True
            self._cv.notify()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._has_item and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                item, self._item, self._has_item = self._item, None, False
            try:
                self.handle(item)
            except Exception:          # one bad frame must not stop the stage
                self.errors += 1
                log.exception("%s: frame failed", self.name)
            self.done += 1

    @staticmethod
    def stale_of(worker: "LatestWorker | None") -> int:
        """Frames a stage's worker skipped (0 without one: ``drop_stale`` off)."""
        return worker.stale if worker is not None else 0

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the frame in hand (a waiting one is dropped)."""
        with self._cv:
            self._stop = True
            self._cv.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
