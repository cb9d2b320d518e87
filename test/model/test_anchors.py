"""The non-learned anchors by hand, and the evaluation-only frame categories."""
import numpy as np

from beam_predictor.model.anchors import CalibratedAngle, geometry, linear, persistence
from beam_predictor.model.eval_labels import LOS_IN_FOV, LOS_OUT_FOV, NLOS, UNKNOWN, frame_category
from beam_predictor.window import KIN
from model_helpers import SITE, synthetic_windows, tiny_config


def windows(past, psi_deg, beam=None):
    cfg = tiny_config(task={"history": len(past[0]), "horizon": 2, "input_len": 8})
    w = synthetic_windows(len(past), cfg)
    w.past_beam = np.asarray(past)
    w.inputs["kin"][..., KIN["psi"]] = np.radians(np.asarray(psi_deg, float))
    if beam is not None:
        w.beam = np.asarray(beam)
    return w


def test_persistence_and_linear_extrapolation():
    w = windows([[10, 12, 14], [30, 30, 30]], [[0, 0, 0], [0, 0, 0]])
    assert persistence(w, 64).argmax(-1).tolist() == [[14, 14, 14], [30, 30, 30]]
    # 2 beams per frame: offsets 0, 1, 2 -> 14, 16, 18
    assert linear(w, 64).argmax(-1).tolist() == [[14, 16, 18], [30, 30, 30]]


def test_geometry_peaks_at_the_steered_beam_and_is_flat_without_kinematics():
    angles = np.degrees(SITE.angles_rad)
    w = windows([[0, 0, 0]] * 2, [[angles[5], angles[40], angles[63]], [0, 0, 0]])
    w.inputs["kin_missing"][1] = True
    g = geometry(w, SITE)
    assert g[0].argmax(-1).tolist() == [5, 40, 63]
    assert (g[1] == 0).all()


def test_calibrated_anchor_learns_a_squint_from_training_windows():
    angles = np.degrees(SITE.angles_rad)
    train = windows([[0, 0, 0]] * 2, [[angles[10], angles[20], angles[30]]] * 2, beam=[[11, 21, 31]] * 2)
    test = windows([[0, 0, 0]], [[angles[20], angles[30], angles[50]]])
    scores = CalibratedAngle(SITE).fit(train)(test)
    # seen angles give the tallied label; an unseen one falls back to the geometry
    assert scores[0].argmax(-1).tolist() == [21, 31, 50]


def test_frame_categories_from_the_twin_columns():
    meta = {"base_station_array": [0.0, -8.0, 5.0]}
    assert frame_category({"los": "0", "ue_x": "1", "ue_y": "0"}, meta, SITE) == NLOS
    assert frame_category({"los": "1", "ue_x": "2", "ue_y": "0"}, meta, SITE) == LOS_IN_FOV
    assert frame_category({"los": "1", "ue_x": "30", "ue_y": "0"}, meta, SITE) == LOS_OUT_FOV
    assert frame_category({}, meta, SITE) == UNKNOWN
