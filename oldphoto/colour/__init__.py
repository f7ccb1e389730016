"""Colourisation: Lab maths, data loading, training, evaluation and the shared pipeline."""
