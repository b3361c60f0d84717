"""``python -m project_architect_db``: the same command line as ``project-architect-db``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
