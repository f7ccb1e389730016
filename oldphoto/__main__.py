"""``python -m oldphoto`` is the same as the ``oldphoto`` command."""

from oldphoto.cli.main import main

if __name__ == "__main__":
    main()
