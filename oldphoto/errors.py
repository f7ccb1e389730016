"""Errors that end as one line on stderr, never a traceback."""


class OldphotoError(Exception):
    """A problem the user can fix; its message is shown as is, on one line."""


class InputError(OldphotoError):
    """An input (file, folder, stream) cannot be read; the message names it."""
