"""`python -m cnnlab ...`: see cnnlab/cli.py."""

import sys

from cnnlab.cli import main

sys.exit(main())
