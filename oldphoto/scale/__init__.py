"""Scaling out: several filters in one process (``chain``), several processes (``--jobs``)."""
