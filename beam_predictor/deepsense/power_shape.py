"""Shape statistics of 64-beam power vectors (to compare the twin with real DeepSense data)."""
from __future__ import annotations

import numpy as np


def main_lobe(p: np.ndarray) -> tuple[int, int]:
    """[lo, hi] beam range of the main lobe: from the peak down to the first minimum each side."""
    k = int(np.argmax(p))
    lo = k
    while lo > 0 and p[lo - 1] < p[lo]:
        lo -= 1
    hi = k
    while hi < len(p) - 1 and p[hi + 1] < p[hi]:
        hi += 1
    return lo, hi


def shape_stats(power: np.ndarray) -> dict[str, np.ndarray]:
    """Per vector: peak-to-median ratio, sidelobe level and dynamic range, all in dB.

    The sidelobe level is the strongest beam outside the main lobe relative to the peak
    (-inf-free: a vector whose main lobe spans every beam gets the minimum instead).
    """
    power = np.atleast_2d(np.asarray(power, dtype=np.float64))
    pmr, sll, dyn = [], [], []
    for p in power:
        peak = p.max()
        lo, hi = main_lobe(p)
        outside = np.concatenate([p[:lo], p[hi + 1:]])
        side = outside.max() if outside.size else p.min()
        pmr.append(10 * np.log10(peak / np.median(p)))
        sll.append(10 * np.log10(side / peak))
        dyn.append(10 * np.log10(peak / p.min()))
    return {"peak_to_median_db": np.array(pmr), "sidelobe_level_db": np.array(sll),
            "dynamic_range_db": np.array(dyn)}
