"""The 200 real DeepSense scenario 17 power files parse; their best beam is the static one."""
from collections import Counter

import numpy as np
import pytest

from beam_predictor.deepsense import files
from beam_predictor.deepsense.frame import best_beam

S17 = "deepsense_s17_power"


def test_real_scenario17_power_files(shared_data):
    folder = shared_data / S17
    if not folder.is_dir():
        pytest.skip(f"real data not present at {folder} (set BEAM_PREDICTOR_SHARED_DATA)")
    paths = sorted(folder.glob("mmWave_power_*.txt"))
    assert len(paths) == 200
    powers = np.stack([files.read_power(p) for p in paths])
    assert powers.shape == (200, 64) and powers.dtype == np.float32
    assert np.isfinite(powers).all() and (powers > 0).all()
    assert 1e-6 < powers.min() and powers.max() < 1e-1          # linear, ~3e-5 .. 1e-2
    beams = Counter(best_beam(p)[0] for p in powers)
    top_beam, top_count = beams.most_common(1)[0]
    assert top_beam == 33 and top_count > 100                    # static transmitter
    assert sum(n for b, n in beams.items() if 32 <= b <= 36) >= 190   # 196 of 200 are within +-3 beams
