"""`python -m cnnlab ...`: see cnnlab/cli/."""

import sys

from cnnlab.cli import main

sys.exit(main())
