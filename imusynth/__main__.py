"""``python -m imusynth`` (and ``torchrun -m imusynth``) runs the command line."""

import sys

from imusynth.cli import main

sys.exit(main())
