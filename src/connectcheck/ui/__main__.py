"""``python -m connectcheck.ui``: the tray app (what start at login runs from a source install)."""

import sys

from connectcheck.ui.app import run_app

sys.exit(run_app(sys.argv[1:]))
