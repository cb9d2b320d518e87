"""Node parameters (the dynamic ones change the running node, every other one is read-only) and
the model nodes' lifecycle.

`ros2 param set` goes through the node's set_parameters service into the same
``set_parameters`` call used here.
"""
from rclpy.parameter import Parameter

from beam_predictor.nodes.beamformer_node import BeamformerNode
from beam_predictor.nodes.fusion_node import FusionNode
from ros_helpers import overrides


def test_dynamic_parameters_change_the_node_and_the_rest_are_refused(ros, tmp_path):
    node = BeamformerNode(**overrides(report=str(tmp_path / "r")))
    try:
        ok, = node.set_parameters([Parameter("match_window", value=2.5)])
        assert ok.successful and node.cfg.match_window == 2.5
        bad, = node.set_parameters([Parameter("match_window", value="long")])
        assert not bad.successful and node.cfg.match_window == 2.5
        refused, = node.set_parameters([Parameter("report", value=str(tmp_path / "elsewhere"))])
        assert not refused.successful and "read-only" in refused.reason
        assert node.cfg.report == str(tmp_path / "r")
    finally:
        node.destroy_node()


def test_fusion_synchronizer_follows_max_wait(ros):
    node = FusionNode(**overrides(autostart=False))
    try:
        node.trigger_configure()
        results = node.set_parameters([Parameter("max_wait", value=0.4), Parameter("tolerance", value=0.03)])
        assert all(r.successful for r in results)
        assert (node.sync.max_wait_ns, node.sync.tolerance_ns) == (400_000_000, 30_000_000)
        refused, = node.set_parameters([Parameter("checkpoint", value="other.pt")])
        assert not refused.successful
    finally:
        node.destroy_node()


def test_rcl_reads_the_shipped_parameters_file_as_the_graph_does():
    """`ros2 run ... --params-file config/v2i.params.yaml` gives each node what the launch gives it."""
    import rclpy
    from rclpy.node import Node

    from beam_predictor.config import config_path
    from beam_predictor.runtime.graph import build_graph
    context = rclpy.Context()
    rclpy.init(args=["x", "--ros-args", "--params-file", str(config_path("v2i.params.yaml"))],
               context=context)
    try:
        for namespace in ("", "car1"):
            for spec in build_graph({"namespace": namespace}):
                if spec.external:
                    continue
                node = Node(spec.name, namespace=namespace, context=context,
                            automatically_declare_parameters_from_overrides=True)
                from_rcl = {k: p.value for k, p in node.get_parameters_by_prefix("").items()}
                node.destroy_node()
                ros_own = ("use_sim_time", "start_type_description_service")
                set_by_file = {k: v for k, v in from_rcl.items() if k not in ros_own}
                assert set_by_file, spec.name
                for key, value in set_by_file.items():
                    graph_value = spec.parameters[key]
                    if key in ("weights", "checkpoint", "twin_config", "site", "bag"):
                        assert str(graph_value).endswith(value), (spec.name, key)   # resolved path
                    else:
                        assert graph_value == value, (spec.name, key, graph_value, value)
    finally:
        rclpy.try_shutdown(context=context)


def test_model_nodes_are_lifecycle_nodes_that_load_in_configure(ros):
    from beam_predictor.nodes.encoder_node import EncoderNode
    node = EncoderNode(**overrides(modality="gps", autostart=False))
    try:
        assert node.stages == {} and node.handles == []              # nothing loaded yet
        node.trigger_configure()
        assert set(node.stages) == {"gps"} and node.handles == []
        node.trigger_activate()
        # the diagnostics timer, the subscription and the newest-frame worker thread
        assert len(node.handles) == 3 and node.count_publishers("/bp/features/gps") == 1
        worker = node.stages["gps"].pending
        assert worker._thread.is_alive()
        node.trigger_deactivate()
        assert not worker._thread.is_alive()
        node.trigger_cleanup()
        assert node.stages == {} and node.handles == []
        assert node.count_publishers("/bp/features/gps") == 0
    finally:
        node.destroy_node()
    bad = EncoderNode(**overrides(modality="gps", checkpoint="missing.pt", autostart=False))
    try:
        bad.trigger_configure()
        assert "missing.pt" in bad.configure_error
    finally:
        bad.destroy_node()
