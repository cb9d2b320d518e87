"""The DeepSense 6G dataset layout: typed frames, a streaming reader and a writer."""
from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.deepsense.frame import Frame, Modality, best_beam
from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader

__all__ = ["DeepSenseError", "Frame", "Modality", "ReaderConfig", "ScenarioReader", "best_beam"]
