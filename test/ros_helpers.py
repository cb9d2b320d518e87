"""In-process ROS 2 helpers for node tests (loopback discovery is set by test/conftest.py)."""
import contextlib
import threading
import time

from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter


def spin_until(executor: SingleThreadedExecutor, done, timeout: float) -> bool:
    """Spin until ``done()`` is true or ``timeout`` seconds pass; returns done()."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        executor.spin_once(timeout_sec=0.02)
    return done()


def spin_for(executor: SingleThreadedExecutor, seconds: float) -> None:
    spin_until(executor, lambda: False, seconds)


def overrides(**params) -> dict:
    return {"parameter_overrides": [Parameter(k, value=v) for k, v in params.items()]}


@contextlib.contextmanager
def spinning(executor: SingleThreadedExecutor):
    """Spin ``executor`` in a background thread for the duration of the block."""
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.02)

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        yield
    finally:
        stop.set()
        spinner.join()
