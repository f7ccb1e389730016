"""The built-in filters, one module each, registered through the ``oldphoto`` entry points.

Each module adapts a domain function to the Filter contract: ``filters/NAME.py``
names the function that does the work (in :mod:`oldphoto.denoise`,
:mod:`oldphoto.colour` or :mod:`oldphoto.aging`).

The package is also callable, so that ``oldphoto.filters()`` lists every
registered filter: a plain function of that name would be replaced by this
package as soon as one of its modules is imported.
"""

from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self) -> dict[str, str]:
        """Every registered filter, built-in or plugin, by name, with its summary."""
        from oldphoto.library import filters

        return filters()


sys.modules[__name__].__class__ = _CallablePackage
