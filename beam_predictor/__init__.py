"""beam_predictor: multimodal sensing-aided mmWave beam prediction with LLMs, for ROS 2.

The package is a pure-Python core (readers, bags, models, metrics) importable without
rclpy; ROS glue lives only in :mod:`beam_predictor.nodes`.
"""
__version__ = "0.1.0"
