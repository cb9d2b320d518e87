"""Fixtures of the node tests."""
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor


@pytest.fixture
def ros():
    """rclpy initialised for one test; yields an executor; nodes added to it are destroyed after."""
    rclpy.init()
    executor = SingleThreadedExecutor()
    yield executor
    for node in list(executor.get_nodes()):
        executor.remove_node(node)
        node.destroy_node()
    executor.shutdown()
    rclpy.try_shutdown()
