"""Pure-Python core of the live graph: synchronizer, history window, online predictor,
closed-loop metrics, bag-replay schedule and the node-graph description (no rclpy here)."""
