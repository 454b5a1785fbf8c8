"""``python -m digitcnn``: see :mod:`digitcnn.cli`."""

import sys

from digitcnn.cli import main

if __name__ == "__main__":  # not when a process it spawns imports it again (see nondigits.generate_elsewhere)
    sys.exit(main())
