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
from beam_predictor.twin.config import MOTION_PRESETS, TwinConfig
from beam_predictor.twin.generate import array_weights, generate, measurement_rng
from beam_predictor.twin.gps import GPS_PRESETS
from beam_predictor.twin.scenes import SCENES
from beam_predictor.twin.variants import regps

__all__ = ["GPS_PRESETS", "MOTION_PRESETS", "SCENES", "TwinConfig", "array_weights", "generate",
           "measurement_rng", "regps"]
