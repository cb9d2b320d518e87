"""The topic contract is consistent and every message type exists in ROS 2 Kilted."""
import numpy as np

from beam_predictor import contract as C
from beam_predictor.bag.messages import typestore


def test_topics_unique_and_typed():
    names = [t.name for t in C.ALL_DATA_TOPICS]
    assert len(names) == len(set(names))
    for t in C.ALL_DATA_TOPICS:
        assert t.msgtype in typestore().types, t.msgtype
        assert t.name.startswith("/") and t.frame_id and t.doc


def test_codebook_spans_field_of_view():
    a = np.degrees(C.codebook_angles_rad())
    assert len(a) == 64 and a[0] == -45.0 and abs(a[-1] - 45.0) < 1e-9
    assert np.allclose(np.diff(a), 90.0 / 63)


def test_sensor_qos_is_best_effort_and_bs_latched():
    assert C.CAMERA.qos.reliability == "best_effort" and C.CAMERA.qos.depth <= 5
    assert C.BS_GPS.qos.durability == "transient_local"
