"""What a plugin author imports: ``from oldphoto.api import Filter, Option, Frame, hookimpl``."""

from oldphoto.errors import InputError, OldphotoError
from oldphoto.filter import Filter, Option
from oldphoto.frame import ALPHA, NOISE_MASK, ORIGINAL, TRUE_MASK, Frame
from oldphoto.hookspecs import hookimpl

__all__ = [
    "ALPHA",
    "NOISE_MASK",
    "ORIGINAL",
    "TRUE_MASK",
    "Filter",
    "Frame",
    "InputError",
    "OldphotoError",
    "Option",
    "hookimpl",
]
