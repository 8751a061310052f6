"""The installer's modules (installer/bundle.py, icons.py, rthook.py) are scripts beside the spec,
not a package: make them importable for these tests."""

import sys
from pathlib import Path

INSTALLER = Path(__file__).resolve().parents[2] / "installer"
if str(INSTALLER) not in sys.path:
    sys.path.insert(0, str(INSTALLER))
