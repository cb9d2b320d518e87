"""Ray-traced V2I digital twin (Sionna RT) that writes DeepSense-format scenarios.

Only :mod:`beam_predictor.twin.scene` imports Sionna/Mitsuba; channel, radar, camera,
LiDAR, traffic and pinching-antenna models are plain numpy.
"""
