"""``python -m connectcheck`` and the installed programs' entry point (:func:`run`).

Small on purpose: Ctrl-C while the rest of connectcheck is still loading (the first few tenths
of a second) ends it quietly with exit code 130, not with a traceback.
"""

import sys


def run() -> int:
    """Load the command line and run it; Ctrl-C at any moment is a quiet exit 130."""
    try:
        from connectcheck.cli import main

        return main()
    except KeyboardInterrupt:
        try:
            print("\nconnectcheck: cancelled", file=sys.stderr)
        except (OSError, ValueError):
            pass  # the terminal is gone
        return 130


if __name__ == "__main__":
    sys.exit(run())
