import sys

from connectcheck.cli import main

sys.exit(main())
