"""Benches: quality and speed against baselines, the paper table, plots and contact sheets."""
