"""Beam-prediction models (paper 000, M2BeamLLM): alignment, fusion, LLM backbone, heads, baselines."""
