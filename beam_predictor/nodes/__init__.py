"""ROS 2 nodes: thin glue between topics and the pure core.  The only subpackage that imports rclpy."""
