"""``python -m digitcnn``: see :mod:`digitcnn.cli`."""

import sys

from digitcnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
