"""Restoration of real scans: blind grain denoising, dust and scratch finding, filling.

:mod:`.model` is the learned grain denoiser, :mod:`.training` its trainer,
:mod:`.estimate` the blind noise-level estimate, :mod:`.damage` finds dust and
scratches, and :mod:`.pipeline` puts them together as ``oldphoto restore``.
"""
