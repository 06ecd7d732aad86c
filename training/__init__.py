"""What learning needs: datasets, fitting, thresholds, metrics and baselines.

May import :mod:`newstag.model`; the reverse never happens.
"""
from .train import TrainSettings, fit, train

__all__ = ["TrainSettings", "fit", "train"]
