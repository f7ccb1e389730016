"""oldphoto: restore old photos with a pipe of image filters.

From Python::

    import oldphoto
    frame = oldphoto.load("scan.png")
    frame = oldphoto.run("detect", frame)
    frame = oldphoto.run("denoise-lr", frame)
    oldphoto.save(oldphoto.run("colorize-cnn", frame), "restored.png")
    oldphoto.filters()          # every registered filter, plugins included

and the domain functions, image first: :func:`oldphoto.denoise.detect_noise`,
:func:`oldphoto.denoise.denoise_lr`, :func:`oldphoto.colour.colorize`.
Importing oldphoto does not import torch; the filters that need it do.
"""

from oldphoto import filters  # the package is callable: oldphoto.filters() lists the filters
from oldphoto.frame import Frame
from oldphoto.library import load, run, save

__version__ = "0.1.0"

__all__ = ["Frame", "__version__", "filters", "load", "run", "save"]
