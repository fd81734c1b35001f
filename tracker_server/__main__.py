"""``python -m tracker_server``: the same as ``tracker server``."""

import sys

from tracker_server.cli import main

sys.exit(main())
