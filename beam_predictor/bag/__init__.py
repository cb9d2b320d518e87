"""rosbag2 conversion (scenario folder -> bag) and its exact inverse (bag -> frames)."""
