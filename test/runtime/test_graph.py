"""The ROS 2 launch file and `beam-predictor launch` start the same nodes, parameters and remappings.

`launch`/`launch_ros` are not installable here, so the test loads launch/v2i.launch.py with
minimal recording stand-ins for those two modules (the launch file's own code is what runs)
and compares what it would start with what the runner starts.
"""
import importlib.util
import sys
import types

import pytest
import yaml

from beam_predictor.config import ConfigError
from beam_predictor.runtime.graph import LAUNCH_ARGUMENTS, build_graph
from beam_predictor.runtime.runner import GraphRunner, node_command, ros_env


class _Recorder:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class _LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context[self.name]


def _recording_launch_modules(monkeypatch):
    launch = types.ModuleType("launch")
    launch.LaunchDescription = lambda entities: entities
    actions = types.ModuleType("launch.actions")
    actions.DeclareLaunchArgument = lambda name, default_value, description: (
        name, default_value, description)
    actions.OpaqueFunction = lambda function: function
    actions.SetEnvironmentVariable = lambda name, value: {name: value}
    subs = types.ModuleType("launch.substitutions")
    subs.LaunchConfiguration = _LaunchConfiguration
    ros = types.ModuleType("launch_ros")
    ros_actions = types.ModuleType("launch_ros.actions")
    ros_actions.Node = type("Node", (_Recorder,), {})
    ros_actions.LifecycleNode = type("LifecycleNode", (_Recorder,), {})
    for name, mod in {"launch": launch, "launch.actions": actions, "launch.substitutions": subs,
                      "launch_ros": ros, "launch_ros.actions": ros_actions}.items():
        monkeypatch.setitem(sys.modules, name, mod)


def _launch_file_nodes(monkeypatch, args):
    _recording_launch_modules(monkeypatch)
    from beam_predictor.config import PACKAGE_ROOT
    path = PACKAGE_ROOT.parent / "launch" / "v2i.launch.py"
    spec = importlib.util.spec_from_file_location("v2i_launch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entities = module.generate_launch_description()
    declared = [e for e in entities if isinstance(e, tuple)]
    assert {d[0] for d in declared} == set(LAUNCH_ARGUMENTS) and all(d[2] for d in declared)
    env = {k: v for e in entities if isinstance(e, dict) for k, v in e.items()}
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"    # the launch sets what the runner sets
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == ros_env({})["FASTDDS_DEFAULT_PROFILES_FILE"]
    context = {name: default for name, (default, _) in LAUNCH_ARGUMENTS.items()} | args
    return [n for e in entities if callable(e) for n in e(context)]


@pytest.mark.parametrize("args", [{}, {"namespace": "bs1", "device": "cpu", "rate": "2.0", "rviz": "true"},
                                  {"bag": ""}, {"bag": "none"}, {"system": "pass"}, {"system": "both"}])
def test_launch_file_and_runner_start_the_same_graph(monkeypatch, tmp_path, args):
    launched = _launch_file_nodes(monkeypatch, args)
    specs = build_graph(args)
    runner = GraphRunner(specs, tmp_path, namespace=args.get("namespace", ""))
    assert [n.kwargs["name"] for n in launched] == [s.name for s in specs]
    for node, s in zip(launched, specs):
        assert node.kwargs["executable"] == s.executable and node.kwargs["package"] == s.package
        assert node.kwargs["remappings"] == list(s.remappings)
        assert node.kwargs["namespace"] == args.get("namespace", "")
        assert type(node).__name__ == ("LifecycleNode" if s.lifecycle else "Node")
        # every node of the graph but the player respawns, in ros2 launch as in the runner
        assert node.kwargs["respawn"] == s.respawn == (s.name != "bag_player" and not s.external)
    for s in runner.specs:
        node = next(n for n in launched if n.kwargs["name"] == s.name)
        params = tmp_path / f"{s.name}.params.yaml"
        params.write_text(yaml.safe_dump({"/**": {"ros__parameters": s.parameters}}))
        assert yaml.safe_load(params.read_text())["/**"]["ros__parameters"] == node.kwargs["parameters"][0]
        cmd = node_command(s, params, args.get("namespace", ""))
        assert cmd[cmd.index("-m") + 1] == s.module and f"__node:={s.name}" in cmd
        if args.get("namespace"):
            assert f"__ns:=/{args['namespace']}" in cmd
    assert all(s.external for s in specs if s not in runner.specs)


def test_graph_contents_follow_the_arguments():
    for no_bag in ("", "none", "None"):
        specs = {s.name: s for s in build_graph({"bag": no_bag})}
        assert "bag_player" not in specs and "llm_fusion" in specs
        # `ros2 bag play` offers the recorded best-effort QoS: the beamformer must match it
        assert specs["beamformer"].parameters["truth_reliable"] is False
        assert specs["llm_fusion"].parameters["use_sim_time"] is False
    specs = {s.name: s for s in build_graph({"checkpoint": "x.pt", "device": "cpu", "rate": "0"})}
    assert specs["llm_fusion"].parameters["checkpoint"] == "x.pt" and specs["llm_fusion"].lifecycle
    assert specs["bag_player"].parameters["rate"] == 0.0
    assert specs["beamformer"].parameters["report"] == ""          # -> $ROS_HOME/beam_predictor/closed_loop
    assert specs["beamformer"].parameters["truth_reliable"] is True
    specs = {s.name: s for s in build_graph({"site": "/m.json", "report": "/r"})}
    assert specs["yolo_tracker"].parameters["site"] == specs["llm_fusion"].parameters["site"] == "/m.json"
    assert specs["beamformer"].parameters["report"] == "/r"
    assert specs["bag_player"].parameters["use_sim_time"] is False
    # the shipped default: the four encoders in one node (config/v2i.yaml encoder_processes: one)
    assert specs["encoders"].parameters["use_sim_time"] is True and specs["encoders"].lifecycle
    assert specs["encoders"].parameters["modality"] == "image,radar,lidar,gps"
    assert not any(n.startswith("encoder_") for n in specs)
    specs = {s.name: s for s in build_graph({"encoder_processes": "per_modality"})}
    assert {s.parameters["modality"] for n, s in specs.items() if n.startswith("encoder_")} == \
        {"image", "radar", "lidar", "gps"} and "encoders" not in specs
    # lock-step: the player waits for each frame's acknowledgement, the synchronizers for its inputs
    specs = {s.name: s for s in build_graph({"lockstep": "true"})}
    assert specs["bag_player"].parameters["lockstep"] is True
    timeout = specs["bag_player"].parameters["lockstep_timeout"]
    assert specs["llm_fusion"].parameters["max_wait"] == timeout / 2     # half: the other is for fusing
    assert specs["yolo_tracker"].parameters["max_wait"] == timeout / 2
    assert build_graph()[0].parameters["lockstep"] is False
    with pytest.raises(ConfigError, match="needs a bag"):
        build_graph({"bag": "none", "lockstep": "true"})
    with pytest.raises(ConfigError, match="encoder_processes"):
        build_graph({"encoder_processes": "two"})
    specs = {s.name: s for s in build_graph({"runtime": "torch"})}
    assert {specs[n].parameters["runtime"] for n in ("yolo_tracker", "encoders", "llm_fusion")} == {"torch"}
    with pytest.raises(ConfigError, match="unknown launch argument"):
        build_graph({"bags": "x"})
    with pytest.raises(ConfigError, match="true/false"):
        build_graph({"rviz": "maybe"})


def test_remappings_from_the_graph_yaml(tmp_path):
    from beam_predictor.config import config_path
    doc = yaml.safe_load(config_path("v2i.yaml").read_text())
    doc["remappings"]["yolo_tracker"] = [["/bs/camera/image/compressed", "/car/cam/compressed"]]
    good = tmp_path / "v2i.yaml"
    good.write_text(yaml.safe_dump(doc))
    tracker = next(s for s in build_graph({}, good) if s.name == "yolo_tracker")
    assert tracker.remappings == (("/bs/camera/image/compressed", "/car/cam/compressed"),)


def test_parameters_come_from_a_ros2_parameters_file(tmp_path):
    from beam_predictor.config import config_path
    doc = yaml.safe_load(config_path("v2i.params.yaml").read_text())
    assert all(set(body) == {"ros__parameters"} for body in doc.values())     # the ROS 2 format
    doc["/**/llm_fusion"]["ros__parameters"]["max_wait"] = 0.3
    doc["/**"] = {"ros__parameters": {"device": "cuda:1", "use_sim_time": True}}   # every node
    doc["/car1/beamformer"] = {"ros__parameters": {"match_window": 9.0}}            # one namespace only
    qos_key = "qos_overrides./bs/mmwave/power.subscription.reliability"
    doc["/**/beamformer"]["ros__parameters"][qos_key] = "best_effort"                # rclpy's own
    mine = tmp_path / "mine.params.yaml"
    mine.write_text(yaml.safe_dump(doc, sort_keys=False))
    specs = {s.name: s for s in build_graph({"params_file": str(mine)})}
    assert specs["llm_fusion"].parameters["max_wait"] == 0.3
    assert specs["encoders"].parameters["device"] == "cuda:1"
    assert specs["beamformer"].parameters["match_window"] == 5.0
    assert specs["beamformer"].parameters[qos_key] == "best_effort"
    in_car1 = {s.name: s for s in build_graph({"params_file": str(mine), "namespace": "car1",
                                               "device": "cpu"})}
    assert in_car1["beamformer"].parameters["match_window"] == 9.0
    assert in_car1["encoders"].parameters["device"] == "cpu"                # a launch argument wins
    doc["/**/llm_fusion"]["ros__parameters"]["tolerence"] = 0.1
    mine.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="tolerence"):
        build_graph({"params_file": str(mine)})
    mine.write_text(yaml.safe_dump({"llm_fusion": {"max_wait": 0.3}}))
    with pytest.raises(ConfigError, match="ros__parameters"):
        build_graph({"params_file": str(mine)})


def test_cli_launch_takes_every_launch_argument():
    from beam_predictor.cli import build_parser
    args = build_parser().parse_args(["launch", "--bag", "b", "--use-sim-time", "true", "--namespace", "bs1"])
    expected = {k: v[0] for k, v in LAUNCH_ARGUMENTS.items()}
    expected.update(bag="b", use_sim_time="true", namespace="bs1")
    assert {k: getattr(args, k) for k in LAUNCH_ARGUMENTS} == expected


def test_replay_waits_for_every_reader_of_each_topic():
    from beam_predictor.runtime.config import wait_counts
    assert wait_counts("/a:2, /b,") == {"/a": 2, "/b": 1}
    with pytest.raises(ConfigError, match="/a:x"):
        wait_counts("/a:x")
    # the shipped checkpoint reads four encoders: the fix has two readers (tracker, GPS encoder), the
    # power one (beamformer), frame info one (beamformer); the same with one encoder node or four
    for processes in ("one", "per_modality"):
        specs = {s.name: s for s in build_graph({"encoder_processes": processes})}
        waits = wait_counts(specs["bag_player"].parameters["wait_topics"])
        assert waits == {"/bs/camera/image/compressed": 2, "/ue/gps/fix": 2, "/bs/mmwave/power": 1,
                         "/deepsense/frame_info": 1, "/bs/radar/cube": 1, "/bs/lidar/points": 1}
    assert sorted(n for n in specs if n.startswith("encoder_")) == \
        ["encoder_gps", "encoder_image", "encoder_lidar", "encoder_radar"]
