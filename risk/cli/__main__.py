"""`python -m risk.cli`: the `risk` command."""

import sys

from risk.cli import main

sys.exit(main())
