"""Impulse-noise removal: the paper's linear regression, its stronger default, and baselines."""
