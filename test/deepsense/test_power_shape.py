"""Power-shape statistics on hand-computed vectors."""
import numpy as np
import pytest

from beam_predictor.deepsense.power_shape import main_lobe, shape_stats


def test_hand_computed_shape():
    p = np.full(64, 1e-4)
    p[30:35] = [1e-3, 5e-3, 1e-2, 5e-3, 1e-3]
    p[36] = 2e-4                      # a local rise beyond the first minimum: the strongest sidelobe
    p[35] = 1e-4 / 2
    assert main_lobe(p) == (29, 35)
    st = shape_stats(p)
    assert st["peak_to_median_db"][0] == pytest.approx(20.0)
    assert st["sidelobe_level_db"][0] == pytest.approx(10 * np.log10(2e-4 / 1e-2))
    assert st["dynamic_range_db"][0] == pytest.approx(10 * np.log10(1e-2 / 5e-5))
