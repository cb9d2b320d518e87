"""The fusion node over real DDS (in-process): stamps, silent sensors, out-of-order input, restarts."""
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point32, PolygonStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, NavSatFix
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory

from beam_predictor import contract
from beam_predictor.model import checkpoint
from beam_predictor.model.predictor import BeamPredictor
from beam_predictor.nodes.common import feature_msg, stamp_ns
from beam_predictor.nodes.fusion_node import FusionNode
from beam_predictor.physics.geo import enu_to_latlon
from model_helpers import SITE, tiny_config
from ros_helpers import overrides, spin_for, spin_until

H = 3
MODS = ("image", "gps")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    cfg = tiny_config(task={"history": H, "horizon": 2, "input_len": H}, fusion={"modalities": list(MODS)},
                      pa={"patch_len": 2, "stride": 1})
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    checkpoint.save(path, BeamPredictor(cfg, num_codewords=4).eval(),
                    checkpoint.CheckpointMeta(pa_codebook=np.linspace(0, 3, 8).reshape(4, 2), site=SITE))
    return str(path)


class Feeder(Node):
    def __init__(self):
        super().__init__("test_feeder")
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.pubs = {m: self.create_publisher(Image, contract.feature_topic(m).name, reliable) for m in MODS}
        self.box = self.create_publisher(PolygonStamped, contract.UE_BOX.name, reliable)
        self.fix = self.create_publisher(NavSatFix, contract.UE_GPS.name, reliable)
        self.commands, self.diagnostics = [], []
        self.create_subscription(JointTrajectory, contract.BEAM_COMMAND.name, self.commands.append, 50)
        self.create_subscription(DiagnosticArray, contract.DIAGNOSTICS.name, self.diagnostics.append, 50)

    def frame(self, k: int, skip=(), east=None) -> int:
        t = 1_000_000_000 + k * 100_000_000
        header = Header(frame_id="x")
        header.stamp.sec, header.stamp.nanosec = divmod(t, 1_000_000_000)
        for m in MODS:
            if m not in skip:
                self.pubs[m].publish(feature_msg(header, np.full(16, 0.1 * k, np.float32)))
        box = PolygonStamped(header=header)
        box.polygon.points = [Point32(x=0.1, y=0.2), Point32(x=0.3, y=0.4)]
        self.box.publish(box)
        if "fix" not in skip:                  # the UE drives east at 10 m/s, 12 m in front of the array
            lat, lon = enu_to_latlon(-5.0 + k if east is None else east, 12.0, SITE.bs_latlon)
            self.fix.publish(NavSatFix(header=header, latitude=float(lat), longitude=float(lon)))
        return t

    def command_stamps(self):
        return [stamp_ns(c.header) for c in self.commands]


def start(ros, ckpt, **params):
    fusion = FusionNode(**overrides(checkpoint=ckpt, max_wait=0.1, **params))
    feeder = Feeder()
    ros.add_node(fusion)
    ros.add_node(feeder)
    spin_for(ros, 1.0)                                   # discovery
    return fusion, feeder


def feed(ros, feeder, frames, skip=(), wait=0.4, east=None):
    stamps = []
    for k in frames:
        stamps.append(feeder.frame(k, skip, east))
        spin_for(ros, wait)
    return stamps


def test_one_command_per_frame_after_history_stamped_with_the_input(ros, ckpt):
    _, feeder = start(ros, ckpt)
    stamps = feed(ros, feeder, range(8))
    spin_until(ros, lambda: len(feeder.commands) >= 8 - (H - 1), 3.0)
    assert feeder.command_stamps() == stamps[H - 1:]
    cmd = feeder.commands[-1]
    assert cmd.joint_names[:2] == ["beam", "beam_angle"] and "pa_2" in cmd.joint_names
    assert len(cmd.points) == 3                                          # offsets 0..T
    values = dict(zip(cmd.joint_names, cmd.points[0].positions))
    assert values["beam"] == values["beam_top1"]
    assert values["prob_top1"] >= values["prob_top2"] >= values["prob_top3"]
    assert cmd.points[2].time_from_start.nanosec == 200_000_000


def test_silent_modality_degrades_instead_of_stalling(ros, ckpt):
    _, feeder = start(ros, ckpt)
    stamps = feed(ros, feeder, range(5)) + feed(ros, feeder, range(5, 10), skip=("gps",))
    spin_until(ros, lambda: len(feeder.commands) >= 10 - (H - 1), 3.0)
    assert feeder.command_stamps() == stamps[H - 1:]
    spin_until(ros, lambda: any(kv.key == "missing_gps" and kv.value == "5" for d in feeder.diagnostics
                                for s in d.status for kv in s.values), 3.0)


def diagnostic(feeder, key):
    values = [kv.value for d in feeder.diagnostics for s in d.status for kv in s.values if kv.key == key]
    return values[-1] if values else None


def test_silent_or_jumping_gps_degrades_and_is_counted(ros, ckpt):
    _, feeder = start(ros, ckpt)
    stamps = feed(ros, feeder, range(4)) + feed(ros, feeder, [4, 5], skip=("fix",))
    stamps += feed(ros, feeder, [6], east=400.0)                  # a fix 400 m off the track
    stamps += feed(ros, feeder, [7])
    spin_until(ros, lambda: len(feeder.commands) >= 8 - (H - 1), 3.0)
    assert feeder.command_stamps() == stamps[H - 1:]
    spin_until(ros, lambda: diagnostic(feeder, "gps_jumps_rejected") == "1"
               and diagnostic(feeder, "missing_fix") == "2", 3.0)


def test_out_of_order_frame_is_dropped_without_harm(ros, ckpt):
    fusion, feeder = start(ros, ckpt)
    stamps = feed(ros, feeder, range(5))
    feed(ros, feeder, [1])                                # an old stamp arrives late
    stamps += feed(ros, feeder, [5, 6])
    spin_until(ros, lambda: len(feeder.commands) >= 5, 3.0)
    assert feeder.command_stamps() == stamps[H - 1:]
    assert fusion.sync.stats.late >= 1


def test_restarted_fusion_node_recovers_after_h_frames(ros, ckpt):
    fusion, feeder = start(ros, ckpt)
    feed(ros, feeder, range(4))
    ros.remove_node(fusion)
    fusion.destroy_node()
    spin_for(ros, 0.3)
    restarted = FusionNode(**overrides(checkpoint=ckpt, max_wait=0.1))
    ros.add_node(restarted)
    spin_for(ros, 1.0)
    before = len(feeder.commands)
    stamps = feed(ros, feeder, range(4, 10))
    spin_until(ros, lambda: len(feeder.commands) >= before + 6 - (H - 1), 3.0)
    assert feeder.command_stamps()[before:] == stamps[H - 1:]


def test_bad_checkpoint_fails_configure_and_names_the_file(ros, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"nope")
    with pytest.raises(RuntimeError, match="broken.pt"):      # autostart: the process exits naming it
        FusionNode(**overrides(checkpoint=str(bad)))
    node = FusionNode(**overrides(checkpoint=str(bad), autostart=False))
    ros.add_node(node)
    node.trigger_configure()
    assert node.predictor is None and "broken.pt" in node.configure_error
