"""Ray-traced V2I digital twin (Sionna RT) that writes DeepSense-format scenarios.

Only :mod:`beam_predictor.twin.scene` imports Sionna/Mitsuba; channel, radar, camera,
LiDAR, traffic, motion, GPS and pinching-antenna models are plain numpy.

* :func:`generate`: a scenario from a :class:`TwinConfig` (Ray workers or one process).
* :func:`regps`: the same scenario with another GPS receiver preset, without re-rendering.
* :data:`MOTION_PRESETS`, :data:`GPS_PRESETS`, :data:`SCENES`: what the config can name.
* :func:`array_weights`, :func:`measurement_rng`: what re-synthesises the power files from
  the stored channels (with :func:`beam_predictor.physics.array.beam_power`).

Configuration errors are :class:`beam_predictor.config.ConfigError`, naming the key.
"""
import importlib

# Resolved on first use (PEP 562): the beamformer node imports twin.config, and importing
# the generator (tqdm, the DeepSense writer, the pass renderer) would add half a second to
# its start-up.
_PUBLIC = {"MOTION_PRESETS": "config", "TwinConfig": "config", "array_weights": "generate",
           "generate": "generate", "measurement_rng": "generate", "GPS_PRESETS": "gps", "SCENES": "scenes",
           "regps": "variants"}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
