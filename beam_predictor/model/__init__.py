"""Beam-prediction models: M2BeamLLM (paper 000: alignment, fusion, LLM backbone, heads, baselines),
MLM-BP and its baselines (paper 002, ``paper002``), paper 004's sparse-sweep predictors
(``sweep`` data and anchors, ``sweep_nets``, ``sweep_train``, ``sweep_config``) and paper 003's
LLM-PASS for one or several users (``pass_data``, ``pass_net``, ``pass_train``, ``pass_eval``,
``pass_config``)."""
