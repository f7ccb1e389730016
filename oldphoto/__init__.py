"""oldphoto: restore old photos with a pipe of image filters."""

__version__ = "0.1.0"
