"""Beam-prediction models: M2BeamLLM (paper 000: alignment, fusion, LLM backbone, heads, baselines),
MLM-BP and its baselines (paper 002, ``paper002``), and paper 004's sparse-sweep predictors
(``sweep`` data and anchors, ``sweep_nets``, ``sweep_train``, ``sweep_config``)."""
