"""``python -m headwater``: the package's command line (``headwater._cli``)."""

import sys

from ._cli import main

# Guarded: tools that import every module of the package (mypy's stubtest) must not run the CLI.
if __name__ == "__main__":
    sys.exit(main())
