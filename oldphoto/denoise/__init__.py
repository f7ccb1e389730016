"""Impulse-noise removal: the paper's linear regression, its stronger default, and baselines."""

from oldphoto.denoise.functions import denoise_lr, detect_noise

__all__ = ["denoise_lr", "detect_noise"]
