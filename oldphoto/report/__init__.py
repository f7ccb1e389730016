"""Evaluation and reporting: the ``score`` stage, contact sheets, the paper bench and plots."""
