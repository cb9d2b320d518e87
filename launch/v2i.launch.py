"""Launch the V2I beam-prediction graph on a ROS 2 install.

    ros2 launch beam_predictor v2i.launch.py bag:=<rosbag2 folder> rviz:=true

The nodes, their parameters (the ROS 2 parameters file config/v2i.params.yaml, or
params_file:=<yours>) and remappings (config/v2i.yaml) come from
beam_predictor.runtime.graph.build_graph, the same description `beam-predictor launch`
starts where `launch` is not installable, so the two cannot drift, and both give every
node the environment of graph_env (loopback discovery, the Fast DDS profile).  With
bag:=none no player is started: replay with `ros2 bag play --clock <bag>` or plug in live
sensors.  The graph's nodes (not the player) are respawned half a second after an unexpected
exit; the lifecycle nodes configure and activate themselves again (autostart).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

from beam_predictor.runtime.graph import (LAUNCH_ARGUMENTS, RESPAWN_DELAY, SHUTDOWN_TIMEOUT, build_graph,
                                          graph_env)


def _nodes(context, *args, **kwargs):
    values = {name: LaunchConfiguration(name).perform(context) for name in LAUNCH_ARGUMENTS}
    namespace = values["namespace"]
    actions = []
    for spec in build_graph(values):
        common = dict(package=spec.package, executable=spec.executable, name=spec.name, namespace=namespace,
                      output="screen", remappings=list(spec.remappings), arguments=list(spec.arguments),
                      respawn=spec.respawn, respawn_delay=RESPAWN_DELAY if spec.respawn else None,
                      sigterm_timeout=str(SHUTDOWN_TIMEOUT))
        if spec.parameters:
            common["parameters"] = [spec.parameters]
        actions.append(LifecycleNode(**common) if spec.lifecycle else Node(**common))
    return actions


def generate_launch_description():
    declared = [DeclareLaunchArgument(name, default_value=default, description=doc)
                for name, (default, doc) in LAUNCH_ARGUMENTS.items()]
    env = [SetEnvironmentVariable(name, value) for name, value in graph_env().items()]
    return LaunchDescription(declared + env + [OpaqueFunction(function=_nodes)])
