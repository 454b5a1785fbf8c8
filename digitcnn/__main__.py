"""``python -m digitcnn``: see :mod:`digitcnn.cli`."""

import sys

from digitcnn.cli import main

sys.exit(main())
