"""``python -m codecbench``."""

import sys

from codecbench.cli import main

sys.exit(main())
