"""The built-in filters, each registered through the ``oldphoto`` entry points."""
