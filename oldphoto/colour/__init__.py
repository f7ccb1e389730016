"""Colourisation: Lab maths, data loading, training, evaluation and the shared pipeline."""

from oldphoto.colour.functions import colorize

__all__ = ["colorize"]
